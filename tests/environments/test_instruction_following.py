"""The instruction_following environment: every checker on a response that follows its
instruction and one that does not, refusing bad rows, the bundled tasks, and the service."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from environments.instruction_following.checkers import CHECKERS
from environments.instruction_following.generate import (
    CHEATS,
    SOLUTIONS,
    TASKS,
    cheats,
    task_set,
    wrong_answer,
)
from environments.instruction_following.grading import grade
from environments.instruction_following.text import paragraphs, sentences
from gym_core.errors import ServiceRejected
from gym_core.http_client import HttpClient
from gym_core.hub.solutions import Solution, cheats_jsonl, solutions_jsonl
from gym_core.settings import ResourcesServerSettings
from tests.conftest import resources_server

FR = "Le jardin est très calme le matin. Nous aimons marcher près de la rivière."
EN = "The garden is very quiet in the morning. We like to walk along the river."

CASES: list[tuple[str, dict[str, Any], str, str]] = [
    # (instruction, kwargs, a response that follows it, one that does not)
    ("length_constraints:number_words", {"num_words": 5, "relation": "less than"}, "One two three four.", "One two three four five."),  # noqa: E501
    ("length_constraints:number_sentences", {"num_sentences": 2, "relation": "at least"}, "Dr. Who came. He left at 3.5 pm!", "Dr. Who came at 3.5 pm."),  # noqa: E501
    ("length_constraints:number_paragraphs", {"num_paragraphs": 2}, "One.\n***\nTwo.", "One.\n***\n***\nTwo."),  # noqa: E501
    ("length_constraints:nth_paragraph_first_word", {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "crash"}, "One.\n\n\"Crash,\" it went.", "One.\n\nThe crash."),  # noqa: E501
    ("paragraphs:paragraphs", {}, "***\nOne.\n***\nTwo.\n", "One.\nTwo."),
    ("paragraphs:paragraphs2", {}, "One.\n\nTwo.", "One.\n\n\n\nTwo.\n\nThree."),
    ("letters:letter_counting", {"N": 5, "relation": "at least"}, "abc de", "ab 12 cd"),
    ("keywords:existence", {"keywords": ["lantern", "harbor"]}, "A lantern by the Harbor.", "A lantern."),  # noqa: E501
    ("keywords:forbidden_words", {"forbidden_words": ["part"]}, "It is apart.", "It is part of it."),  # noqa: E501
    ("keywords:frequency", {"keyword": "tea", "frequency": 2, "relation": "less than"}, "Tea is good.", "Tea, tea."),  # noqa: E501
    ("keywords:letter_frequency", {"letter": "z", "let_frequency": 2, "let_relation": "at least"}, "Zig zag.", "Zig."),  # noqa: E501
    ("first_word:first_word_answer", {"first_word": "today"}, "Today, we go.", "We go today."),
    ("first_word:first_word_sent", {"first_word": "relationship"}, "Relationship one. Relationship two!", "Relationship one. Then two."),  # noqa: E501
    ("last_word:last_word_answer", {"last_word": "contest"}, "We won the contest!", "The contest was won."),  # noqa: E501
    ("last_word:last_word_sent", {"last_word": "now"}, "Go now. Stop now!", "Go now. Stop."),
    ("count:lowercase_counting", {"N": 2}, "THE cat SAT on", "the cat sat"),
    ("change_case:english_capital", {}, EN.upper(), EN),
    ("change_case:english_lowercase", {}, EN.lower(), EN),
    ("change_case:capital_word_frequency", {"capital_frequency": 2, "capital_relation": "at least"}, "VERY BIG news.", "Very BIG news."),  # noqa: E501
    ("detectable_format:json_format", {}, '```json\n{"a": [1, 2]}\n```', "{'a': 1}"),
    ("detectable_format:number_bullet_lists", {"num_bullets": 2}, "* one\n- two\n**bold** line", "* one\n* \n- two\n* three"),  # noqa: E501
    ("detectable_format:number_highlighted_sections", {"num_highlights": 2}, "*one* and **two**", "*one* and * *"),  # noqa: E501
    ("detectable_format:multiple_sections", {"section_spliter": "Section", "num_sections": 2}, "Section 1\nA.\nSection 2\nB.", "Section 1\nA."),  # noqa: E501
    ("detectable_format:title", {}, "<<A Quiet Day>>\nText.", "<< >>\nText."),
    ("detectable_format:constrained_response", {}, "My answer is maybe.", "Maybe."),
    ("startend:quotation", {}, '"Hello there."', '"Hello there.'),
    ("startend:end_checker", {"end_phrase": "Any other questions?"}, 'Done. Any other questions?"', "Any other questions? Done."),  # noqa: E501
    ("combination:two_responses", {}, "One way.\n******\nAnother way.", "Same.\n******\nSame."),
    ("combination:repeat_prompt", {"prompt_to_repeat": "Write a poem."}, "Write a poem. Roses...", "A poem."),  # noqa: E501
    ("detectable_content:number_placeholders", {"num_placeholders": 2}, "At [address] on [date].", "At [address] on []."),  # noqa: E501
    ("detectable_content:postscript", {"postscript_marker": "P.S."}, "Hi.\nP.S. See you.", "Hi.\nP.S."),  # noqa: E501
    ("punctuation:no_comma", {}, "No commas here.", "Yes, one."),
    ("punctuation:punctuation_dot", {}, "No dots here", "A dot."),
    ("punctuation:punctuation_exclamation", {}, "Calm.", "Loud!"),
    ("language:response_language", {"language": "fr"}, FR, EN),
]  # fmt: skip


@pytest.mark.parametrize(("name", "kwargs", "good", "bad"), CASES, ids=[case[0] for case in CASES])
def test_each_checker_tells_following_from_not(
    name: str, kwargs: dict[str, Any], good: str, bad: str
) -> None:
    assert grade(good, [(name, kwargs)]) == [True]
    assert grade(bad, [(name, kwargs)]) == [False]


def test_every_checker_has_cases() -> None:
    assert {case[0] for case in CASES} == set(CHECKERS)
    assert len(CHECKERS) >= 25


def test_saying_nothing_follows_no_instruction() -> None:
    instructions = [("punctuation:no_comma", {}), ("count:lowercase_counting", {"N": 3})]
    assert grade("", instructions) == [False, False]
    assert grade(" *** ", instructions) == [False, False]


def test_text_is_split_as_a_reader_splits_it() -> None:
    assert sentences("Mr. Smith paid $3.50. Then he left!\nNew line") == [
        "Mr. Smith paid $3.50.",
        "Then he left!",
        "New line",
    ]
    assert paragraphs("\n***\na\n***\nb\n***\n", r"\s?\*\*\*\s?") == ["a", "b"]
    assert paragraphs("a\n***\n***\nb", r"\s?\*\*\*\s?") is None


def test_the_bundled_files_are_what_the_generator_writes() -> None:
    tasks = task_set()
    assert TASKS.read_text().count("\n") == 300
    assert SOLUTIONS.read_bytes() == solutions_jsonl(
        Solution(id=row["id"], reference=ref, wrong=wrong_answer(row, ref)) for row, ref in tasks
    )
    assert CHEATS.read_bytes() == cheats_jsonl(cheats(tasks))
    assert {row["difficulty"] for row, _ in tasks} == {"easy", "medium", "hard"}
    assert all(len(row["instruction_id_list"]) == 1 for row, _ in tasks[::3])


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    settings = ResourcesServerSettings(
        name="instruction_following",
        server="environments.instruction_following.server:InstructionFollowingServer",
        cpu_workers=1,
    )
    with resources_server(settings) as url:
        yield url


TASK: dict[str, Any] = {
    "id": "t",
    "env": "instruction_following",
    "prompt": "Say hi without commas, in under 5 words.",
    "instruction_id_list": ["punctuation:no_comma", "length_constraints:number_words"],
    "kwargs": [None, {"num_words": 5, "relation": "less than"}],
}


async def verify(url: str, task: dict[str, Any], answer: str) -> dict[str, Any]:
    async with HttpClient() as http:
        session = (await http.post(f"{url}/sessions", {"task": task}))["session_id"]
        messages = [{"role": "assistant", "content": answer}]
        return await http.post(f"{url}/sessions/{session}/verify", {"messages": messages})


async def test_the_service_reports_each_verdict_and_the_share_held(url: str) -> None:
    followed = await verify(url, TASK, "Hi there!")
    half = await verify(url, TASK, "Hi, there!")
    nested = {key: TASK[key] for key in ("id", "env", "prompt")}
    nested["verifier_metadata"] = {**{k: TASK[k] for k in TASK if k not in nested}}
    nested["verifier_metadata"]["grading_mode"] = "fraction"
    fraction = await verify(url, nested, "Hi, there!")
    assert followed["reward"] == 1.0
    assert half["reward"] == 0.0
    assert half["metrics"] == {
        "all_followed": False,
        "fraction_followed": 0.5,
        "instructions": [
            {"id": "punctuation:no_comma", "followed": False},
            {"id": "length_constraints:number_words", "followed": True},
        ],
    }
    assert fraction["reward"] == 0.5


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            {"instruction_id_list": ["punctuation:no_commas", "length_constraints:number_words"]},
            "did you mean 'punctuation:no_comma'",
        ),
        ({"kwargs": [None]}, "kwargs has 1 entries for 2 instructions"),
        ({"kwargs": [None, {"num_words": 5}]}, "kwargs[1] of length_constraints:number_words: "),
        ({"kwargs": [None, {"num_words": "five", "relation": "less than"}]}, "num_words"),
        ({"kwargs": [{"extra": 1}, None]}, "kwargs[0] of punctuation:no_comma: extra"),
        ({"instruction_id_list": []}, "instruction_id_list"),
    ],
)
async def test_a_bad_row_is_refused_naming_the_instruction(
    url: str, change: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ServiceRejected, match=re.escape(problem)):
        await verify(url, {**TASK, **change}, "Hi")
