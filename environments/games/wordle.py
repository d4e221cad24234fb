"""Wordle: guess a secret five-letter word; each guess is marked letter by letter.

The word lists come from two packages that ship them (nothing is downloaded): the
lower-case five-letter words of Webster's Second International (`web2`, public domain, in
`english-words`) are the possible secrets, ranked by how common they are in English
(`wordfreq`); any of those or any five-letter word `wordfreq` knows is a valid guess (so
plurals and past tenses are). Loading them takes about 0.3 s, once per process.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import ClassVar

from environments.games.rules import Difficulty, Game, IllegalMove

__all__ = ["LEVELS", "Wordle", "guess_list", "marks", "secret_pool"]

LENGTH = 5
FREQUENCY_WORDS = 100_000
"""How far down wordfreq's English list valid guesses are taken from."""
LEVELS: dict[Difficulty, tuple[slice, int]] = {
    "easy": (slice(0, 1000), 8),
    "medium": (slice(0, 2000), 6),
    "hard": (slice(1000, 3000), 6),
}
"""Per difficulty: the secrets (a range of the most common words first), and the guesses."""
RIGHT, ELSEWHERE, ABSENT = "G", "Y", "-"


@cache
def _ranked_secrets() -> tuple[str, ...]:
    from english_words import get_english_words_set
    from wordfreq import top_n_list

    web2 = {w for w in get_english_words_set(["web2"]) if _five_letters(w) and w.islower()}
    return tuple(w for w in top_n_list("en", FREQUENCY_WORDS) if w in web2)


@cache
def guess_list() -> frozenset[str]:
    """Every valid guess, lower case."""
    from english_words import get_english_words_set
    from wordfreq import top_n_list

    web2 = {w.lower() for w in get_english_words_set(["web2"]) if _five_letters(w)}
    common = {w for w in top_n_list("en", FREQUENCY_WORDS) if _five_letters(w)}
    return frozenset(web2 | common)


def secret_pool(difficulty: Difficulty) -> tuple[str, ...]:
    """The words a secret of `difficulty` is drawn from, most common first."""
    return _ranked_secrets()[LEVELS[difficulty][0]]


def _five_letters(word: str) -> bool:
    return len(word) == LENGTH and word.isascii() and word.isalpha()


def marks(guess: str, secret: str) -> str:
    """Wordle's marking: G right letter and place, Y in the word elsewhere, - not (a letter
    guessed more often than the secret holds it is marked Y only as often as it is there)."""
    result = [ABSENT] * LENGTH
    left = Counter(s for g, s in zip(guess, secret, strict=True) if g != s)
    for index, (g, s) in enumerate(zip(guess, secret, strict=True)):
        if g == s:
            result[index] = RIGHT
        elif left[g] > 0:
            result[index] = ELSEWHERE
            left[g] -= 1
    return "".join(result)


@dataclass
class Wordle(Game):
    name: ClassVar[str] = "wordle"
    rules: ClassVar[str] = (
        "We are playing Wordle. Guess the secret five-letter English word. After each guess "
        "every letter is marked: G (green) the letter is in the word at that place, Y "
        "(yellow) the letter is in the word at another place, - (gray) the letter is not in "
        "the word (or not as many times). A guess must be a real five-letter English word. "
        "You win by guessing the word within the allowed guesses."
    )
    move_example: ClassVar[str] = "crane"

    secret: str = ""
    guesses: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def new(cls, seed: int, difficulty: Difficulty) -> Wordle:
        secret = random.Random(f"wordle:{seed}").choice(secret_pool(difficulty))
        return cls(max_moves=LEVELS[difficulty][1], secret=secret)

    def apply(self, move: str) -> str:
        guess = move.strip().lower()
        if not _five_letters(guess):
            raise IllegalMove(f"{move!r} is not a five-letter word: guess one word of 5 letters")
        if guess not in guess_list():
            raise IllegalMove(f"{guess.upper()} is not in the word list: guess an English word")
        marked = marks(guess, self.secret)
        self.guesses.append((guess, marked))
        self.won = guess == self.secret
        return (
            f"{guess.upper()} is the word: you win!" if self.won else f"{guess.upper()}: {marked}"
        )

    def board(self) -> str:
        lines = [f"{guess.upper()}  {' '.join(marked)}" for guess, marked in self.guesses]
        absent = sorted(self._letters(absent=True) - self._letters(absent=False))
        return "\n".join(
            [
                f"Wordle, guess {self.moves + 1} of {self.max_moves}.",
                *(["Your guesses so far:", *lines] if lines else ["No guesses yet."]),
                *([f"Letters not in the word: {' '.join(absent).upper()}"] if absent else []),
            ]
        )

    def _letters(self, *, absent: bool) -> set[str]:
        """The letters guessed that were marked absent (or that were not)."""
        return {
            letter
            for guess, marked in self.guesses
            for letter, mark in zip(guess, marked, strict=True)
            if (mark == ABSENT) == absent
        }


OPENER = "slate"
WIDE_GUESSES = 300
"""Besides the words still possible, the solver weighs this many of the most common secrets."""


def solve(difficulty: Difficulty, answer: Callable[[str], str]) -> list[str]:
    """The guesses that find a secret of `difficulty` from its marks alone: a fixed opener,
    then the word that splits the secrets still possible into the most groups (a possible
    one on ties), until one is left."""
    pool = secret_pool(difficulty)
    possible = list(pool)
    wide = [*_ranked_secrets()[:WIDE_GUESSES]]
    guess = OPENER
    played = []
    while True:
        played.append(guess)
        marked = answer(guess)
        if marked == RIGHT * LENGTH:
            return played
        possible = [word for word in possible if marks(guess, word) == marked]
        if len(possible) <= 2:
            guess = possible[0]
            continue
        chosen = set(possible)
        guess = max([*possible, *wide], key=lambda g: (_groups(g, possible), g in chosen))


def _groups(guess: str, possible: list[str]) -> int:
    return len({marks(guess, word) for word in possible})
