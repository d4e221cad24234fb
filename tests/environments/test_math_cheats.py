"""The cheat probes of the bundled math problems: the committed file is what
`python -m environments.math.make_cheats` writes, and a restatement is the problem's own
arithmetic, never a number that merely equals the answer."""

from __future__ import annotations

import pytest

from environments.math.make_cheats import CHEATS, TIMES, cheats, restatement
from gym_core.catalog import default_catalog_path
from gym_core.config import load_config
from gym_core.hub.solutions import cheats_jsonl


def test_the_committed_cheats_are_what_the_script_makes() -> None:
    assert load_config(default_catalog_path()).envs["math"].cheats_path() == CHEATS
    assert CHEATS.read_bytes() == cheats_jsonl(cheats())


@pytest.mark.parametrize(
    ("question", "gold", "restated"),
    [
        ("What is 37 + 48 - 19?", "66", "37 + 48 - 19"),
        (f"Evaluate 3 {TIMES} (17 - 9) + 4.", "28", "3 \\times (17 - 9) + 4"),
        ("Compute 1/3 + 1/4. Give your answer as a fraction.", "\\frac{7}{12}", "1/3 + 1/4"),
        (f"Evaluate (-8) {TIMES} 7 + (-3).", "-59", "(-8) \\times 7 + (-3)"),
        ("What is 7.25 + 13.8 - 4.05?", "17", "7.25 + 13.8 - 4.05"),
        ("What is 37 + 48 - 19?", "67", None),
        ("Solve 7 - 2x = 3x - 18.", "5", None),
        ("Find x if 5 - 3(x - 1) = 2x - 2.", "2", None),
        ("What is 4/9 divided by 2/3?", "\\frac{2}{3}", None),
        ("Find the sum 1 + 2 + 3 + ... + 50.", "1275", None),
        ("Simplify 3(2x + 1) - 2(x - 4).", "4x+11", None),
    ],
)
def test_a_restatement_is_the_problem_s_own_arithmetic(
    question: str, gold: str, restated: str | None
) -> None:
    assert restatement(question, gold) == restated
