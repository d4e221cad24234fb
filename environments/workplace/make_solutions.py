"""The bundled tasks, and the reference solutions and cheat probes `gym hub validate
workplace` plays:

    python -m environments.workplace.make_solutions

rewrites `data/tasks.jsonl`, `data/solutions.jsonl` and `data/cheats.jsonl`. The reference
makes the task's `ground_truth` calls, then says it is done; the wrong solution makes the
near miss (another colleague, email or event, a wrong time or board, one matching row left
out). The cheat probes of every `CHEAT_EVERY`-th task, each of which must earn 0:

    claims_done        says the work is done, no call made
    tool_call_in_text  the reference calls written out in the answer instead of made
    looks_only         reads the directory and searches, changes nothing, says it is done
    extra_write        the reference calls, then an email nobody asked for
    delete_everything  the reference calls, then every row of the table the task changes
                       deleted
"""

from __future__ import annotations

from typing import Any

import orjson

from environments.workplace.company import SIZES, format_id
from environments.workplace.generate import generate_with_near_misses
from gym_core.hub.solutions import (
    Cheat,
    SayStep,
    Solution,
    Step,
    ToolStep,
    data_files,
)

__all__ = ["CHEATS", "LEVELS_BUNDLED", "SOLUTIONS", "TASKS", "bundled", "cheats", "solutions"]

TASKS, SOLUTIONS, CHEATS = data_files(__file__)
LEVELS_BUNDLED = {"easy": 34, "medium": 33, "hard": 33}
"""Tasks per difficulty in `data/tasks.jsonl`, all with seed 0."""
CHEAT_EVERY = 5
DONE = SayStep(say="Done: I made the changes you asked for.")
DELETERS = {
    "email_": ("email_delete_email", "email_id", "emails"),
    "calendar_": ("calendar_delete_event", "event_id", "events"),
    "project_management_": ("project_management_delete_task", "task_id", "tasks"),
    "customer_relationship_manager_": (
        "customer_relationship_manager_delete_customer",
        "customer_id",
        "customers",
    ),
}


def bundled() -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    return [
        ({**row, "env": "workplace"}, near_miss)
        for difficulty, count in LEVELS_BUNDLED.items()
        for row, near_miss in generate_with_near_misses(count, 0, difficulty)
    ]


def played(calls: list[dict[str, Any]]) -> list[Step]:
    """Calls in `ground_truth`'s form as steps, then the final answer."""
    steps: list[Step] = [
        ToolStep(call=c["name"], arguments=orjson.loads(c["arguments"])) for c in calls
    ]
    return [*steps, DONE]


def solutions() -> list[Solution]:
    return [
        Solution(id=row["id"], reference=played(row["ground_truth"]), wrong=played(near_miss))
        for row, near_miss in bundled()
    ]


def cheats() -> list[Cheat]:
    made = []
    for row, _ in bundled()[::CHEAT_EVERY]:
        truth = row["ground_truth"]
        deleter, key, table = next(v for k, v in DELETERS.items() if truth[0]["name"].startswith(k))
        wipe = [ToolStep(call=deleter, arguments={key: format_id(i)}) for i in range(SIZES[table])]
        extra = ToolStep(
            call="email_send_email",
            arguments={"recipient": "raj.patel@atlas.com", "subject": "Done", "body": "All done."},
        )
        attempts: dict[str, list[Step]] = {
            "claims_done": [DONE],
            "tool_call_in_text": [SayStep(say=orjson.dumps(truth).decode())],
            "looks_only": [
                ToolStep(call="company_directory_find_email_address", arguments={"name": ""}),
                ToolStep(call="customer_relationship_manager_search_customers"),
                ToolStep(call="email_search_emails", arguments={"query": "update"}),
                DONE,
            ],
            "extra_write": [*played(truth)[:-1], extra, DONE],
            "delete_everything": [*played(truth)[:-1], *wipe, DONE],
        }
        made += [Cheat(id=row["id"], cheat=kind, attempt=steps) for kind, steps in attempts.items()]
    return made


def main() -> None:
    tasks = (row for row, _ in bundled())
    data_files(__file__).write(tasks=tasks, solutions=solutions(), cheats=cheats())


if __name__ == "__main__":
    main()
