"""Writing a response to a plan: what the generator uses to make each task's reference answer.

A `Draft` says which features a response has (paragraphs, a title, keywords, bullets, a
postscript, a case...); `render` writes plain filler sentences with those features. The
generator then measures the text to set the counts its instructions ask for, so the
reference answer follows every instruction by construction (and is checked before a task is
kept).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["LANGUAGES", "PLACEHOLDERS", "Draft", "render"]

SUBJECTS = ["the gardener", "a small team", "my neighbour", "the old map", "our teacher",
            "the young baker", "a careful reader", "the city council", "the tired runner",
            "a patient doctor", "the river guide", "my grandmother"]  # fmt: skip
VERBS = ["finds", "explains", "keeps", "shares", "notices", "describes", "remembers", "plans",
         "follows", "improves", "checks", "builds"]  # fmt: skip
OBJECTS = ["a quiet path", "the main idea", "simple rules", "an honest answer", "the next step",
           "a useful habit", "the weekly schedule", "a clear picture", "the missing piece",
           "fresh bread", "a long story", "the right tools"]  # fmt: skip
ENDINGS = ["every morning", "with great care", "before lunch", "in the end", "without any fuss",
           "after the rain", "during the winter", "on most days", "for the whole town",
           "at a steady pace"]  # fmt: skip
LANGUAGES = {
    "fr": ("French", [
        "Le jardin est très calme le matin.", "Nous aimons marcher près de la rivière.",
        "Les enfants jouent dans le parc avec leurs amis.",
        "Cette maison a une grande cuisine lumineuse.",
        "Il fait souvent beau pendant les vacances d'été.",
        "Mon frère lit un livre chaque soir.", "La ville est belle quand il neige.",
        "Elle prépare du café pour toute la famille.",
    ]),
    "es": ("Spanish", [
        "El jardín está muy tranquilo por la mañana.", "Nos gusta caminar cerca del río.",
        "Los niños juegan en el parque con sus amigos.",
        "Esta casa tiene una cocina grande y luminosa.", "Mi hermano lee un libro cada noche.",
        "La ciudad es bonita cuando nieva.", "Ella prepara café para toda la familia.",
        "Siempre hace buen tiempo durante las vacaciones de verano.",
    ]),
    "de": ("German", [
        "Der Garten ist am Morgen sehr ruhig.", "Wir gehen gern am Fluss spazieren.",
        "Die Kinder spielen mit ihren Freunden im Park.",
        "Dieses Haus hat eine große und helle Küche.", "Mein Bruder liest jeden Abend ein Buch.",
        "Im Winter ist die Stadt besonders schön.", "Sie kocht Kaffee für die ganze Familie.",
        "Im Sommer ist das Wetter meistens gut.",
    ]),
    "it": ("Italian", [
        "Il giardino è molto tranquillo la mattina.", "Ci piace camminare vicino al fiume.",
        "I bambini giocano nel parco con i loro amici.",
        "Questa casa ha una cucina grande e luminosa.", "Mio fratello legge un libro ogni sera.",
        "La città è bella quando nevica.", "Lei prepara il caffè per tutta la famiglia.",
        "In estate il tempo è quasi sempre bello.",
    ]),
}  # fmt: skip
PLACEHOLDERS = ["[name]", "[address]", "[date]", "[city]", "[company]", "[phone number]"]


@dataclass
class Draft:
    """The features a response should have; `render` writes it."""

    language: str = "en"
    paragraphs: int = 1
    separator: Literal["blank", "stars"] = "blank"
    sentences_per_paragraph: int = 3
    openers: dict[int, str] = field(default_factory=dict)
    """Paragraph index (from 0) -> the word its first sentence starts with."""
    first_word: str | None = None
    every_sentence_starts: str | None = None
    keywords: list[str] = field(default_factory=list)
    repeated: tuple[str, int] | None = None
    capital_words: int = 0
    highlights: int = 0
    placeholders: int = 0
    bullets: int = 0
    section_spliter: str | None = None
    title: bool = False
    postscript: str | None = None
    end_phrase: str | None = None
    last_word: str | None = None
    quote: bool = False
    case: Literal["upper", "lower"] | None = None
    as_json: bool = False
    two_responses: bool = False
    constrained: bool = False
    repeat: str | None = None


def render(draft: Draft, rng: random.Random) -> str:
    """A response with the features of `draft`, in filler sentences drawn with `rng`."""
    if draft.two_responses:
        text = f"{_body(draft, rng)}\n******\n{_body(draft, rng)}"
    else:
        text = _body(draft, rng)
    if draft.as_json:
        text = _as_json(text, rng)
    if draft.case == "upper":
        text = text.upper()
    elif draft.case == "lower":
        text = text.lower()
    return f'"{text}"' if draft.quote else text


def _body(draft: Draft, rng: random.Random) -> str:
    count = draft.paragraphs * draft.sentences_per_paragraph
    sentences = [_sentence(draft.language, rng) for _ in range(count)]
    for keyword in draft.keywords:
        _insert(sentences, rng.randrange(count), keyword, rng)
    if draft.repeated is not None:
        word, times = draft.repeated
        for index in range(times):
            _insert(sentences, index % count, word, rng)
    _mark_words(sentences, draft.capital_words, str.upper, rng)
    _mark_words(sentences, draft.highlights, lambda word: f"*{word}*", rng)
    for _ in range(draft.placeholders):
        _insert(sentences, rng.randrange(count), rng.choice(PLACEHOLDERS), rng)
    if draft.every_sentence_starts:
        sentences = [_starting(sentence, draft.every_sentence_starts) for sentence in sentences]
    if draft.last_word:
        sentences[-1] = f"{sentences[-1].rstrip('.')} {draft.last_word}."
    paragraphs = [
        sentences[start : start + draft.sentences_per_paragraph]
        for start in range(0, count, draft.sentences_per_paragraph)
    ]
    for index, word in draft.openers.items():
        paragraphs[index][0] = _starting(paragraphs[index][0], word)
    if draft.first_word:
        paragraphs[0][0] = _starting(paragraphs[0][0], draft.first_word)
    if draft.constrained:
        paragraphs[0].insert(0, "My answer is yes.")
    texts = [" ".join(paragraph) for paragraph in paragraphs]
    if draft.bullets:
        points = (f"* {_sentence(draft.language, rng)}" for _ in range(draft.bullets))
        texts[-1] += "\n" + "\n".join(points)
    if draft.section_spliter:
        texts = [f"{draft.section_spliter} {i}\n{text}" for i, text in enumerate(texts, start=1)]
    if draft.end_phrase:
        texts[-1] += f" {draft.end_phrase}"
    if draft.postscript:
        texts[-1] += f"\n{draft.postscript} {_sentence(draft.language, rng)}"
    separator = "\n\n***\n\n" if draft.separator == "stars" else "\n\n"
    text = separator.join(texts)
    if draft.title:
        text = f"<<{rng.choice(OBJECTS).title()}>>\n{text}"
    if draft.repeat:
        text = f"{draft.repeat}\n{text}"
    return text


def _sentence(language: str, rng: random.Random) -> str:
    if language != "en":
        return rng.choice(LANGUAGES[language][1])
    words = (
        f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} {rng.choice(ENDINGS)}"
    )
    return f"{words[0].upper()}{words[1:]}."


def _insert(sentences: list[str], index: int, word: str, rng: random.Random) -> None:
    """Put `word` inside sentence `index`, never first (the first word may be asked for)."""
    words = sentences[index].rstrip(".").split(" ")
    words.insert(rng.randint(1, len(words)), word)
    sentences[index] = " ".join(words) + "."


def _mark_words(
    sentences: list[str], count: int, mark: Callable[[str], str], rng: random.Random
) -> None:
    """Apply `mark` to `count` words, none of them the first of its sentence."""
    for _ in range(count):
        index = rng.randrange(len(sentences))
        words = sentences[index].rstrip(".").split(" ")
        choices = [i for i in range(1, len(words)) if words[i].isalpha() and words[i].islower()]
        if choices:
            position = rng.choice(choices)
            words[position] = mark(words[position])
            sentences[index] = " ".join(words) + "."


def _starting(sentence: str, word: str) -> str:
    return f"{word.capitalize()} {sentence[0].lower()}{sentence[1:]}"


def _as_json(text: str, rng: random.Random) -> str:
    document = {"answer": [line for line in text.splitlines() if line.strip()]}
    dumped = json.dumps(document, indent=2, ensure_ascii=False)
    return f"```json\n{dumped}\n```" if rng.random() < 0.5 else dumped
