"""The workplace environment: isolated per-session databases and state-based grading against
a real resources server, NeMo Gym's workplace rows through `gym rollout` unchanged, and the
bundled data."""

from __future__ import annotations

import asyncio
import pickle
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from environments.workplace.company import SIZES, build
from environments.workplace.generate import call as reference
from environments.workplace.generate import generate_tasks
from environments.workplace.make_solutions import (
    CHEATS,
    SOLUTIONS,
    TASKS,
    bundled,
    cheats,
    solutions,
)
from environments.workplace.server import Call
from gym_core.cli import main
from gym_core.collect import read_results
from gym_core.http_client import HttpClient
from gym_core.hub.solutions import cheats_jsonl, solutions_jsonl, tasks_jsonl
from gym_core.settings import ResourcesServerSettings
from tests.conftest import resources_server, scripted_engine
from tests.fixtures.scripted_rules import calls_then_done
from tests.fixtures.sessions import call, open_session, verify

PEER_ROWS = Path(__file__).parent / "peer_rows" / "workplace_assistant.jsonl"
SEND = "email_send_email"
UPDATE = "customer_relationship_manager_update_customer"


def peer_rows() -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in PEER_ROWS.read_bytes().splitlines()]


def reassign_task() -> dict[str, Any]:
    """A bundled hard task whose reference reassigns several customers."""
    return next(
        row
        for row, _ in bundled()
        if len(row["ground_truth"]) >= 3 and row["ground_truth"][0]["name"] == UPDATE
    )


def calls_of(row: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(c["name"], orjson.loads(c["arguments"])) for c in row["ground_truth"]]


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    settings = ResourcesServerSettings(
        name="workplace", server="environments.workplace.server:WorkplaceServer", cpu_workers=1
    )
    with resources_server(settings) as url:
        yield url


async def test_concurrent_sessions_never_see_each_others_writes(url: str) -> None:
    row = reassign_task()
    [(_, first), *_] = calls_of(row)
    customer = first["customer_id"]

    async def solve(session: str) -> None:
        await asyncio.gather(*(call(http, url, session, n, **a) for n, a in calls_of(row)))

    async def wipe(session: str) -> None:
        await call(
            http,
            url,
            session,
            "customer_relationship_manager_delete_customer",
            customer_id=customer,
        )

    async with HttpClient(timeout_s=30) as http:
        sessions = await asyncio.gather(
            *(open_session(http, url, row, "workplace") for _ in range(6))
        )
        await asyncio.gather(*(solve(s) for s in sessions[:3]), *(wipe(s) for s in sessions[3:5]))
        search = "customer_relationship_manager_search_customers"
        untouched = await call(http, url, sessions[5], search, page_size=50, page=1)
        verdicts = await asyncio.gather(*(verify(http, url, s) for s in sessions))
    assert [v["reward"] for v in verdicts] == [1.0, 1.0, 1.0, 0.0, 0.0, 0.0]
    assert verdicts[0]["metrics"]["tool_calls_made"] == {UPDATE: len(row["ground_truth"])}
    assert verdicts[3]["metrics"]["tables_differ"] == ["customers"]
    assert customer in [c["customer_id"] for c in orjson.loads(untouched["output"])]


async def test_order_does_not_matter_but_an_extra_email_costs_the_reward(url: str) -> None:
    notes = [("raj.patel@atlas.com", "One"), ("lena.schmidt@atlas.com", "Two")]
    truth = [reference(SEND, recipient=r, subject=s, body="Hi.") for r, s in notes]
    row = {"id": "two-emails", "prompt": "Send two emails.", "ground_truth": truth}
    async with HttpClient(timeout_s=30) as http:
        reversed_order, extra = (
            await open_session(http, url, row, "workplace"),
            await open_session(http, url, row, "workplace"),
        )
        for session in (reversed_order, extra):
            for recipient, subject in reversed(notes):
                await call(
                    http, url, session, SEND, recipient=recipient, subject=subject, body="Hi."
                )
        await call(
            http, url, extra, SEND, recipient="raj.patel@atlas.com", subject="PS", body="Hi."
        )
        rewards = [await verify(http, url, s) for s in (reversed_order, extra)]
    assert [r["reward"] for r in rewards] == [1.0, 0.0]
    assert rewards[1]["metrics"]["tables_differ"] == ["emails"]


async def test_bad_calls_are_refused_naming_the_field_and_counted(url: str) -> None:
    row = reassign_task()
    async with HttpClient(timeout_s=30) as http:
        session = await open_session(http, url, row, "workplace")
        status = await call(
            http, url, session, UPDATE, customer_id="00000001", field="status", new_value="Maybe"
        )
        missing = await call(http, url, session, "email_reply_email", email_id="99999999", body="x")
        late = await call(
            http,
            url,
            session,
            "calendar_create_event",
            event_name="Late",
            participant_email="raj.patel@atlas.com",
            event_start="2023-12-01 17:30:00",
            duration="60",
        )
        with pytest.raises(Exception, match="customer_id"):
            await call(http, url, session, UPDATE, field="status", new_value="Won")
        verdict = await verify(http, url, session)
        bad = {**row, "ground_truth": [{"name": SEND, "arguments": '{"recipient": "nobody"}'}]}
        with pytest.raises(Exception, match=re.escape("task.ground_truth[0]")):
            await open_session(http, url, bad, "workplace")
    assert status["is_error"]
    assert "status must be one of" in status["output"]
    assert missing["is_error"]
    assert "email_id '99999999'" in missing["output"]
    assert late["is_error"]
    assert "18:00" in late["output"]
    assert verdict["reward"] == 0.0
    assert verdict["metrics"]["invalid_calls"] == 3


async def test_values_are_stored_canonically_found_in_any_case_and_paged(url: str) -> None:
    row = reassign_task()
    search = "customer_relationship_manager_search_customers"
    async with HttpClient(timeout_s=30) as http:
        session = await open_session(http, url, row, "workplace")
        updated = await call(http, url, session, UPDATE, customer_id="7", field="status",
                             new_value="won")  # fmt: skip
        won = await call(http, url, session, search, status="WON", page_size=50)
        first, second = [
            await call(http, url, session, search, page=page, page_size=3) for page in (1, 2)
        ]
        event = await call(http, url, session, "calendar_create_event", event_name="Sync",
                           participant_email="Raj.Patel@atlas.com",
                           event_start="2023-12-01 09:00:00", duration="30")  # fmt: skip
    assert orjson.loads(updated["output"])["status"] == "Won"
    assert "00000007" in [c["customer_id"] for c in orjson.loads(won["output"])]
    ids = [c["customer_id"] for page in (first, second) for c in orjson.loads(page["output"])]
    assert ids == [f"{n:08d}" for n in range(6)]
    made = orjson.loads(event["output"])
    assert (made["event_id"], made["participant_email"]) == ("00000060", "raj.patel@atlas.com")


def test_a_company_survives_pickling_as_shared_sessions_keep_it() -> None:
    company = build(7, SIZES)
    company.db.execute("DELETE FROM customers WHERE customer_id = '00000003'")
    company.calls["customer_relationship_manager_delete_customer"] += 1
    copy = pickle.loads(pickle.dumps(company))
    assert copy.snapshot() == company.snapshot()
    assert copy.calls == company.calls


def test_the_peer_rows_run_unchanged_and_are_graded_as_the_peer_grades(tmp_path: Path) -> None:
    """The reference calls earn 1 and no calls earn 0, on a company made from each row."""
    reference = calls_then_done(
        (
            row["responses_create_params"]["input"][-1]["content"],
            [Call.model_validate(c).model_dump() for c in row["ground_truth"]],
        )
        for row in peer_rows()
    )
    scripts = {
        "reference": reference,
        "idle": [{"reply": "Done."}],
    }
    rewards = {}
    for name, rules in scripts.items():
        out = tmp_path / f"{name}.jsonl"
        with scripted_engine(rules) as engine:
            argv = ["rollout", str(PEER_ROWS), "--env", "workplace", "--out", str(out)]
            assert main([*argv, "--policy-url", engine]) == 0
        results = read_results(out)
        assert all(r.status == "completed" for r in results)
        rewards[name] = [r.reward for r in results]
    assert rewards == {"reference": [1.0] * 5, "idle": [0.0] * 5}


def test_gym_data_generate_makes_tasks_with_their_difficulty(tmp_path: Path) -> None:
    out = tmp_path / "hard.jsonl"
    argv = ["data", "generate", "workplace", "--n", "3", "--seed", "4", "--difficulty", "hard"]
    assert main([*argv, "--out", str(out)]) == 0
    rows = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert [r["difficulty"] for r in rows] == ["hard"] * 3
    assert all(len(r["ground_truth"]) >= 2 for r in rows)
    assert generate_tasks(2, 4, "hard") == generate_tasks(3, 4, "hard")[:2]


def test_the_committed_data_is_what_the_script_makes() -> None:
    assert TASKS.read_bytes() == tasks_jsonl(row for row, _ in bundled())
    assert SOLUTIONS.read_bytes() == solutions_jsonl(solutions())
    assert CHEATS.read_bytes() == cheats_jsonl(cheats())
