"""The reference solutions and cheat probes `gym hub validate text_to_sql` plays:

    python -m environments.text_to_sql.make_solutions

rewrites `data/solutions.jsonl` and `data/cheats.jsonl` for the bundled tasks, which are
generated again from their seed to find each one's near miss. The reference answers with the
gold query; the wrong solution with the near miss (a neighbouring value, the opposite
comparison or order, a count for a sum). The cheat probes of every `CHEAT_EVERY`-th task, each
of which must earn 0:

    prose_answer       an answer in words, no query
    select_everything  every row of the first table
    reads_schema       the database's own schema
    writes_table       deletes the rows of a table (refused: read-only)
    gold_then_write    the gold query, then a write, as two statements
    attach_database    attaches a file (refused)
    endless_query      a recursive query that never ends (stopped by the step limit)
"""

from __future__ import annotations

import re

from environments.text_to_sql.generate import generate_with_near_misses
from gym_core.hub.solutions import Cheat, Solution, data_files

__all__ = ["CHEATS", "LEVELS_BUNDLED", "SOLUTIONS", "TASKS", "bundled", "cheats", "solutions"]

TASKS, SOLUTIONS, CHEATS = data_files(__file__)
LEVELS_BUNDLED = {"easy": 20, "medium": 20, "hard": 20}
"""Tasks per difficulty in `data/tasks.jsonl`, all with seed 0."""
CHEAT_EVERY = 5
ENDLESS = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT COUNT(*) FROM n"


def bundled() -> list[tuple[dict[str, object], str]]:
    return [
        pair
        for difficulty, count in LEVELS_BUNDLED.items()
        for pair in generate_with_near_misses(count, 0, difficulty)
    ]


def sql(query: str) -> str:
    return f"```sql\n{query}\n```"


def solutions() -> list[Solution]:
    return [
        Solution(id=str(row["id"]), reference=sql(str(row["gold_sql"])), wrong=sql(near_miss))
        for row, near_miss in bundled()
    ]


def cheats() -> list[Cheat]:
    made = []
    for row, _ in bundled()[::CHEAT_EVERY]:
        table = re.search(r"CREATE TABLE (\w+)", str(row["database"]))
        assert table is not None
        attempts = {
            "prose_answer": "I looked at the tables; the answer is the first row.",
            "select_everything": sql(f"SELECT * FROM {table.group(1)}"),
            "reads_schema": sql("SELECT sql FROM sqlite_master"),
            "writes_table": sql(f"DELETE FROM {table.group(1)}"),
            "gold_then_write": sql(f"{row['gold_sql']};\nDELETE FROM {table.group(1)}"),
            "attach_database": sql("ATTACH DATABASE '/tmp/x.db' AS x"),
            "endless_query": sql(ENDLESS),
        }
        made += [Cheat(id=str(row["id"]), cheat=k, attempt=a) for k, a in attempts.items()]
    return made


def main() -> None:
    tasks = ({**row, "env": "text_to_sql"} for row, _ in bundled())
    data_files(__file__).write(tasks=tasks, solutions=solutions(), cheats=cheats())


if __name__ == "__main__":
    main()
