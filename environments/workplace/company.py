"""The company a workplace session works in: one SQLite database made from a seed.

`build(seed, sizes)` always makes the same database for the same arguments: a fixed staff
directory, and random emails, calendar events, project tasks, CRM customers and website
visits. Rows with ids (`emails`, `events`, `tasks`, `customers`) are numbered from 0 as
8-digit strings, as in NeMo Gym's workplace rows, so an id a task names exists once the
table holds more rows than it (`sizes_for`).
"""

from __future__ import annotations

import random
import sqlite3
from collections import Counter
from dataclasses import dataclass
from typing import Any

__all__ = [
    "BOARDS",
    "DOMAIN",
    "LISTS",
    "NOW",
    "PRODUCTS",
    "SIZES",
    "STAFF",
    "STATUSES",
    "TABLES",
    "TRAFFIC_SOURCES",
    "Company",
    "Snapshot",
    "Table",
    "build",
    "email_of",
    "format_id",
]

NOW = "2023-11-30 23:59:00"
"""The sessions' present: new emails are sent then, and prompts say so."""
DOMAIN = "atlas.com"
STAFF = (
    "Raj Patel", "Akira Tanaka", "Lena Schmidt", "Carlos Rodriguez", "Amir Ali", "Anna Kowalski",
    "Chen Wei", "Dmitri Ivanov", "Fatima Khan", "Hannah Taylor", "Jinsoo Kim", "Kofi Mensah",
    "Leila Azizi", "Luis Ortiz", "Nadia Morales", "Olga Petrova", "Sofia Rossi", "Yuki Sato",
)  # fmt: skip
SALES = STAFF[:8]
"""The staff CRM customers are assigned to (so each has several)."""
BOARDS = ("Back end", "Front end", "Design")
LISTS = ("Backlog", "In Progress", "In Review", "Completed")
PRODUCTS = ("Software", "Hardware", "Services", "Consulting", "Training")
STATUSES = ("Qualified", "Won", "Lost", "Lead", "Proposal")
TRAFFIC_SOURCES = ("direct", "referral", "search engine", "social media")
SIZES = {"emails": 60, "events": 60, "tasks": 50, "customers": 80}
"""Rows per table with ids, unless a task names a higher id."""
_VISITS = 90
_FIRST = ("Maya", "Owen", "Priya", "Tomas", "Ines", "Felix", "Zara", "Hugo", "Noor", "Ivan",
          "Clara", "Mateo", "Aisha", "Lukas", "Elena", "Samir", "Grace", "Pavel", "Rosa",
          "Theo")  # fmt: skip
_LAST = ("Brooks", "Silva", "Novak", "Haddad", "Lund", "Okafor", "Moreau", "Costa", "Berg",
         "Reyes", "Walsh", "Demir", "Fischer", "Santos", "Quinn", "Varga")  # fmt: skip
_EVENTS = ("Sprint Planning", "Product Demo", "Quarterly Review", "Client Call", "Design Review",
           "Budget Meeting", "Team Lunch", "One-on-one", "Marketing Sync", "Hiring Panel",
           "Security Briefing", "Roadmap Workshop")  # fmt: skip
_VERBS = ("Develop", "Design", "Fix", "Test", "Document", "Review", "Deploy", "Refactor")
_OBJECTS = ("prototype for report generation", "login page", "payment API", "onboarding flow",
            "search index", "email templates", "dashboard charts", "user settings",
            "billing export", "mobile layout")  # fmt: skip
_TOPICS = ("Task Update on {task}", "Meeting about {event}", "Question about {customer}",
           "Update on {product} pricing", "Follow-up: {event}")  # fmt: skip
_BODIES = ("Could you take a look when you have a moment?", "Here is the latest status.",
           "Let me know what you think.", "We should discuss this on Monday.",
           "Please review before Friday.")  # fmt: skip


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]
    key: str | None = None
    """The id column, first in `columns`; None for tables no tool writes."""


TABLES = (
    Table("directory", ("name", "email")),
    Table(
        "emails",
        ("email_id", "inbox/outbox", "sender/recipient", "subject", "sent_datetime", "body"),
        key="email_id",
    ),
    Table(
        "events",
        ("event_id", "event_name", "participant_email", "event_start", "duration"),
        key="event_id",
    ),
    Table(
        "tasks",
        ("task_id", "task_name", "assigned_to_email", "list_name", "due_date", "board"),
        key="task_id",
    ),
    Table(
        "customers",
        (
            "customer_id",
            "customer_name",
            "assigned_to_email",
            "customer_email",
            "customer_phone",
            "last_contact_date",
            "product_interest",
            "status",
            "notes",
            "follow_up_by",
        ),
        key="customer_id",
    ),
    Table(
        "analytics",
        (
            "date_of_visit",
            "visitor_id",
            "page_views",
            "session_duration_seconds",
            "traffic_source",
            "user_engaged",
        ),
    ),
)
Snapshot = dict[str, Counter[tuple[Any, ...]]]
"""Each table's rows as a multiset; a row a session added has its id replaced by None."""


def format_id(number: int) -> str:
    return f"{number:08d}"


def email_of(name: str) -> str:
    return f"{name.lower().replace(' ', '.')}@{DOMAIN}"


class Company:
    """A session's database, with what the session's tools did to it.

    It pickles as the database's bytes (`sqlite3.Connection.serialize`), so sessions kept by
    the cluster's shared store carry it too.
    """

    def __init__(self, db: sqlite3.Connection, sizes: dict[str, int]) -> None:
        self.db = db
        self.sizes = sizes
        self.calls: Counter[str] = Counter()
        """Calls that succeeded, by tool."""
        self.refused: Counter[str] = Counter()
        """Calls a tool refused (no such id, a bad value), by tool."""

    @classmethod
    def load(cls, data: bytes, sizes: dict[str, int]) -> Company:
        """A company from its database's bytes (`db.serialize()`)."""
        db = sqlite3.connect(":memory:", check_same_thread=False)
        db.deserialize(data)
        return cls(db, sizes)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "db": self.db.serialize()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, db=Company.load(state["db"], state["sizes"]).db)

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        cursor = self.db.execute(sql, params)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def snapshot(self) -> Snapshot:
        """The whole state, compared as multisets: the order of calls never matters, and a
        row the session created matches whatever id it got."""
        state: Snapshot = {}
        for table in TABLES:
            columns = ", ".join(f'"{column}"' for column in table.columns)
            if table.key is not None:
                key, size = table.key, self.sizes[table.name]
                made = f'CASE WHEN CAST("{key}" AS INTEGER) < {size:d} THEN "{key}" END'
                columns = columns.replace(f'"{key}"', made, 1)
            state[table.name] = Counter(self.db.execute(f"SELECT {columns} FROM {table.name}"))
        return state


def build(seed: int, sizes: dict[str, int]) -> Company:
    """The company of `seed`, with `sizes[table]` rows in each table with ids."""
    rng = random.Random(f"workplace:{seed}")
    db = sqlite3.connect(":memory:", check_same_thread=False)
    for table in TABLES:
        columns = ", ".join(f'"{c}" TEXT' for c in table.columns)
        db.execute(f"CREATE TABLE {table.name} ({columns})")
    tasks = [_task(rng, i) for i in range(sizes["tasks"])]
    events = [_event(rng, i) for i in range(sizes["events"])]
    customers = [_customer(rng, i) for i in range(sizes["customers"])]
    emails = [_email(rng, i, tasks, events, customers) for i in range(sizes["emails"])]
    visits = [_visit(rng) for _ in range(_VISITS)]
    rows: dict[str, list[tuple[str, ...]]] = {
        "directory": [(name, email_of(name)) for name in STAFF],
        "emails": emails,
        "events": events,
        "tasks": tasks,
        "customers": customers,
        "analytics": visits,
    }
    for table in TABLES:
        marks = ", ".join("?" for _ in table.columns)
        db.executemany(f"INSERT INTO {table.name} VALUES ({marks})", rows[table.name])
    return Company(db, sizes)


def _day(rng: random.Random, month: int, first: int = 1, last: int = 30) -> str:
    year, month = (2023, month) if month <= 12 else (2024, month - 12)
    return f"{year}-{month:02d}-{rng.randint(first, min(last, 28 if month == 2 else 30)):02d}"


def _task(rng: random.Random, i: int) -> tuple[str, ...]:
    name = f"{rng.choice(_VERBS)} {rng.choice(_OBJECTS)}"
    return (
        format_id(i), name, email_of(rng.choice(STAFF)), rng.choice(LISTS),
        _day(rng, rng.choice((11, 12, 13))), rng.choice(BOARDS),
    )  # fmt: skip


def _event(rng: random.Random, i: int) -> tuple[str, ...]:
    duration = rng.choice((30, 60, 90))
    hour = rng.randint(9, 16 if duration <= 60 else 15)
    start = f"{_day(rng, rng.choice((11, 12)))} {hour:02d}:{rng.choice((0, 30)):02d}:00"
    participant = email_of(rng.choice(STAFF))
    return (format_id(i), rng.choice(_EVENTS), participant, start, str(duration))


def _customer(rng: random.Random, i: int) -> tuple[str, ...]:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    contact = _day(rng, rng.choice((9, 10, 11)))
    return (
        format_id(i), f"{first} {last}", email_of(rng.choice(SALES)),
        f"{first}.{last}@example.com".lower(),
        f"555-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}",
        contact, rng.choice(PRODUCTS), rng.choice(STATUSES),
        rng.choice(("", "Asked for a quote.", "Prefers email.", "Budget review in Q1.")),
        _day(rng, 12),
    )  # fmt: skip


def _email(
    rng: random.Random,
    i: int,
    tasks: list[tuple[str, ...]],
    events: list[tuple[str, ...]],
    customers: list[tuple[str, ...]],
) -> tuple[str, ...]:
    subject = rng.choice(_TOPICS).format(
        task=rng.choice(tasks)[1],
        event=rng.choice(events)[1],
        customer=rng.choice(customers)[1],
        product=rng.choice(PRODUCTS).lower(),
    )
    when = f"{_day(rng, 11, last=29)} {rng.randint(8, 19):02d}:{rng.randint(0, 59):02d}:00"
    box = "inbox" if rng.random() < 0.75 else "outbox"
    return (format_id(i), box, email_of(rng.choice(STAFF)), subject, when, rng.choice(_BODIES))


def _visit(rng: random.Random) -> tuple[str, ...]:
    return (
        _day(rng, 11), format_id(rng.randint(0, 40)), str(rng.randint(1, 12)),
        str(rng.randint(5, 900)), rng.choice(TRAFFIC_SOURCES), rng.choice(("True", "False")),
    )  # fmt: skip
