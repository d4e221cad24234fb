"""The mcqa environment: reading letters in each grading mode, refusing bad rows, the bundled
questions, and the service over loopback."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from environments.mcqa.generate import QUESTIONS, generate_tasks, question_set
from environments.mcqa.letters import GradingMode, read_answer
from gym_core.errors import ServiceRejected
from gym_core.http_client import HttpClient
from gym_core.settings import ResourcesServerSettings
from gym_core.tasks_file import load_tasks
from tests.conftest import resources_server

OPTIONS = {
    "A": "Karyotyping",
    "B": "Polymerase Chain Reaction (PCR)",
    "C": "Methylation-specific PCR",
    "E": "A polygenic risk score can provide a probability",
}


@pytest.mark.parametrize(
    ("text", "mode", "letter", "check"),
    [
        ("so \\boxed{B}", "strict_single_letter_boxed", "B", "answered"),
        ("\\boxed{\\text{E}}", "strict_single_letter_boxed", "E", "answered"),
        ("\\boxed{E: A polygenic risk score}", "strict_single_letter_boxed", "E", "answered"),
        ("Final: \\boxed{ [C] }", "strict_single_letter_boxed", "C", "answered"),
        ("\\boxed{A polygenic risk score}", "strict_single_letter_boxed", None, "no_answer"),
        ("\\boxed{b}", "strict_single_letter_boxed", None, "no_answer"),
        ("Answer: B", "strict_single_letter_boxed", None, "no_answer"),
        ("\\boxed{C} no wait \\boxed{E}", "strict_single_letter_boxed", None, "several_letters"),
        ("\\boxed{A, C}", "strict_single_letter_boxed", None, "several_letters"),
        ("\\boxed{D}", "strict_single_letter_boxed", None, "not_an_option"),
        ("\\boxed{B} and again \\boxed{B}", "strict_single_letter_boxed", "B", "answered"),
        ("\\boxed{karyotyping}", "lenient_boxed", "A", "answered"),
        ("\\boxed{PCR}", "lenient_boxed", None, "no_answer"),  # two options hold "PCR"
        ("Answer: (B)", "lenient_answer_colon", "B", "answered"),
        ("Answer: Karyotyping", "lenient_answer_colon", "A", "answered"),
        ("Answer: A\nAnswer: C", "lenient_answer_colon", None, "several_letters"),
        ("B", "letter", "B", "answered"),
        ("(C).", "letter", "C", "answered"),
        ("Thinking...\nThe answer is E", "letter", "E", "answered"),
        ("I pick B", "letter", None, "no_answer"),
        ("\\boxed{}", "letter", None, "no_answer"),
        ("\\boxed{A} \\boxed{B} \\boxed{C} \\boxed{E}", "letter", None, "several_letters"),
        ("\\boxed{A: Karyotyping; B: PCR; C: Methylation}", "letter", None, "several_letters"),
        ("\\boxed{A) or maybe B}", "strict_single_letter_boxed", None, "several_letters"),
        ("\\boxed{A-E}", "strict_single_letter_boxed", None, "several_letters"),
        (
            "Answer: A. Karyotyping, or Methylation-specific PCR",
            "lenient_answer_colon",
            None,
            "several_letters",
        ),
        ("\\boxed{B: PCR}", "strict_single_letter_boxed", "B", "answered"),
        (
            "\\boxed{A: Karyotyping (a picture of the chromosomes)}",
            "lenient_boxed",
            "A",
            "answered",
        ),
    ],
)
def test_letters_are_read_as_the_mode_says(
    text: str, mode: GradingMode, letter: str | None, check: str
) -> None:
    reading = read_answer(text, mode, OPTIONS)
    assert (reading.letter, reading.check) == (letter, check)


def test_a_rows_own_regex_takes_the_place_of_the_mode() -> None:
    pattern = re.compile(r"ANSWER IS\s*([A-Za-z])", re.IGNORECASE)
    assert read_answer("so the answer is c", "letter", OPTIONS, pattern).letter == "C"
    assert read_answer("\\boxed{C}", "letter", OPTIONS, pattern).check == "no_answer"


def test_the_bundled_questions_are_what_the_generator_makes() -> None:
    tasks = load_tasks(QUESTIONS, env="mcqa")
    rows = question_set()
    assert [task.id for task in tasks] == [row["id"] for row in rows]
    assert QUESTIONS.read_text().splitlines()[0].startswith('{"id":"mcqa-001"')
    assert Counter(row["difficulty"] for row in rows) == {"easy": 100, "medium": 100, "hard": 100}
    for row in rows:
        letters = [letter for option in row["options"] for letter in option]
        texts = [text for option in row["options"] for text in option.values()]
        assert len(set(texts)) == len(texts), row["id"]
        assert all(
            f"{letter}: {text}" in row["prompt"]
            for letter, text in zip(letters, texts, strict=True)
        )
    assert generate_tasks(5, 3, "hard") == generate_tasks(5, 3, "hard")
    assert all(len(row["options"]) == 5 for row in generate_tasks(5, 3, "hard"))


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    settings = ResourcesServerSettings(
        name="mcqa", server="environments.mcqa.server:McqaServer", cpu_workers=1
    )
    with resources_server(settings) as url:
        yield url


TASK: dict[str, Any] = {
    "id": "q",
    "env": "mcqa",
    "prompt": "Which is the PCR?\nA: Karyotyping\nB: PCR",
    "options": [{"A": "Karyotyping"}, {"B": "PCR"}],
    "expected_answer": "B",
}


async def verify(url: str, task: dict[str, Any], answer: str) -> dict[str, Any]:
    async with HttpClient() as http:
        session = (await http.post(f"{url}/sessions", {"task": task}))["session_id"]
        messages = [{"role": "assistant", "content": answer}]
        return await http.post(f"{url}/sessions/{session}/verify", {"messages": messages})


async def test_the_service_scores_the_gold_letter_and_reports_what_it_read(url: str) -> None:
    right = await verify(url, TASK, "It is \\boxed{B}.")
    hedged = await verify(url, TASK, "\\boxed{A} or \\boxed{B}")
    regex = {**TASK, "template_metadata": {"output_regex": r"Final Choice:\s*([A-Z])"}}
    custom = await verify(url, regex, "Final Choice: B")
    assert right["reward"] == 1.0
    assert right["metrics"] == {
        "extracted_answer": "B",
        "answer_check": "answered",
        "grading_mode": "strict_single_letter_boxed",
    }
    assert hedged["reward"] == 0.0
    assert hedged["metrics"]["answer_check"] == "several_letters"
    assert custom["reward"] == 1.0
    assert custom["metrics"]["grading_mode"] == "output_regex"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"expected_answer": "C"}, "expected_answer 'C' is not one of the options"),
        ({"options": [{"A": "x"}, {"A": "y"}]}, "option letters repeat"),
        ({"options": [{"A": "x", "B": "y"}, {"C": "z"}]}, "one {letter: text} pair"),
        ({"grading_mode": "loose"}, "grading_mode"),
        ({"template_metadata": {"output_regex": "([A-Z"}}, "output_regex does not compile"),
    ],
)
async def test_a_bad_row_is_refused_naming_the_field(
    url: str, change: dict[str, Any], field: str
) -> None:
    with pytest.raises(ServiceRejected, match=re.escape(field)):
        await verify(url, {**TASK, **change}, "\\boxed{B}")
