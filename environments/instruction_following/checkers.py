"""The instructions a response can be checked against, by IFEval's ids (`group:name`).

Each checker takes the response and the instruction's keyword arguments (the row's `kwargs`)
and says whether the response follows it. Their arguments are read off their signatures and
checked when a session is seeded (`arguments_model`), so a row with a misspelt or missing
argument is refused before any model runs. The rules are IFEval's, as NeMo Gym grades them,
except where README.md says we differ (marks that hold nothing do not count).
"""

from __future__ import annotations

import functools
import inspect
import json
import re
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, create_model

from environments.instruction_following.text import Relation, holds, paragraphs, sentences, words

__all__ = ["CHECKERS", "arguments_model", "detect_language"]

Checker = Callable[..., bool]
CHECKERS: dict[str, Checker] = {}
STARS = r"\s?\*\*\*\s?"
"""The markdown divider between paragraphs (`***`)."""
BLANK_LINE = r"\n\n"
CONSTRAINED_ANSWERS = ("My answer is yes.", "My answer is no.", "My answer is maybe.")


def checker(instruction_id: str) -> Callable[[Checker], Checker]:
    def register(function: Checker) -> Checker:
        CHECKERS[instruction_id] = function
        return function

    return register


@functools.cache
def arguments_model(instruction_id: str) -> type[BaseModel]:
    """The model of an instruction's keyword arguments, read off its checker's signature."""
    parameters = list(inspect.signature(CHECKERS[instruction_id]).parameters.values())[1:]
    fields: dict[str, Any] = {
        parameter.name: (
            parameter.annotation,
            ... if parameter.default is parameter.empty else parameter.default,
        )
        for parameter in parameters
    }
    name = instruction_id.replace(":", "_")
    return create_model(name, __config__=ConfigDict(extra="forbid"), **fields)  # type: ignore[call-overload,no-any-return]


# Length


@checker("length_constraints:number_words")
def number_words(text: str, num_words: int, relation: Relation) -> bool:
    return holds(len(words(text)), relation, num_words)


@checker("length_constraints:number_sentences")
def number_sentences(text: str, num_sentences: int, relation: Relation) -> bool:
    return holds(len(sentences(text)), relation, num_sentences)


@checker("length_constraints:number_paragraphs")
def number_paragraphs(text: str, num_paragraphs: int) -> bool:
    found = paragraphs(text, STARS)
    return found is not None and len(found) == num_paragraphs


@checker("length_constraints:nth_paragraph_first_word")
def nth_paragraph_first_word(
    text: str, num_paragraphs: int, nth_paragraph: int, first_word: str
) -> bool:
    found = paragraphs(text, BLANK_LINE)
    if found is None or len(found) != num_paragraphs or not 1 <= nth_paragraph <= len(found):
        return False
    opening = words(found[nth_paragraph - 1])
    return bool(opening) and opening[0].lower() == first_word.lower()


@checker("paragraphs:paragraphs")
def two_paragraphs_by_stars(text: str) -> bool:
    return number_paragraphs(text, 2)


@checker("paragraphs:paragraphs2")
def two_paragraphs_by_blank_lines(text: str) -> bool:
    found = paragraphs(text, BLANK_LINE)
    return found is not None and len(found) == 2


@checker("letters:letter_counting")
def letter_counting(text: str, N: int, relation: Relation) -> bool:
    return holds(len(re.findall(r"[a-zA-Z]", text)), relation, N)


# Words


@checker("keywords:existence")
def keywords_exist(text: str, keywords: list[str]) -> bool:
    return all(re.search(re.escape(word), text, re.IGNORECASE) for word in keywords)


@checker("keywords:forbidden_words")
def forbidden_words(text: str, forbidden_words: list[str]) -> bool:
    return not any(
        re.search(rf"\b{re.escape(word)}\b", text, re.IGNORECASE) for word in forbidden_words
    )


@checker("keywords:frequency")
def keyword_frequency(text: str, keyword: str, frequency: int, relation: Relation) -> bool:
    return holds(len(re.findall(re.escape(keyword), text, re.IGNORECASE)), relation, frequency)


@checker("keywords:letter_frequency")
def letter_frequency(text: str, letter: str, let_frequency: int, let_relation: Relation) -> bool:
    return holds(text.lower().count(letter.lower()), let_relation, let_frequency)


@checker("first_word:first_word_answer")
def first_word_answer(text: str, first_word: str) -> bool:
    found = words(text)
    return bool(found) and found[0].lower() == first_word.lower()


@checker("first_word:first_word_sent")
def first_word_of_each_sentence(text: str, first_word: str) -> bool:
    found = [words(sentence) for sentence in sentences(text)]
    return bool(found) and all(w[0].lower() == first_word.lower() for w in found)


@checker("last_word:last_word_answer")
def last_word_answer(text: str, last_word: str) -> bool:
    found = words(text)
    return bool(found) and found[-1].lower() == last_word.lower()


@checker("last_word:last_word_sent")
def last_word_of_each_sentence(text: str, last_word: str) -> bool:
    found = [words(sentence) for sentence in sentences(text)]
    return bool(found) and all(w[-1].lower() == last_word.lower() for w in found)


@checker("count:lowercase_counting")
def lowercase_counting(text: str, N: int) -> bool:
    """At most N words written in lowercase letters only, in all (NeMo Gym's reading)."""
    return len(re.findall(r"\b[a-z]+\b", text)) <= N


# Case


@checker("change_case:english_capital")
def all_capitals(text: str) -> bool:
    return text.isupper() and detect_language(text) == "en"


@checker("change_case:english_lowercase")
def all_lowercase(text: str) -> bool:
    return text.islower() and detect_language(text) == "en"


@checker("change_case:capital_word_frequency")
def capital_word_frequency(text: str, capital_frequency: int, capital_relation: Relation) -> bool:
    capitals = [word for word in words(text) if word.isupper()]
    return holds(len(capitals), capital_relation, capital_frequency)


# Format


@checker("detectable_format:json_format")
def json_format(text: str) -> bool:
    body = re.sub(r"^\s*```(?:json)?\s*|\s*```\s*$", "", text.strip(), flags=re.IGNORECASE)
    try:
        json.loads(body)
    except ValueError:
        return False
    return True


@checker("detectable_format:number_bullet_lists")
def number_bullet_lists(text: str, num_bullets: int) -> bool:
    """Lines opening with `* ` or `- ` followed by text; a marker alone is no bullet."""
    bullets = re.findall(r"^\s*(?:\*(?!\*)|-)\s*\S", text, re.MULTILINE)
    return len(bullets) == num_bullets


@checker("detectable_format:number_highlighted_sections")
def highlighted_sections(text: str, num_highlights: int) -> bool:
    spans = re.findall(r"\*([^\n*]+)\*", text) + re.findall(r"\*\*([^\n*]+)\*\*", text)
    return sum(bool(span.strip()) for span in spans) >= num_highlights


@checker("detectable_format:multiple_sections")
def multiple_sections(text: str, section_spliter: str, num_sections: int) -> bool:
    parts = re.split(rf"\s?{re.escape(section_spliter)}\s?\d+\s?", text)
    return len(parts) - 1 >= num_sections and all(part.strip() for part in parts[1:])


@checker("detectable_format:title")
def title(text: str) -> bool:
    return any(inside.strip() for inside in re.findall(r"<<([^\n]+?)>>", text))


@checker("detectable_format:constrained_response")
def constrained_response(text: str) -> bool:
    return any(answer in text for answer in CONSTRAINED_ANSWERS)


@checker("startend:quotation")
def quotation(text: str) -> bool:
    text = text.strip()
    return len(text) > 2 and text[0] == '"' and text[-1] == '"' and bool(words(text))


@checker("startend:end_checker")
def end_checker(text: str, end_phrase: str) -> bool:
    return text.strip().strip('"').lower().endswith(end_phrase.strip().lower())


@checker("combination:two_responses")
def two_responses(text: str) -> bool:
    found = paragraphs(text, r"\*{6}")
    return found is not None and len(found) == 2 and found[0] != found[1]


@checker("combination:repeat_prompt")
def repeat_prompt(text: str, prompt_to_repeat: str) -> bool:
    return text.strip().lower().startswith(prompt_to_repeat.strip().lower())


# Content


@checker("detectable_content:number_placeholders")
def number_placeholders(text: str, num_placeholders: int) -> bool:
    """Square brackets around something: `[address]` counts, `[]` does not."""
    return len(re.findall(r"\[[^\[\]\n]*\w[^\[\]\n]*\]", text)) >= num_placeholders


@checker("detectable_content:postscript")
def postscript(text: str, postscript_marker: str) -> bool:
    """The marker, then some words on its line (a bare `P.S.` adds nothing)."""
    marker = {"P.S.": r"p\.\s?s\.", "P.P.S": r"p\.\s?p\.\s?s\.?"}.get(
        postscript_marker, re.escape(postscript_marker.lower())
    )
    return re.search(rf"{marker}[^\n]*\w", text.lower()) is not None


@checker("punctuation:no_comma")
def no_comma(text: str) -> bool:
    return "," not in text and "\N{FULLWIDTH COMMA}" not in text


@checker("punctuation:punctuation_dot")
def no_dot(text: str) -> bool:
    return "." not in text


@checker("punctuation:punctuation_exclamation")
def no_exclamation(text: str) -> bool:
    return "!" not in text


@checker("language:response_language")
def response_language(text: str, language: str) -> bool:
    return detect_language(text) == language


def detect_language(text: str) -> str | None:
    """The ISO 639-1 code langdetect reads `text` as, seeded so that it always says the same;
    None when there is nothing to read (no letters)."""
    from langdetect import DetectorFactory, LangDetectException, detect

    DetectorFactory.seed = 0
    try:
        return str(detect(text))
    except LangDetectException:
        return None
