"""How fast text_to_sql grades: one verification is building the task's database, running the
answer's query under the authorizer and step limit, and comparing its rows with the gold ones.

    .venv/bin/python -m bench.text_to_sql_env [--seconds 5]

Runs the bundled tasks' reference answers in this process, on one core (the server spreads
them over its CPU workers). Prints its figures; nothing here is asserted.
"""

from __future__ import annotations

import argparse
import time

from environments.text_to_sql.execution import compare, run_query
from environments.text_to_sql.make_solutions import bundled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0, help="how long to measure")
    args = parser.parse_args()
    tasks = [
        (str(row["database"]), str(row["gold_sql"]), bool(row["ordered"])) for row, _ in bundled()
    ]
    gold = [run_query(script, query)[1] for script, query, _ in tasks]
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < args.seconds:
        for (script, query, ordered), expected in zip(tasks, gold, strict=True):
            kind, answer = run_query(script, query)
            if kind != "ok" or not compare(expected, answer, ordered=ordered):  # type: ignore[arg-type]
                raise AssertionError(f"the reference answer failed: {kind} {answer}")
            done += 1
    elapsed = time.perf_counter() - started
    print(
        f"text_to_sql: {done / elapsed:.0f} verifications/s on one core ({done} in {elapsed:.1f}s)"
    )


if __name__ == "__main__":
    main()
