"""The math environment: reading answers, the grader against the labelled cases (in CPU
workers), refusing bad gold answers, the bundled data, and the service."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from environments.math.answers import WrittenNumber, boxes, written_number
from environments.math.grading import Grade, grade, unreadable_gold
from environments.math.server import MathServer, MathTask
from gym_core.catalog import default_catalog_path
from gym_core.config import load_config
from gym_core.errors import ServiceRejected
from gym_core.http_client import HttpClient
from gym_core.settings import ResourcesServerSettings
from gym_core.tasks_file import load_tasks
from resources_server.cpu_pool import CpuPool
from tests.conftest import resources_server
from tests.environments.math_cases import CASES


def test_boxes_are_read_whole_in_order() -> None:
    assert boxes("\\boxed{\\frac{1}{2}} and \\boxed{\\sqrt{\\frac{a}{b}}}") == [
        "\\frac{1}{2}",
        "\\sqrt{\\frac{a}{b}}",
    ]
    assert boxes("\\boxed{\\boxed{4}} then \\fbox{ 5 }") == ["4", "5"]
    assert boxes("\\boxed{3} \\boxed{unclosed") == ["3"]
    assert boxes("no box") == []


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("1,234", WrittenNumber("1234", True)),
        ("\\$1{,}234.50", WrittenNumber("1234.50", True)),
        ("0.1\\overline{6}", WrittenNumber("\\frac{1}{6}", True)),
        ("2.\\overline{9}", WrittenNumber("3", True)),
        ("-2\\frac{1}{2}", WrittenNumber("-\\frac{5}{2}", True)),
        ("\\frac{6}{8}", WrittenNumber("\\frac{6}{8}", False)),
        ("1.5 \\times 10^{-3}", WrittenNumber("0.0015", True)),
        ("25 percent", WrittenNumber("25", True, percent=True)),
        ("x = 30^\\circ", WrittenNumber("30", True)),
        ("60 \\text{ km/h}", WrittenNumber("60", True)),
        ("5 m^2", WrittenNumber("5", True)),
        ("(-3)", WrittenNumber("-3", True)),
        ("**12**", WrittenNumber("12", True)),
        ("\\frac{1}{-2}", WrittenNumber("-\\frac{1}{2}", True)),
        ("0.1(6)", WrittenNumber("\\frac{1}{6}", True)),
    ],
)
def test_written_numbers_read_as_a_grader_reads_them(text: str, number: WrittenNumber) -> None:
    assert written_number(text) == number


@pytest.mark.parametrize(
    "text",
    ["9 + 3", "3 \\text{ or } 4", "12 100 and 5", "5x", "3 pi", "2^{10}", "1,2", "", "(7)(2)"],
)
def test_anything_but_one_number_is_no_written_number(text: str) -> None:
    assert written_number(text) is None


@pytest.mark.slow
async def test_the_grader_agrees_with_every_labelled_case() -> None:
    """Every case through the real grader in CPU workers, as the server runs it."""
    assert len(CASES) >= 150
    pool = CpuPool(2, cpu_limit_s=10, preload=MathServer.cpu_preload)
    try:
        grades = await asyncio.gather(
            *(pool.run(grade, case.gold, case.response, case.prompt) for case in CASES)
        )
    finally:
        await pool.close()
    disagreements = [
        f"gold {case.gold!r}, response {case.response!r}: graded {result}, expected "
        f"{case.correct} ({case.reason})"
        for case, result in zip(CASES, grades, strict=True)
        if Grade(*result).correct is not case.correct
    ]
    assert not disagreements, "\n".join(disagreements)


def test_why_a_grade_is_what_it_is() -> None:
    prompt = "What is 9 + 3?"
    assert grade("12", "\\boxed{9 + 3}", prompt) == Grade(False, "9 + 3", "not_a_number")
    assert grade("12", "\\boxed{}", prompt) == Grade(False, "", "empty_box")
    assert grade("12", "\\boxed{11} \\boxed{12}", prompt) == Grade(False, "12", "boxes_disagree")
    assert grade("12", "\\boxed{\\frac{24}{2}}", prompt).why == "unreduced"
    assert grade("12", "no idea", prompt) == Grade(False, None, "no_answer")
    assert grade("x^2+2x+1", "\\boxed{(x+1)^2}", "Expand (x+1)^2.").why == "restated"
    assert grade("2\\sqrt{3}", "\\boxed{\\sqrt{3}+\\sqrt{3}}", prompt).why == "unsimplified"


def test_a_comparison_that_breaks_raises_instead_of_scoring_0() -> None:
    with pytest.raises(ValueError, match="nan or zoo"):
        grade("\\frac{1}{0}", "\\boxed{5}", "What is 1/0?")


@pytest.mark.parametrize(
    ("gold", "problem"),
    [
        ("\\frac{", "math-verify finds no expression in the gold answer"),
        ("???", "math-verify finds no expression in the gold answer '???'"),
        ("  ", "the gold answer is empty"),
    ],
)
def test_a_gold_nothing_could_match_is_named(gold: str, problem: str) -> None:
    assert problem in (unreadable_gold(gold) or "")


@pytest.mark.parametrize("gold", ["42", "1,234", "x^2+1", "Tuesday", "[1, 5)", "\\frac{1}{0}"])
def test_readable_golds_pass(gold: str) -> None:
    assert unreadable_gold(gold) is None


def test_the_bundled_problems_are_valid_and_self_consistent() -> None:
    entry = load_config(default_catalog_path()).envs["math"]
    tasks = load_tasks(entry.example_path(), env="math")
    assert len(tasks) == 200
    assert len({task.id for task in tasks}) == 200
    topics = {task.env_fields()["topic"] for task in tasks}
    assert topics == {"arithmetic", "fractions", "percentages", "algebra", "word_problems"}
    for task in tasks:
        fields = MathTask.model_validate(task.model_dump())
        assert "\\boxed{}" in str(task.prompt)
        assert grade(fields.answer, f"\\boxed{{{fields.answer}}}", str(task.prompt)).correct


TASK = {"id": "t", "env": "math", "prompt": "What is 9 + 3?", "answer": "12"}


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    settings = ResourcesServerSettings(
        name="math", server="environments.math.server:MathServer", cpu_workers=1
    )
    with resources_server(settings) as url:
        yield url


async def verify(http: HttpClient, url: str, task: dict[str, Any], reply: str) -> Any:
    session = (await http.post(f"{url}/sessions", {"task": task}))["session_id"]
    messages = [
        {"role": "user", "content": task["prompt"]},
        {"role": "assistant", "content": reply},
    ]
    return await http.post(f"{url}/sessions/{session}/verify", {"messages": messages})


async def test_the_service_grades_with_the_prompt_and_says_why(url: str) -> None:
    async with HttpClient() as http:
        right = await verify(http, url, TASK, "9 + 3 = 12, so \\boxed{12}")
        restated = await verify(http, url, TASK, "\\boxed{9 + 3}")
        expanded = {**TASK, "prompt": "Expand (x + 1)^2.", "answer": "x^2+2x+1"}
        copied = await verify(http, url, expanded, "\\boxed{(x+1)^2}")
    assert right["reward"] == 1.0
    assert right["metrics"] == {"extracted_answer": "12", "answer_check": "equal"}
    assert restated["reward"] == 0.0
    assert restated["metrics"]["answer_check"] == "not_a_number"
    assert copied["reward"] == 0.0
    assert copied["metrics"]["answer_check"] == "restated"


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ("", "task.answer: String should have at least 1 character"),
        ("  ", "task.answer: String should have at least 1 character"),
        ("\\frac{", "task.answer: math-verify finds no expression in the gold answer"),
    ],
)
async def test_a_bad_gold_answer_is_refused_when_seeded(
    url: str, answer: str, problem: str
) -> None:
    async with HttpClient() as http:
        with pytest.raises(ServiceRejected) as rejected:
            await http.post(f"{url}/sessions", {"task": {**TASK, "answer": answer}})
    assert rejected.value.status == 422
    assert problem in str(rejected.value)


async def test_a_grader_that_breaks_fails_the_rollout_instead_of_scoring_0(url: str) -> None:
    async with HttpClient() as http:
        verdict = await verify(http, url, {**TASK, "answer": "\\frac{1}{0}"}, "\\boxed{5}")
    assert verdict.get("reward") is None
    assert verdict["failure"]["kind"] == "verify_error"
    assert "nan or zoo" in verdict["failure"]["message"]
