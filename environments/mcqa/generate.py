"""Multiple-choice questions written for this project: arithmetic, unit conversions and
facts (capitals, chemical symbols), each with plausible wrong options (the slips people make:
an operation done in the wrong order, a conversion factor applied the wrong way, a country's
largest city for its capital) and the letters shuffled, all from a seed.

    python -m environments.mcqa.generate

rewrites `data/questions.jsonl` (300 questions, seed 0), `data/solutions.jsonl` and
`data/cheats.jsonl`; `gym data generate mcqa --n N --seed S --difficulty D` makes more.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gym_core.hub.solutions import Cheat, Solution, cheats_jsonl, solutions_jsonl, tasks_jsonl

__all__ = ["QUESTIONS", "generate_tasks", "question_set"]

DATA = Path(__file__).parent / "data"
QUESTIONS = DATA / "questions.jsonl"
SOLUTIONS = DATA / "solutions.jsonl"
CHEATS = DATA / "cheats.jsonl"
DIFFICULTIES = ("easy", "medium", "hard")
CHEAT_EVERY = 3
"""Cheat probes go to every third bundled question (they do not depend on the question)."""

TIMES, DIVIDED = "\N{MULTIPLICATION SIGN}", "\N{DIVISION SIGN}"
ANSWER_STYLES = {
    "boxed": "Put the letter of your answer in \\boxed{}.",
    "answer_line": "Finish with a line that reads 'Answer: ' followed by the letter.",
    "bare": "Reply with the letter of the correct option and nothing else.",
}

CAPITALS = {  # country: (capital, a city people mistake for it, or None)
    "France": ("Paris", None), "Germany": ("Berlin", "Munich"), "Italy": ("Rome", "Milan"),
    "Spain": ("Madrid", "Barcelona"), "Portugal": ("Lisbon", "Porto"), "Japan": ("Tokyo", "Osaka"),
    "Canada": ("Ottawa", "Toronto"), "Australia": ("Canberra", "Sydney"),
    "Brazil": ("Brasília", "Rio de Janeiro"), "Argentina": ("Buenos Aires", "Córdoba"),
    "Egypt": ("Cairo", "Alexandria"), "Kenya": ("Nairobi", "Mombasa"),
    "India": ("New Delhi", "Mumbai"), "China": ("Beijing", "Shanghai"),
    "Russia": ("Moscow", "Saint Petersburg"), "Norway": ("Oslo", "Bergen"),
    "Sweden": ("Stockholm", "Gothenburg"), "Finland": ("Helsinki", None),
    "Denmark": ("Copenhagen", None), "Poland": ("Warsaw", "Kraków"), "Greece": ("Athens", None),
    "Turkey": ("Ankara", "Istanbul"), "Mexico": ("Mexico City", "Guadalajara"),
    "Peru": ("Lima", "Cusco"), "Chile": ("Santiago", "Valparaíso"), "Ireland": ("Dublin", "Cork"),
    "Austria": ("Vienna", "Salzburg"), "Hungary": ("Budapest", None),
    "Netherlands": ("Amsterdam", "Rotterdam"), "Belgium": ("Brussels", "Antwerp"),
    "Switzerland": ("Bern", "Zurich"), "South Korea": ("Seoul", "Busan"),
    "Thailand": ("Bangkok", None), "Vietnam": ("Hanoi", "Ho Chi Minh City"),
    "New Zealand": ("Wellington", "Auckland"), "Nigeria": ("Abuja", "Lagos"),
    "Morocco": ("Rabat", "Casablanca"), "Colombia": ("Bogotá", "Medellín"),
    "Czech Republic": ("Prague", "Brno"), "Iran": ("Tehran", "Isfahan"),
}  # fmt: skip
SYMBOLS = {  # element: (symbol, whether the symbol comes from another (Latin) name)
    "gold": ("Au", True), "silver": ("Ag", True), "iron": ("Fe", True), "sodium": ("Na", True),
    "potassium": ("K", True), "lead": ("Pb", True), "copper": ("Cu", True), "tin": ("Sn", True),
    "mercury": ("Hg", True), "tungsten": ("W", True), "oxygen": ("O", False),
    "hydrogen": ("H", False), "carbon": ("C", False), "nitrogen": ("N", False),
    "helium": ("He", False), "calcium": ("Ca", False), "zinc": ("Zn", False),
    "sulfur": ("S", False), "chlorine": ("Cl", False), "magnesium": ("Mg", False),
    "neon": ("Ne", False), "uranium": ("U", False), "phosphorus": ("P", False),
}  # fmt: skip
UNITS = [  # (big unit, small unit, small units in one big one)
    ("kilometres", "metres", 1000), ("metres", "centimetres", 100),
    ("kilograms", "grams", 1000), ("litres", "millilitres", 1000), ("hours", "minutes", 60),
    ("minutes", "seconds", 60), ("days", "hours", 24), ("weeks", "days", 7),
    ("feet", "inches", 12), ("yards", "feet", 3),
]  # fmt: skip

Question = tuple[str, str, list[str]]
"""The question, the right option, and the wrong ones."""


def generate_tasks(n: int, seed: int, difficulty: str) -> list[dict[str, Any]]:
    """`n` questions of one difficulty (the `mcqa` entry's generator): the same arguments
    give the same rows."""
    rng = random.Random(f"mcqa-{seed}-{difficulty}")
    return [_row(f"mcqa-{difficulty}-{seed}-{i:04d}", difficulty, rng) for i in range(n)]


def question_set(count: int = 300, seed: int = 0) -> list[dict[str, Any]]:
    """The bundled questions: difficulties in turn, ids `mcqa-001`..."""
    rng = random.Random(f"mcqa-bundle-{seed}")
    return [
        _row(f"mcqa-{i + 1:03d}", DIFFICULTIES[i % len(DIFFICULTIES)], rng) for i in range(count)
    ]


def _row(task_id: str, difficulty: str, rng: random.Random) -> dict[str, Any]:
    topic = rng.choice(sorted(_MAKERS))
    question, right, wrong = _MAKERS[topic](difficulty, rng)
    choices = [right, *rng.sample(wrong, 4 if difficulty == "hard" else 3)]
    rng.shuffle(choices)
    letters = "ABCDE"[: len(choices)]
    style = rng.choice(sorted(ANSWER_STYLES))
    listed = "\n".join(f"{letter}: {text}" for letter, text in zip(letters, choices, strict=True))
    return {
        "id": task_id,
        "env": "mcqa",
        "topic": topic,
        "difficulty": difficulty,
        "answer_style": style,
        "prompt": f"{question}\n{listed}\n\n{ANSWER_STYLES[style]}",
        "options": [{letter: text} for letter, text in zip(letters, choices, strict=True)],
        "expected_answer": letters[choices.index(right)],
        "grading_mode": "letter",
    }


def _arithmetic(difficulty: str, rng: random.Random) -> Question:
    if difficulty == "easy":
        a, b = rng.randint(12, 99), rng.randint(12, 99)
        return f"What is {a} + {b}?", str(a + b), _near(a + b, [a - b, a + b + 10])
    if difficulty == "medium":
        a, b, c = rng.randint(12, 40), rng.randint(3, 9), rng.randint(5, 60)
        question = f"What is {a} {TIMES} {b} + {c}?"
        return question, str(a * b + c), _near(a * b + c, [a * (b + c), a + b * c])
    d, q, c = rng.randint(3, 9), rng.randint(11, 30), rng.randint(2, 9)
    question = f"What is ({d * q} {DIVIDED} {d} - {c}) {TIMES} {c}?"
    right = (q - c) * c
    return question, str(right), _near(right, [q - c * c, d * q // (d - c or 1) * c, q * c])


def _near(right: int, slips: list[int]) -> list[str]:
    """Wrong options: the slips given, then numbers close to the answer."""
    wrong = dict.fromkeys(str(value) for value in slips if value != right and value > 0)
    for offset in (1, -1, 10, -10, 2, 11, -9):
        if len(wrong) >= 6:
            break
        if right + offset > 0:
            wrong.setdefault(str(right + offset))
    return list(wrong)


def _units(difficulty: str, rng: random.Random) -> Question:
    big, small, factor = rng.choice(UNITS)
    if difficulty == "easy":
        amount = rng.randint(2, 12)
        question = f"How many {small} are there in {amount} {big}?"
        right = amount * factor
        slips = [amount * factor * 10, amount * factor // 10, amount + factor, factor]
    elif difficulty == "medium":
        count = rng.randint(2, 9) * factor
        question = f"How many {big} are there in {count} {small}?"
        right = count // factor
        slips = [count * factor, right * 10, count - factor, right + factor]
    else:
        whole, half = rng.randint(1, 9), factor // 2 if factor % 2 == 0 else factor
        question = f"How many {small} are there in {_decimal(whole + half / factor)} {big}?"
        right = whole * factor + half
        slips = [whole * factor + 5, whole * 10 + 5, right * 10, right // 10]
    return question, str(right), _near(right, slips)


def _decimal(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _capital(difficulty: str, rng: random.Random) -> Question:
    mistaken = [country for country, (_, city) in CAPITALS.items() if city is not None]
    pool = mistaken if difficulty == "hard" else sorted(CAPITALS)
    country = rng.choice(pool)
    capital, city = CAPITALS[country]
    others = [other for other, _ in CAPITALS.values() if other != capital]
    wrong = ([city] if city and difficulty != "easy" else []) + rng.sample(others, 5)
    return f"What is the capital of {country}?", capital, list(dict.fromkeys(wrong))


def _symbol(difficulty: str, rng: random.Random) -> Question:
    latin = difficulty != "easy"
    element = rng.choice(sorted(name for name, (_, odd) in SYMBOLS.items() if odd == latin))
    symbol = SYMBOLS[element][0]
    guesses = [element[:2].capitalize(), element[0].upper() + element[-1]]
    others = [other for other, _ in SYMBOLS.values() if other != symbol]
    wrong = [guess for guess in guesses if guess != symbol] + rng.sample(others, 5)
    return f"What is the chemical symbol of {element}?", symbol, list(dict.fromkeys(wrong))


_MAKERS: dict[str, Callable[[str, random.Random], Question]] = {
    "arithmetic": _arithmetic,
    "units": _units,
    "capitals": _capital,
    "chemical_symbols": _symbol,
}


def solutions(rows: list[dict[str, Any]]) -> list[Solution]:
    """A right and a wrong answer to each question, in the form its prompt asks for."""
    made = []
    for row in rows:
        gold = row["expected_answer"]
        other = next(letter for option in row["options"] for letter in option if letter != gold)
        answer = _ANSWERS[row["answer_style"]]
        made.append(Solution(id=row["id"], reference=answer(gold), wrong=answer(other)))
    return made


_ANSWERS: dict[str, Callable[[str], str]] = {
    "boxed": lambda letter: f"Going through the options, the answer is \\boxed{{{letter}}}.",
    "answer_line": lambda letter: f"Checking each option in turn.\nAnswer: {letter}",
    "bare": lambda letter: letter,
}


def cheats(rows: list[dict[str, Any]]) -> list[Cheat]:
    """Answers that cover several options, or none, on every `CHEAT_EVERY`-th question."""
    made = []
    for row in rows[::CHEAT_EVERY]:
        letters = [letter for option in row["options"] for letter in option]
        gold = row["expected_answer"]
        other = next(letter for letter in letters if letter != gold)
        attempts = {
            "every_letter_boxed": " ".join(f"\\boxed{{{letter}}}" for letter in letters),
            "every_letter_in_one_box": f"\\boxed{{{', '.join(letters)}}}",
            "an_answer_line_per_letter": "\n".join(f"Answer: {letter}" for letter in letters),
            "right_then_wrong": f"\\boxed{{{gold}}}, or if not, \\boxed{{{other}}}",
            "wrong_then_right": f"Answer: {other}\nAnswer: {gold}",
            "every_option_under_the_right_label": "\\boxed{"
            + "; ".join(f"{letter}: {text}" for letter, text in _gold_first(row))
            + "}",
            "echo_prompt": row["prompt"],
            "empty_box": "\\boxed{}",
        }
        made += [Cheat(id=row["id"], cheat=kind, attempt=text) for kind, text in attempts.items()]
    return made


def _gold_first(row: dict[str, Any]) -> list[tuple[str, str]]:
    pairs = [pair for option in row["options"] for pair in option.items()]
    return sorted(pairs, key=lambda pair: pair[0] != row["expected_answer"])


def main() -> None:

    rows = question_set()
    QUESTIONS.write_bytes(tasks_jsonl(rows))
    SOLUTIONS.write_bytes(solutions_jsonl(solutions(rows)))
    CHEATS.write_bytes(cheats_jsonl(cheats(rows)))


if __name__ == "__main__":
    main()
