"""`gym hub validate`: every check, against real resources servers, without a model."""

from __future__ import annotations

from pathlib import Path

import pytest

from gym_core.catalog import default_catalog_path, load_catalog
from gym_core.cli import main
from gym_core.config import load_config
from gym_core.hub.report import CHECKS, ValidationReport
from gym_core.hub.validate import validate_env, validate_project
from tests.fixtures.env_projects import project


def check(report: ValidationReport, name: str) -> tuple[str, str]:
    """The status of one check and its problems, as one text to search."""
    [found] = [c for c in report.checks if c.name == name]
    return found.status, "\n".join([found.summary, *found.problems])


@pytest.mark.slow
@pytest.mark.timeout(900)  # code plays ~1,900 sandboxed test runs
@pytest.mark.parametrize(
    "name",
    [name for name in sorted(load_catalog(default_catalog_path()).envs)],
)
def test_every_catalog_environment_passes_validation(name: str) -> None:
    report = validate_env(load_config(default_catalog_path()), name)
    assert report.passed, report.explain()
    assert report.examples > 0
    assert report.cheats_tried > 0
    assert report.cheats_passed == report.cheats_tried
    assert report.verify_latency_ms is not None


def test_the_scaffold_passes_every_check(tmp_path: Path) -> None:
    [report] = validate_project(project(tmp_path, "fresh"))
    assert report.passed, report.explain()
    assert report.passed_checks() == list(CHECKS)
    assert report.examples == 5
    assert (report.cheats_tried, report.cheats_passed) == (6, 6)
    assert report.verify_latency_ms is not None
    assert report.verify_latency_ms.p50 <= report.verify_latency_ms.p99


def test_a_verifier_that_rejects_the_reference_fails_and_says_which_task(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = project(
        tmp_path, "off_by_one", {"answer == task.answer": "answer == task.answer + 1"}
    )
    assert main(["hub", "validate", str(directory)]) == 1
    out = capsys.readouterr().out
    assert "off_by_one: FAILED" in out
    assert "failed   reference" in out
    assert "task 'off_by_one-1' with its reference solution: reward 0, expected 1" in out
    assert "passed   wrong" in out
    assert "likely cause: the verifier rejects a right answer" in out


SEED_CRASH = (
    "    async def seed(self, task: SeedCrashTask) -> None:\n"
    "        self.share = 100 // task.answer  # the bug: a task whose answer is 0\n\n"
    "    @tool\n"
)
MEMORY = (
    "self.calls = getattr(self, 'calls', 0) + 1\n"
    "        answer = final_answer(trajectory.final_text) if self.calls <= 11 else None"
)


LAST_BOX = "found = _BOXED_NUMBER.findall(text)\n    return int(found[-1]) if found else None"


@pytest.mark.parametrize(
    ("name", "edits", "failing", "problems"),
    [
        (
            "lenient",
            {"float(answer == task.answer)": "float(answer is not None)"},
            ["wrong"],
            ["task 'lenient-5' with its wrong solution: reward 1, expected 0"],
        ),
        (
            "pays_anything",
            {"float(answer == task.answer)": "float(bool(trajectory.final_text.strip()))"},
            ["wrong", "cheats"],
            [
                "cheat 'echo_prompt' on task 'pays_anything-1' earned reward 1",
                "cheat 'empty_box' on task 'pays_anything-2' earned reward 1",
                "6 of 6 cheat probes earned a reward, echo_prompt 1, every_option 1",
            ],
        ),
        (
            "last_box",
            {
                "found = {int(number) for number in _BOXED_NUMBER.findall(text)}\n"
                "    return found.pop() if len(found) == 1 else None": LAST_BOX
            },
            ["cheats"],
            [
                "cheat 'several_boxes_right_last' on task 'last_box-3' earned reward 1",
                "1 of 6 cheat probes earned a reward, several_boxes_right_last 1",
            ],
        ),
        (
            "seed_crash",
            {"    @tool\n": SEED_CRASH},
            ["malformed"],
            [
                "task 'seed_crash-1' with answer=0: HTTP 500",
                "should have refused the request with a 4xx",
            ],
        ),
        (
            "tool_crash",
            {
                "        if len(letter) != 1:\n": "        if len(letter) > 1:\n",
                "count(letter.lower())": "count(letter.lower()[0])",
            },
            ["malformed"],
            ["tools raised an unexpected exception", "raise ToolError"],
        ),
        (
            "empty_crash",
            {"final_answer(trajectory.final_text)": "final_answer(trajectory.final_text) + 0"},
            ["cheats", "malformed"],
            [
                "verified after an empty assistant answer: verify raised TypeError",
                "cheat 'echo_prompt' on task 'empty_crash-1': verification failed (verify_error)",
                "0 of 6 cheat probes earned a reward; 6 broke the verifier",
            ],
        ),
        (
            "echoed",
            {"answer = final_answer(trajectory.final_text)": MEMORY},
            ["deterministic"],
            ["with its reference solution: reward 1, then reward 0 when played again"],
        ),
    ],
)
def test_a_broken_environment_fails_the_checks_that_catch_it(
    tmp_path: Path, name: str, edits: dict[str, str], failing: list[str], problems: list[str]
) -> None:
    [report] = validate_project(project(tmp_path, name, edits))
    assert not report.passed
    assert [c.name for c in report.checks if c.status == "failed"] == failing
    found = "\n".join(check(report, name)[1] for name in failing)
    for problem in problems:
        assert problem in found


def test_a_verify_call_over_the_limit_fails_the_latency_check(tmp_path: Path) -> None:
    [report] = validate_project(project(tmp_path, "slowish"), verify_limit_s=1e-9)
    status, problems = check(report, "latency")
    assert status == "failed"
    assert "verify calls took longer than 1e-09s" in problems


def test_a_server_that_cannot_start_skips_the_rest(tmp_path: Path) -> None:
    startup = (
        "    async def startup(self) -> None:\n"
        "        raise RuntimeError('the database is not there')\n\n"
        "    @tool\n"
    )
    [report] = validate_project(project(tmp_path, "no_start", {"    @tool\n": startup}))
    status, problems = check(report, "starts")
    assert status == "failed"
    assert "exited with code" in problems
    assert [c.status for c in report.checks[2:]] == ["skipped"] * (len(CHECKS) - 2)
    assert "the database is not there" in Path(report.server_log or "").read_text()


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: (d / "gone_env" / "data" / "solutions.jsonl").unlink(), "cannot read"),
        (
            lambda d: (d / "gone_env" / "data" / "solutions.jsonl").write_text(
                (d / "gone_env" / "data" / "solutions.jsonl").read_text().splitlines()[0] + "\n"
            ),
            "no solution for the tasks 'gone-2', 'gone-3', 'gone-4', 'gone-5'",
        ),
        (
            lambda d: (d / "rl_hub.yaml").write_text(
                (d / "rl_hub.yaml")
                .read_text()
                .replace("      solutions: data/solutions.jsonl\n", "")
            ),
            "envs.gone.datasets.solutions is not set",
        ),
        (
            lambda d: (d / "rl_hub.yaml").write_text(
                (d / "rl_hub.yaml").read_text().replace("max_turns: 4", "max_turns: ten")
            ),
            "envs.gone.agent.max_turns: Input should be a valid integer",
        ),
        (
            lambda d: (d / "rl_hub.yaml").write_text(
                (d / "rl_hub.yaml").read_text().replace("      cheats: data/cheats.jsonl\n", "")
            ),
            "envs.gone.datasets.cheats is not set",
        ),
        (
            lambda d: (d / "gone_env" / "data" / "cheats.jsonl").write_text(
                '{"id": "gone-9", "cheat": "echo_prompt", "attempt": "x"}\n'
            ),
            "cheat probes of tasks that do not exist: 'gone-9'",
        ),
        (
            lambda d: (d / "gone_env" / "data" / "cheats.jsonl").write_text("\n"),
            "cheats.jsonl: no cheat probes",
        ),
    ],
)
def test_schema_problems_are_named(tmp_path: Path, damage: object, message: str) -> None:
    directory = project(tmp_path, "gone")
    damage(directory)  # type: ignore[operator]
    [report] = validate_project(directory)
    status, problems = check(report, "schema")
    assert status == "failed"
    assert message in problems
    assert {c.status for c in report.checks[1:]} == {"skipped"}
