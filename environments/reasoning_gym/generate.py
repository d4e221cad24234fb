"""Tasks from the `reasoning-gym` package, generated from seeds and stored, so a dataset is
reproducible without the package's generators (a new package version may generate other
puzzles from the same seed).

    python -m environments.reasoning_gym.generate

rewrites `data/tasks.jsonl` (every family at every difficulty), `data/solutions.jsonl` and
`data/cheats.jsonl`; `gym data generate reasoning_gym --n N --seed S --difficulty D` makes more.

Difficulty is the package's own curriculum: easy, medium and hard set every attribute of the
family's curriculum to level 0, 1 and 2 (its highest when it has fewer), and the config that
results is recorded on each task.
"""

from __future__ import annotations

import dataclasses
import zlib
from pathlib import Path
from typing import Any

from gym_core.hub.solutions import Cheat, Solution, cheats_jsonl, solutions_jsonl, tasks_jsonl

__all__ = ["FAMILIES", "TASKS", "family_tasks", "generate_tasks", "task_set"]

DATA = Path(__file__).parent / "data"
TASKS = DATA / "tasks.jsonl"
SOLUTIONS = DATA / "solutions.jsonl"
CHEATS = DATA / "cheats.jsonl"
DIFFICULTIES = {"easy": 0, "medium": 1, "hard": 2}
FLIPS = (("True", "False"), ("Yes", "No"))
"""Answers whose near miss is the other one of the pair."""
PER_LEVEL = 4
"""Bundled tasks per family and difficulty."""
CHEAT_EVERY = 3
ANSWER_FORMAT = (
    "\n\nThink it through, then give only your final answer inside <answer></answer> tags, "
    "in the format the question asks for."
)

FAMILIES = (
    "aiw", "base_conversion", "basic_arithmetic", "binary_alternation",
    "chain_sum", "count_bits", "count_primes", "countdown", "course_schedule",
    "family_relationships", "gcd", "largest_island", "lcm",
    "leg_counting", "letter_counting", "mini_sudoku", "number_filtering",
    "products", "rotate_matrix", "spell_backward", "syllogism",
    "word_sequence_reversal", "word_sorting",
)  # fmt: skip
"""The curated families: each one's scorer checked to pay its own gold answer and no near miss
(README.md, Families, says which were left out and why)."""


def family_tasks(family: str, difficulty: str, n: int, seed: int) -> list[dict[str, Any]]:
    """`n` tasks of one family at one difficulty, from the package's generator."""
    from environments.reasoning_gym.package import CURRICULA, DATASETS

    dataset_class, _ = DATASETS[family]
    curriculum = CURRICULA[family]()
    curriculum.set_global_level(DIFFICULTIES[difficulty])
    config = curriculum.generate_configuration(
        {"seed": zlib.crc32(f"{family}-{difficulty}-{seed}".encode()), "size": n}
    )
    dataset = dataset_class(config=config)
    stored = _plain(dataclasses.asdict(config))
    rows = []
    for i in range(n):
        entry = dataset[i]
        rows.append(
            {
                "id": f"rg-{family}-{difficulty}-{seed}-{i:03d}",
                "env": "reasoning_gym",
                "prompt": entry["question"] + ANSWER_FORMAT,
                "family": family,
                "difficulty": difficulty,
                "config": stored,
                "entry": _plain(entry),
            }
        )
    return rows


def _plain(value: Any) -> Any:
    """A config or entry as JSON holds it (tuples become lists, keys strings), so a stored
    task and a fresh one are the same."""
    import orjson

    return orjson.loads(orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS))


def generate_tasks(n: int, seed: int, difficulty: str) -> list[dict[str, Any]]:
    """`n` tasks of one difficulty, the families in turn (the hub entry's generator)."""
    per_family = -(-n // len(FAMILIES))
    made = [family_tasks(family, difficulty, per_family, seed) for family in FAMILIES]
    return [rows[i] for i in range(per_family) for rows in made][:n]


def task_set(seed: int = 0) -> list[dict[str, Any]]:
    """The bundled tasks: `PER_LEVEL` of every family at every difficulty."""
    return [
        row
        for family in FAMILIES
        for difficulty in DIFFICULTIES
        for row in family_tasks(family, difficulty, PER_LEVEL, seed)
    ]


def near_miss(row: dict[str, Any]) -> str:
    """A wrong answer of the right form: the other of a pair, a number off by one, or text with
    its last character changed."""
    from environments.reasoning_gym.scoring import package_score

    gold = str(row["entry"]["answer"])
    candidates = [flip for pair in FLIPS for flip in pair if gold in pair and flip != gold]
    if gold.lstrip("-").isdigit():
        candidates.append(str(int(gold) + 1))
    candidates += [gold[:-1] + ("x" if gold[-1:] != "x" else "y"), gold + "1", "0"]
    for candidate in candidates:
        if package_score(row["family"], row["config"], candidate, row["entry"]) != 1.0:
            return candidate
    raise ValueError(f"{row['id']}: no near miss scores below 1")


def solutions(rows: list[dict[str, Any]]) -> list[Solution]:
    return [
        Solution(
            id=row["id"],
            reference=f"Working it out step by step.\n<answer>{row['entry']['answer']}</answer>",
            wrong=f"Working it out step by step.\n<answer>{near_miss(row)}</answer>",
        )
        for row in rows
    ]


def cheats(rows: list[dict[str, Any]]) -> list[Cheat]:
    """Attempts that must earn 0: hedging between answers, the gold answer padded with more
    text (the package gives that partial credit), no answer at all."""
    made = []
    for row in rows[::CHEAT_EVERY]:
        gold, wrong = str(row["entry"]["answer"]), near_miss(row)
        attempts = {
            "right_then_wrong": f"<answer>{gold}</answer> or maybe <answer>{wrong}</answer>",
            "wrong_then_right": f"<answer>{wrong}</answer>\n<answer>{gold}</answer>",
            "gold_padded": f"<answer>{gold} {wrong} {gold}</answer>",
            "echo_prompt": row["prompt"],
            "empty_answer": "<answer></answer>",
            "no_tags": gold + " (final answer)",
        }
        made += [Cheat(id=row["id"], cheat=kind, attempt=text) for kind, text in attempts.items()]
    return made


def main() -> None:

    rows = task_set()
    TASKS.write_bytes(tasks_jsonl(rows))
    SOLUTIONS.write_bytes(solutions_jsonl(solutions(rows)))
    CHEATS.write_bytes(cheats_jsonl(cheats(rows)))


if __name__ == "__main__":
    main()
