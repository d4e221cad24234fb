"""Tasks without end for `workplace` (`gym data generate workplace ...`).

Each task is a company (`company_seed`), a request, and the reference calls that fulfil it
(`ground_truth`), found by querying the company when the task is made, so every task is
solvable and every match it needs exists. The model has to look things up first (an address,
an email's id, which customers match) before it changes anything. Task `i` depends only on
(seed, difficulty, i):

    easy    one write once an address is found: send an email, book a meeting, add a task
    medium  find one row, then change it: reply to or forward an email, rename or move an
            event
    hard    find every row that matches, then change each: reassign customers, close tasks,
            delete lost customers, mark stale proposals lost
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from environments.workplace.company import (
    BOARDS,
    LISTS,
    PRODUCTS,
    SALES,
    SIZES,
    STAFF,
    Company,
    build,
)
from environments.workplace.company import email_of as address

__all__ = ["LEVELS", "Question", "generate_tasks", "generate_with_near_misses"]

SYSTEM = (
    "Today's date is Thursday, 2023-11-30 and the current time is 23:59:00. You are the "
    "assistant of a colleague at Atlas (atlas.com), with tools for the company directory, "
    "their email, their calendar, project tasks and the CRM. Look up what you need, make the "
    "changes asked for and no others. Meetings must not start before 9am or end after 6pm."
)
SUBJECTS = ("Quarterly numbers", "Offsite plans", "Welcome aboard", "Holiday schedule",
            "Draft contract", "Demo feedback")  # fmt: skip
BODIES = ("Thanks for the update - I will get back to you tomorrow.",
          "Sounds good, let's go ahead.", "Could we talk about this on Monday?",
          "Please send me the latest version.", "I'll take care of it this week.")  # fmt: skip
NEW_EVENTS = ("Vendor Review", "Risk Management Forum", "Launch Retrospective",
              "Customer Workshop", "Architecture Review", "Town Hall")  # fmt: skip
NEW_TASKS = ("Migrate the build to the new CI", "Audit access permissions",
             "Write release notes", "Sketch the pricing page")  # fmt: skip
Row = dict[str, Any]
_UPDATE_CUSTOMER = "customer_relationship_manager_update_customer"


@dataclass(frozen=True)
class Question:
    text: str
    calls: list[Row]
    """The reference calls, as `ground_truth` holds them."""
    near_miss: list[Row]
    """Calls of the right form that leave a different end state."""


Template = Callable[[random.Random, Company], Question | None]
"""A request for this company, or None when the company has no fitting rows."""


@dataclass(frozen=True)
class Level:
    templates: tuple[Template, ...]


def call(name: str, **arguments: str) -> Row:
    return {"name": name, "arguments": orjson.dumps(arguments).decode()}


def generate_tasks(n: int, seed: int, difficulty: str) -> list[Row]:
    """`n` task rows; the `workplace` entry's generator."""
    return [row for row, _ in generate_with_near_misses(n, seed, difficulty)]


def generate_with_near_misses(n: int, seed: int, difficulty: str) -> list[tuple[Row, list[Row]]]:
    """Task rows, each with near-miss calls whose end state differs from the reference's."""
    if difficulty not in LEVELS:
        raise ValueError(f"difficulty must be one of {', '.join(LEVELS)}, got {difficulty!r}")
    return [_task(index, seed, difficulty) for index in range(n)]


def _task(index: int, seed: int, difficulty: str) -> tuple[Row, list[Row]]:
    rng = random.Random(f"workplace:{seed}:{difficulty}:{index}")
    while True:
        company_seed = rng.randrange(2**31)
        question = rng.choice(LEVELS[difficulty].templates)(rng, build(company_seed, SIZES))
        if question is not None:
            break
    row = {
        "id": f"workplace-{difficulty}-{seed}-{index:05d}",
        "difficulty": difficulty,
        "prompt": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": question.text},
        ],
        "company_seed": company_seed,
        "ground_truth": question.calls,
    }
    return row, question.near_miss


def _first(name: str) -> str:
    return name.split()[0]


def _day(day: str) -> str:
    return datetime.strptime(day, "%Y-%m-%d").strftime("%B %-d")


def _other(rng: random.Random, people: tuple[str, ...], *than: str) -> str:
    return rng.choice([person for person in people if person not in than])


# Easy: one write, once an address is found.


def _send_email(rng: random.Random, company: Company) -> Question:
    person, subject, body = rng.choice(STAFF), rng.choice(SUBJECTS), rng.choice(BODIES)
    send = "email_send_email"
    return Question(
        f"Send {person} an email with the subject '{subject}' that says: {body}",
        [call(send, recipient=address(person), subject=subject, body=body)],
        [call(send, recipient=address(_other(rng, STAFF, person)), subject=subject, body=body)],
    )


def _book_meeting(rng: random.Random, company: Company) -> Question:
    person, name = rng.choice(STAFF), rng.choice(NEW_EVENTS)
    day, hour, minutes = (
        f"2023-12-{rng.randint(1, 22):02d}",
        rng.randint(9, 16),
        rng.choice((30, 60)),
    )
    create = "calendar_create_event"

    def booked(at: int) -> Row:
        start = f"{day} {at:02d}:00:00"
        return call(
            create,
            event_name=name,
            participant_email=address(person),
            event_start=start,
            duration=str(minutes),
        )

    return Question(
        f"Book a {minutes}-minute meeting called '{name}' with {person} on {_day(day)} at "
        f"{hour}:00.",
        [booked(hour)],
        [booked(hour - 1 if hour > 9 else hour + 1)],
    )


def _add_task(rng: random.Random, company: Company) -> Question:
    person, name, board, listed = (
        rng.choice(STAFF),
        rng.choice(NEW_TASKS),
        rng.choice(BOARDS),
        rng.choice(LISTS[:3]),
    )
    due = f"2023-12-{rng.randint(4, 29):02d}"
    create = "project_management_create_task"

    def added(on: str) -> Row:
        return call(create, task_name=name, assigned_to_email=address(person),
                    list_name=listed, due_date=due, board=on)  # fmt: skip

    return Question(
        f"Add a task '{name}' for {_first(person)} to the {listed} list of the {board} board, "
        f"due {_day(due)}.",
        [added(board)],
        [added(_other(rng, BOARDS, board))],
    )


# Medium: find one row, then change it.


def _latest_email(rng: random.Random, company: Company) -> tuple[str, Row, Row] | None:
    """A colleague, their latest inbox email about its subject, and one of theirs about
    something else (answering it leaves a different mailbox)."""
    person = rng.choice(STAFF)
    inbox = company.rows(
        'SELECT * FROM emails WHERE "inbox/outbox" = \'inbox\' AND "sender/recipient" = ? '
        "ORDER BY sent_datetime DESC",
        (address(person),),
    )
    if len(inbox) < 2:
        return None
    subject = rng.choice(inbox)["subject"]
    latest = next(email for email in inbox if email["subject"] == subject)
    other = next((email for email in inbox if email["subject"] != subject), None)
    return None if other is None else (person, latest, other)


def _reply(rng: random.Random, company: Company) -> Question | None:
    found = _latest_email(rng, company)
    if found is None:
        return None
    person, latest, other = found
    body, reply = rng.choice(BODIES), "email_reply_email"
    return Question(
        f"Reply to {_first(person)}'s last email about '{latest['subject']}' with: {body}",
        [call(reply, email_id=latest["email_id"], body=body)],
        [call(reply, email_id=other["email_id"], body=body)],
    )


def _forward(rng: random.Random, company: Company) -> Question | None:
    found = _latest_email(rng, company)
    if found is None:
        return None
    person, latest, other = found
    to, forward = _other(rng, STAFF, person), "email_forward_email"
    return Question(
        f"Forward {_first(person)}'s latest email about '{latest['subject']}' to {to}.",
        [call(forward, email_id=latest["email_id"], recipient=address(to))],
        [call(forward, email_id=other["email_id"], recipient=address(to))],
    )


def _rename_event(rng: random.Random, company: Company) -> Question | None:
    day = rng.choice(company.rows("SELECT substr(event_start, 1, 10) AS day FROM events"))["day"]
    events = company.rows(
        "SELECT * FROM events WHERE event_start LIKE ? ORDER BY event_start", (f"{day}%",)
    )
    starts = [event["event_start"] for event in events]
    if len(events) < 2 or starts[0] == starts[1] or starts[-1] == starts[-2]:
        return None
    which = rng.choice(("first", "last"))
    target, other = (events[0], events[-1]) if which == "first" else (events[-1], events[0])
    name = _other(rng, NEW_EVENTS, target["event_name"])
    update = "calendar_update_event"
    return Question(
        f"Can you change the name of the {which} event on {_day(day)} to {name}?",
        [call(update, event_id=target["event_id"], field="event_name", new_value=name)],
        [call(update, event_id=other["event_id"], field="event_name", new_value=name)],
    )


def _move_event(rng: random.Random, company: Company) -> Question | None:
    event = rng.choice(company.rows("SELECT * FROM events"))
    day = event["event_start"][:10]
    twins = company.rows(
        "SELECT 1 FROM events WHERE event_name = ? AND event_start LIKE ?",
        (event["event_name"], f"{day}%"),
    )
    latest_hour = 18 - -(-int(event["duration"]) // 60)
    hours = [h for h in range(9, latest_hour + 1) if f"{h:02d}:00" != event["event_start"][11:16]]
    if len(twins) > 1 or len(hours) < 2:
        return None
    hour, wrong = rng.sample(hours, 2)
    update = "calendar_update_event"

    def moved(at: int) -> Row:
        start = f"{day} {at:02d}:00:00"
        return call(update, event_id=event["event_id"], field="event_start", new_value=start)

    return Question(
        f"Please move the '{event['event_name']}' event on {_day(day)} to {hour}:00 the same day.",
        [moved(hour)],
        [moved(wrong)],
    )


# Hard: every row that matches, each changed.


def _each(rows: list[Row], make: Callable[[Row], Row], text: str) -> Question | None:
    """Calls for every row, with the near miss that leaves the last one out; None when fewer
    than two rows match (nothing to find)."""
    if len(rows) < 2:
        return None
    calls = [make(row) for row in rows]
    return Question(text, calls, calls[:-1])


def _assigned(company: Company, table: str, person: str, where: str, *params: str) -> list[Row]:
    """The rows of `table` assigned to `person` that match `where`."""
    return company.rows(
        f"SELECT * FROM {table} WHERE assigned_to_email = ? AND {where}", (address(person), *params)
    )


def _change(tool: str, key: str, field: str, value: str) -> Callable[[Row], Row]:
    """The call that sets `field` to `value` in a row found by its `key`."""
    return lambda row: call(tool, **{key: row[key]}, field=field, new_value=value)


def _reassign(rng: random.Random, company: Company) -> Question | None:
    owner, product = (
        rng.choice(SALES),
        rng.choice(PRODUCTS),
    )
    rows = _assigned(company, "customers", owner, "product_interest = ?", product)
    if len(rows) < 2:
        return None
    heir = _other(rng, SALES, owner)
    return _each(
        rows,
        _change(_UPDATE_CUSTOMER, "customer_id", "assigned_to_email", address(heir)),
        f"{_first(heir)} is taking over all of {_first(owner)}'s customers interested in "
        f"{product.lower()}. Can you reassign them in the CRM?",
    )


def _close_tasks(rng: random.Random, company: Company) -> Question | None:
    person = rng.choice(STAFF)
    return _each(
        _assigned(company, "tasks", person, "list_name = 'In Review'"),
        _change("project_management_update_task", "task_id", "list_name", "Completed"),
        f"Everything {_first(person)} has in review was approved. Move those tasks to "
        "Completed, please.",
    )


def _delete_lost(rng: random.Random, company: Company) -> Question | None:
    owner = rng.choice(SALES)
    return _each(
        _assigned(company, "customers", owner, "status = 'Lost'"),
        lambda row: call(
            "customer_relationship_manager_delete_customer", customer_id=row["customer_id"]
        ),
        f"We no longer keep lost customers. Delete all of {_first(owner)}'s lost customers "
        "from the CRM.",
    )


def _stale_proposals(rng: random.Random, company: Company) -> Question | None:
    proposals = company.rows(
        "SELECT customer_id, last_contact_date FROM customers WHERE status = 'Proposal' "
        "ORDER BY last_contact_date"
    )
    dates = sorted({row["last_contact_date"] for row in proposals})
    if len(dates) < 4:
        return None
    cutoff = dates[rng.randint(2, min(4, len(dates) - 2))]
    return _each(
        [row for row in proposals if row["last_contact_date"] < cutoff],
        _change(_UPDATE_CUSTOMER, "customer_id", "status", "Lost"),
        f"Customers in the proposal stage who were last contacted before {_day(cutoff)} are "
        "not coming back: move them to lost in the CRM.",
    )


LEVELS = {
    "easy": Level((_send_email, _book_meeting, _add_task)),
    "medium": Level((_reply, _forward, _rename_event, _move_event)),
    "hard": Level((_reassign, _close_tasks, _delete_lost, _stale_proposals)),
}
