"""Instruction-following tasks written for this project: a short writing request plus one to
three verifiable instructions, with a reference answer that follows them all.

    python -m environments.instruction_following.generate

rewrites `data/tasks.jsonl` (300 tasks, seed 0), `data/solutions.jsonl` and
`data/cheats.jsonl`; `gym data generate instruction_following --n N --seed S --difficulty D`
makes more. Each task's reference answer is written to a plan (`draft.render`) and the counts
its instructions ask for are measured off it, so it follows them by construction; the
checkers confirm it before the task is kept. Difficulty is the number of instructions: one
(easy), two (medium) or three (hard).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from environments.instruction_following.checkers import CHECKERS, CONSTRAINED_ANSWERS
from environments.instruction_following.draft import LANGUAGES, Draft, render
from environments.instruction_following.grading import grade
from environments.instruction_following.text import sentences, words
from gym_core.hub.solutions import Cheat, Solution, cheats_jsonl, solutions_jsonl, tasks_jsonl

__all__ = ["TASKS", "generate_tasks", "task_set"]

DATA = Path(__file__).parent / "data"
TASKS = DATA / "tasks.jsonl"
SOLUTIONS = DATA / "solutions.jsonl"
CHEATS = DATA / "cheats.jsonl"
LEVELS = {"easy": 1, "medium": 2, "hard": 3}

TOPICS = ["keeping houseplants alive", "how a bicycle gear works", "planning a small garden",
          "the first day at a new job", "why people keep diaries", "a walk along a river",
          "learning to bake bread", "the history of the postal service", "choosing a used car",
          "how bees make honey", "a rainy afternoon in the city", "starting a book club",
          "saving money on groceries", "the life of a lighthouse keeper", "training for a 5k run",
          "how tides work", "a visit to a night market", "fixing a leaking tap",
          "the joy of board games", "moving to a new town"]  # fmt: skip
REQUESTS = ["Write a short piece about {}.", "Tell me about {}.", "Describe {} for a friend.",
            "Write a few thoughts on {}."]  # fmt: skip
INTROS = ["Follow these instructions in your answer:", "Keep to these rules:",
          "Your response must meet these requirements:"]  # fmt: skip
KEYWORDS = ["lantern", "harbor", "compass", "meadow", "violin", "orchard", "glacier", "pepper"]
FORBIDDEN = ["however", "basically", "really", "very", "thing", "stuff", "nice", "amazing"]
STARTERS = ["Today", "Honestly", "Notably", "Often", "Sometimes"]
END_PHRASES = ["Any other questions?", "Is there anything else I can help with?"]
RELATIONS = ("less than", "at least")


@dataclass(frozen=True)
class Spec:
    """How the generator asks for one instruction."""

    groups: frozenset[str]
    """No two instructions of a task share a group (they would fight over one feature)."""
    shape: Callable[[Draft, random.Random], dict[str, Any]]
    """Give the draft what the instruction needs; returns the arguments known before writing."""
    measure: Callable[[str, dict[str, Any], random.Random], dict[str, Any]]
    """The arguments read off the written reference (counts, with slack)."""
    describe: Callable[[dict[str, Any]], str]


def _none(draft: Draft, rng: random.Random) -> dict[str, Any]:
    return {}


def _kept(text: str, known: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    return known


def _bound(count: int, rng: random.Random) -> tuple[str, int]:
    """A relation and a bound that `count` meets, with some slack."""
    relation = rng.choice(RELATIONS) if count >= 3 else "less than"
    if relation == "less than":
        return relation, count + rng.randint(1, max(2, count // 3))
    return relation, max(2, count - rng.randint(0, max(1, count // 4)))


def _counted(key: str, counter: Callable[[str], int], relation_key: str = "relation") -> Any:
    def measure(text: str, known: dict[str, Any], rng: random.Random) -> dict[str, Any]:
        relation, bound = _bound(counter(text), rng)
        return {**known, key: bound, relation_key: relation}

    return measure


def _set(**values: Any) -> Callable[[Draft, random.Random], dict[str, Any]]:
    def shape(draft: Draft, rng: random.Random) -> dict[str, Any]:
        for name, value in values.items():
            setattr(draft, name, value(rng) if callable(value) else value)
        return {}

    return shape


def _paragraphs(separator: str, count: int | None = None) -> Any:
    def shape(draft: Draft, rng: random.Random) -> dict[str, Any]:
        draft.paragraphs, draft.separator = count or rng.randint(2, 4), separator  # type: ignore[assignment]
        return {} if count else {"num_paragraphs": draft.paragraphs}

    return shape


def _nth_opener(draft: Draft, rng: random.Random) -> dict[str, Any]:
    draft.paragraphs, draft.separator = rng.randint(2, 4), "blank"
    nth, word = rng.randint(1, draft.paragraphs), rng.choice(STARTERS).lower()
    draft.openers[nth - 1] = word
    return {"num_paragraphs": draft.paragraphs, "nth_paragraph": nth, "first_word": word}


def _sections(draft: Draft, rng: random.Random) -> dict[str, Any]:
    draft.paragraphs, draft.section_spliter = rng.randint(2, 4), rng.choice(["Section", "SECTION"])
    return {"section_spliter": draft.section_spliter, "num_sections": draft.paragraphs}


def _pick(field: str, choices: list[str], key: str, count: int = 1) -> Any:
    def shape(draft: Draft, rng: random.Random) -> dict[str, Any]:
        chosen = rng.sample(choices, count)
        setattr(draft, field, chosen if count > 1 else chosen[0])
        return {key: chosen if count > 1 else chosen[0]}

    return shape


def _repeated(draft: Draft, rng: random.Random) -> dict[str, Any]:
    draft.repeated = (rng.choice(KEYWORDS), rng.randint(2, 4))
    return {"keyword": draft.repeated[0]}


def _letter_measure(text: str, known: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    letter = rng.choice("aeinorst")
    relation, bound = _bound(text.lower().count(letter), rng)
    return {"letter": letter, "let_frequency": bound, "let_relation": relation}


def _count_of(kind: str) -> Callable[[str], int]:
    counters: dict[str, Callable[[str], int]] = {
        "words": lambda text: len(words(text)),
        "sentences": lambda text: len(sentences(text)),
        "letters": lambda text: len(re.findall(r"[a-zA-Z]", text)),
        "capitals": lambda text: sum(word.isupper() for word in words(text)),
    }
    return counters[kind]


def _quoted(items: list[str]) -> str:
    return ", ".join(f"'{item}'" for item in items)


SPECS: dict[str, Spec] = {
    "length_constraints:number_words": Spec(
        frozenset({"length"}), _none, _counted("num_words", _count_of("words")),
        lambda k: f"Answer with {k['relation']} {k['num_words']} words.",
    ),
    "length_constraints:number_sentences": Spec(
        frozenset({"length"}), _none, _counted("num_sentences", _count_of("sentences")),
        lambda k: f"Your response should have {k['relation']} {k['num_sentences']} sentences.",
    ),
    "letters:letter_counting": Spec(
        frozenset({"length"}), _none, _counted("N", _count_of("letters")),
        lambda k: f"Use {k['relation']} {k['N']} letters (a to z) in all.",
    ),
    "length_constraints:number_paragraphs": Spec(
        frozenset({"shape"}), _paragraphs("stars"), _kept,
        lambda k: f"Write exactly {k['num_paragraphs']} paragraphs, separated from each "
        "other by the markdown divider ***.",
    ),
    "paragraphs:paragraphs": Spec(
        frozenset({"shape"}), _paragraphs("stars", 2), _kept,
        lambda k: "Write exactly 2 paragraphs, separated by the markdown divider ***.",
    ),
    "length_constraints:nth_paragraph_first_word": Spec(
        frozenset({"shape", "start"}), _nth_opener, _kept,
        lambda k: f"Write exactly {k['num_paragraphs']} paragraphs separated by blank lines; "
        f"paragraph {k['nth_paragraph']} must begin with the word '{k['first_word']}'.",
    ),
    "detectable_format:multiple_sections": Spec(
        frozenset({"shape", "case"}), _sections, _kept,
        lambda k: f"Divide your answer into {k['num_sections']} sections, each opening with a "
        f"line '{k['section_spliter']} X' where X is the section's number.",
    ),
    "combination:two_responses": Spec(
        frozenset({"shape", "ending", "start"}), _set(two_responses=True), _kept,
        lambda k: "Give two different answers, separated by six asterisks (******) and "
        "nothing else.",
    ),
    "keywords:existence": Spec(
        frozenset({"keywords"}), _pick("keywords", KEYWORDS, "keywords", 2), _kept,
        lambda k: f"Include the keywords {_quoted(k['keywords'])} in your response.",
    ),
    "keywords:forbidden_words": Spec(
        frozenset({"forbidden"}),
        lambda d, r: {"forbidden_words": r.sample(FORBIDDEN, 2)}, _kept,
        lambda k: f"Do not use the words {_quoted(k['forbidden_words'])} anywhere.",
    ),
    "keywords:frequency": Spec(
        frozenset({"keywords2"}), _repeated,
        lambda t, k, r: {**k, **dict(zip(("relation", "frequency"), _bound(
            len(re.findall(re.escape(k["keyword"]), t, re.IGNORECASE)), r), strict=True))},
        lambda k: f"Use the word '{k['keyword']}' {k['relation']} {k['frequency']} times.",
    ),
    "keywords:letter_frequency": Spec(
        frozenset({"letters"}), _none, _letter_measure,
        lambda k: f"The letter '{k['letter']}' should appear {k['let_relation']} "
        f"{k['let_frequency']} times.",
    ),
    "change_case:english_capital": Spec(
        frozenset({"case", "language"}), _set(case="upper"), _kept,
        lambda k: "Write your whole response in English, in capital letters only.",
    ),
    "change_case:english_lowercase": Spec(
        frozenset({"case", "language"}), _set(case="lower"), _kept,
        lambda k: "Write your whole response in English, in lowercase letters only.",
    ),
    "change_case:capital_word_frequency": Spec(
        frozenset({"case"}), _set(capital_words=lambda r: r.randint(2, 5)),
        _counted("capital_frequency", _count_of("capitals"), "capital_relation"),
        lambda k: f"Use words written entirely in capitals {k['capital_relation']} "
        f"{k['capital_frequency']} times.",
    ),
    "count:lowercase_counting": Spec(
        frozenset({"case"}), _set(case="upper"),
        lambda t, k, r: {"N": len(re.findall(r"\b[a-z]+\b", t)) + r.randint(1, 3)},
        lambda k: f"Use at most {k['N']} words written in lowercase letters.",
    ),
    "detectable_format:title": Spec(
        frozenset({"title", "start"}), _set(title=True), _kept,
        lambda k: "Give your answer a title in double angular brackets, such as <<a quiet day>>.",
    ),
    "detectable_content:postscript": Spec(
        frozenset({"ending"}), _pick("postscript", ["P.S.", "P.P.S"], "postscript_marker"), _kept,
        lambda k: f"End with a postscript that starts with {k['postscript_marker']}",
    ),
    "startend:end_checker": Spec(
        frozenset({"ending"}), _pick("end_phrase", END_PHRASES, "end_phrase"), _kept,
        lambda k: f"Finish your response with the exact phrase '{k['end_phrase']}'. No other "
        "words should follow it.",
    ),
    "last_word:last_word_answer": Spec(
        frozenset({"ending"}), _pick("last_word", KEYWORDS, "last_word"), _kept,
        lambda k: f"The last word of your response must be '{k['last_word']}'.",
    ),
    "startend:quotation": Spec(
        frozenset({"ending", "start"}), _set(quote=True), _kept,
        lambda k: "Wrap your entire response in double quotation marks.",
    ),
    "first_word:first_word_answer": Spec(
        frozenset({"start"}), _pick("first_word", STARTERS, "first_word"), _kept,
        lambda k: f"The first word of your response must be '{k['first_word']}'.",
    ),
    "first_word:first_word_sent": Spec(
        frozenset({"start", "title", "ending", "bullets", "shape"}),
        _pick("every_sentence_starts", STARTERS, "first_word"), _kept,
        lambda k: f"Start every sentence with the word '{k['first_word']}'.",
    ),
    "detectable_format:number_bullet_lists": Spec(
        frozenset({"bullets"}),
        lambda d, r: {"num_bullets": _assign(d, "bullets", r.randint(2, 5))}, _kept,
        lambda k: f"Include exactly {k['num_bullets']} markdown bullet points, such as:\n"
        "* This is a point.\n* This is another point.",
    ),
    "detectable_format:number_highlighted_sections": Spec(
        frozenset({"highlights"}),
        lambda d, r: {"num_highlights": _assign(d, "highlights", r.randint(1, 3))}, _kept,
        lambda k: f"Highlight at least {k['num_highlights']} parts of your answer with "
        "markdown, such as *highlighted part*.",
    ),
    "detectable_content:number_placeholders": Spec(
        frozenset({"placeholders"}),
        lambda d, r: {"num_placeholders": _assign(d, "placeholders", r.randint(1, 3))}, _kept,
        lambda k: f"Include at least {k['num_placeholders']} placeholders in square brackets, "
        "such as [address].",
    ),
    "punctuation:no_comma": Spec(
        frozenset({"comma"}), _none, _kept, lambda k: "Do not use any commas.",
    ),
    "detectable_format:constrained_response": Spec(
        frozenset({"start", "shape"}), _set(constrained=True), _kept,
        lambda k: f"Answer with one of these: {' '.join(CONSTRAINED_ANSWERS)}",
    ),
    "language:response_language": Spec(
        frozenset({"language", "keywords", "keywords2", "start", "ending", "title", "letters",
                   "forbidden", "case", "bullets", "highlights", "placeholders"}),
        _pick("language", sorted(LANGUAGES), "language"), _kept,
        lambda k: f"Write your entire response in {LANGUAGES[k['language']][0]}; no other "
        "language is allowed.",
    ),
}  # fmt: skip
"""What the generator asks for: every checker but the few that make dull tasks."""


def _assign(draft: Draft, field: str, value: int) -> int:
    setattr(draft, field, value)
    return value


def generate_tasks(n: int, seed: int, difficulty: str) -> list[dict[str, Any]]:
    """`n` tasks with `LEVELS[difficulty]` instructions each (the entry's generator)."""
    rng = random.Random(f"instruction_following-{seed}-{difficulty}")
    return [_task(f"if-{difficulty}-{seed}-{i:04d}", difficulty, rng)[0] for i in range(n)]


def task_set(count: int = 300, seed: int = 0) -> list[tuple[dict[str, Any], str]]:
    """The bundled tasks with their reference answers, difficulties in turn."""
    rng = random.Random(f"instruction_following-bundle-{seed}")
    levels = list(LEVELS)
    return [_task(f"if-{i + 1:03d}", levels[i % len(levels)], rng) for i in range(count)]


def _task(task_id: str, difficulty: str, rng: random.Random) -> tuple[dict[str, Any], str]:
    """A task and its reference answer; drawn again until the reference follows them all."""
    while True:
        names = _instructions(LEVELS[difficulty], rng)
        draft = Draft(paragraphs=rng.randint(1, 3), sentences_per_paragraph=rng.randint(2, 4))
        known = [SPECS[name].shape(draft, rng) for name in names]
        request = rng.choice(REQUESTS).format(rng.choice(TOPICS))
        reference = render(draft, rng)
        kwargs = [
            SPECS[name].measure(reference, k, rng) for name, k in zip(names, known, strict=True)
        ]
        if not all(grade(reference, list(zip(names, kwargs, strict=True)))):
            continue
        listed = "\n".join(
            f"- {SPECS[name].describe(k)}" for name, k in zip(names, kwargs, strict=True)
        )
        row = {
            "id": task_id,
            "env": "instruction_following",
            "difficulty": difficulty,
            "prompt": f"{request}\n\n{rng.choice(INTROS)}\n{listed}",
            "instruction_id_list": names,
            "kwargs": kwargs,
        }
        return row, reference


def _instructions(count: int, rng: random.Random) -> list[str]:
    chosen: list[str] = []
    taken: set[str] = set()
    for name in rng.sample(sorted(SPECS), len(SPECS)):
        if SPECS[name].groups & taken:
            continue
        chosen.append(name)
        taken |= SPECS[name].groups
        if len(chosen) == count:
            break
    return chosen


MISTAKES: list[Callable[[str], str]] = [
    lambda text: text.rsplit("\n", 1)[0] if "\n" in text else text + " Well, that is all.",
    lambda text: text + "\nWell, one more thing, before I go.",
    lambda text: f"{text}\n\n{text}",
    lambda text: text.swapcase(),
    lambda text: " ".join(words(text)[: max(3, len(words(text)) // 3)]),
    lambda text: f"{text} However, that is {' '.join(FORBIDDEN[1:])}.",
    lambda text: "OK, sure.",
]
"""Near misses tried in turn for each task's wrong answer: the first that breaks one of its
instructions is used."""


def wrong_answer(row: dict[str, Any], reference: str) -> str:
    instructions = list(zip(row["instruction_id_list"], row["kwargs"], strict=True))
    for mistake in MISTAKES:
        attempt = mistake(reference)
        if not all(grade(attempt, instructions)):
            return attempt
    raise ValueError(f"{row['id']}: no near miss breaks an instruction")


CHEAT_EDITS: dict[str, tuple[str, Callable[[str], str]]] = {
    "empty_title": ("detectable_format:title", lambda t: re.sub(r"<<[^\n]+?>>", "<< >>", t)),
    "empty_placeholders": (
        "detectable_content:number_placeholders",
        lambda t: re.sub(r"\[[^\]\n]*\]", "[]", t),
    ),
    "bare_bullet_markers": (
        "detectable_format:number_bullet_lists",
        lambda t: re.sub(r"^\* .*$", "* ", t, flags=re.MULTILINE),
    ),
    "empty_highlights": (
        "detectable_format:number_highlighted_sections",
        lambda t: re.sub(r"\*(\w+)\*", r"\1 * *", t),
    ),
    "bare_postscript": (
        "detectable_content:postscript",
        lambda t: re.sub(r"(P\.P\.S|P\.S\.)[^\n]*", r"\1", t, flags=re.IGNORECASE),
    ),
    "no_letters_for_language": ("language:response_language", lambda t: "1 2 3 4 5 6 7 8 9"),
}
"""Cheats on one instruction: its mark kept, its substance taken away."""
CHEAT_EVERY = 4


def cheats(tasks: list[tuple[dict[str, Any], str]]) -> list[Cheat]:
    made = []
    for number, (row, reference) in enumerate(tasks):
        for kind, (instruction, edit) in CHEAT_EDITS.items():
            if instruction in row["instruction_id_list"]:
                made.append(Cheat(id=row["id"], cheat=kind, attempt=edit(reference)))
        if number % CHEAT_EVERY == 0:
            made += [
                Cheat(id=row["id"], cheat="empty_response", attempt=""),
                Cheat(id=row["id"], cheat="punctuation_only", attempt="... !!! ***"),
            ]
    return made


def main() -> None:
    tasks = task_set()
    assert set(SPECS) <= set(CHECKERS)
    TASKS.write_bytes(tasks_jsonl(row for row, _ in tasks))
    made = [
        Solution(id=row["id"], reference=ref, wrong=wrong_answer(row, ref)) for row, ref in tasks
    ]
    SOLUTIONS.write_bytes(solutions_jsonl(made))
    CHEATS.write_bytes(cheats_jsonl(cheats(tasks)))


if __name__ == "__main__":
    main()
