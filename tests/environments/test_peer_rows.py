"""NeMo Gym's published example rows (vendored in `peer_rows/`, Apache-2.0: see NOTICE) run
unchanged through `gym rollout FILE --env NAME`, against a scripted model, and earn the
rewards NeMo Gym's own verifiers give the same answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from gym_core.cli import main
from gym_core.collect import read_results
from tests.conftest import scripted_engine

PEER_ROWS = Path(__file__).parent / "peer_rows"

Case = tuple[str, dict[str, Any], float]
"""A text unique to one row's prompt, the scripted model's reply to it, and the reward."""

MCQA: list[Case] = [
    ("specific mutation associated with cystic", {"reply": "PCR finds it: \\boxed{B}"}, 1.0),
    ("predictive genetic testing", {"reply": "\\boxed{\\text{C}}"}, 1.0),
    ("next-generation sequencing", {"reply": "Answer: I"}, 0.0),  # strict mode: boxed only
    ("Type 2 Diabetes", {"reply": "\\boxed{E: A polygenic risk score}"}, 1.0),
    ("metagenomics", {"reply": "\\boxed{D}"}, 0.0),
]

FIVE_BULLETS = "".join(f"* POINT {n}\n" for n in "ABCDE")
INSTRUCTION_FOLLOWING: list[Case] = [
    (
        "Oliver Queen",  # 4 paragraphs, the third opening with `crash`; last word `contest`
        {"reply": "He ran.\n\nShe waited.\n\nCrash, went the door.\n\nIt was a contest."},
        1.0,
    ),
    ("SQL", {"reply": f"USE AN INDEX.\n{FIVE_BULLETS}***\nTHEN MEASURE AGAIN."}, 1.0),
    ("inevitable", {"reply": "Relationship games sell. Relationship sims are part of it."}, 0.0),
    (
        "Plato philebus",  # 4 placeholders, 3 letters, at least 17 sentences
        {"reply": "See [page] [topic] [index] [note]. " + "It is so. " * 16},
        1.0,
    ),
    ("jayhorn", {"reply": "<<Installing JayHorn>>\nGet Java.\n***\nBuild it with Maven."}, 1.0),
]


def example_of(schema: dict[str, Any]) -> Any:
    """A value that fits `schema` (the peer rows' schemas use types, items and properties)."""
    kind = schema.get("type", "string")
    kind = next(k for k in kind if k != "null") if isinstance(kind, list) else kind
    if kind == "object":
        return {name: example_of(part) for name, part in schema.get("properties", {}).items()}
    if kind == "array":
        return [example_of(schema.get("items", {}))]
    return {"string": "x", "integer": 1, "number": 1.5, "boolean": True}[kind]


def structured_cases() -> list[Case]:
    rows = [
        orjson.loads(line)
        for line in (PEER_ROWS / "structured_outputs.jsonl").read_bytes().splitlines()
    ]
    data = [example_of(orjson.loads(row["schema_str"])) for row in rows]
    wrapped = {"extraction": data[0]}
    incomplete = dict(list(data[2].items())[1:])
    return [
        ("Dizer Kola", {"tool_calls": [{"name": "response_tool_8", "arguments": wrapped}]}, 1.0),
        (
            "Steve Dyer",  # one tool, several keys: only `extraction` is the answer's
            {"tool_calls": [{"name": "summary_tool_1", "arguments": {"extraction": data[1]}}]},
            1.0,
        ),
        (
            "Archery at",  # a required field left out
            {"tool_calls": [{"name": "summary_tool_10", "arguments": incomplete}]},
            0.0,
        ),
        (
            "Toledo Rockets",  # the right data through a distractor tool
            {"tool_calls": [{"name": "summary_tool_9", "arguments": {"result": data[3]}}]},
            0.0,
        ),
        ("100 Bloody Acres", {"reply": orjson.dumps({"extraction": data[4]}).decode()}, 0.0),
    ]


def rollout(env: str, cases: list[Case], tmp_path: Path) -> dict[str, float | None]:
    """The reward of each case's row, by its unique text, after one `gym rollout`."""
    rules = [{"match": text, **reply} for text, reply, _ in cases]
    out = tmp_path / "out.jsonl"
    source = str(PEER_ROWS / f"{env}.jsonl")
    with scripted_engine(rules) as engine:
        assert (
            main(["rollout", source, "--env", env, "--out", str(out), "--policy-url", engine]) == 0
        )
    rewards = {}
    for result in read_results(out):
        assert result.status == "completed", result.failure
        prompt = str(result.messages[-2].content)
        [text] = [text for text, _, _ in cases if text in prompt]
        rewards[text] = result.reward
    return rewards


@pytest.mark.parametrize(
    ("env", "cases"),
    [
        ("mcqa", MCQA),
        ("instruction_following", INSTRUCTION_FOLLOWING),
        ("structured_outputs", structured_cases()),
    ],
)
def test_the_peer_rows_earn_what_the_peer_gives(
    env: str, cases: list[Case], tmp_path: Path
) -> None:
    assert rollout(env, cases, tmp_path) == {text: reward for text, _, reward in cases}
