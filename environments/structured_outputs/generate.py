"""Structured-output tasks written for this project: a short document about a made-up
record (a book, a city, a product, an event, a recipe, an employee) and a JSON Schema its
data must fit, answered as text (JSON or YAML) or as a call to the right one of several
tools, all from a seed.

    python -m environments.structured_outputs.generate

rewrites `data/tasks.jsonl` (240 tasks, seed 0), `data/solutions.jsonl` and
`data/cheats.jsonl`; `gym data generate structured_outputs --n N --seed S --difficulty D`
makes more. Difficulty: easy asks for flat records as JSON text; medium adds lists, enums and
nullable fields, in JSON, YAML or one tool among three; hard adds nested objects and lists of
objects, through one tool among four to seven, its output sometimes wrapped in an argument.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import yaml

from gym_core.hub.solutions import (
    AnswerCallStep,
    Attempt,
    Cheat,
    Solution,
    cheats_jsonl,
    solutions_jsonl,
    tasks_jsonl,
)

__all__ = ["TASKS", "generate_tasks", "task_set"]

DATA = Path(__file__).parent / "data"
TASKS = DATA / "tasks.jsonl"
SOLUTIONS = DATA / "solutions.jsonl"
CHEATS = DATA / "cheats.jsonl"
DIFFICULTIES = ("easy", "medium", "hard")
PAYLOAD_KEYS = ("extraction", "result", "record")
CHEAT_EVERY = 2

NAMES = ["Ada Moreno", "Ben Okafor", "Chen Wei", "Dana Kovacs", "Eli Haddad", "Fay Lindqvist",
         "Gus Tanaka", "Hana Novak", "Ivo Petrov", "Jun Park"]  # fmt: skip
PLACES = ["Marlow", "Kestrel Bay", "Ostend Hill", "Varna Cross", "Tillbury", "Ashgrove"]
WORDS = ["amber", "harbor", "granite", "willow", "copper", "meadow", "lantern", "cedar", "falcon"]

Value = Callable[[random.Random], Any]
Field = tuple[str, dict[str, Any], Value, str]
"""A field: its name, its schema, how to draw a value, and its kind (`scalar`, `list` or
`nested`): easy records have scalars only, medium adds lists, hard adds nested objects."""


def _title(rng: random.Random) -> str:
    return " ".join(rng.sample(WORDS, 2)).title()


def _words(rng: random.Random) -> list[str]:
    return rng.sample(WORDS, rng.randint(1, 3))


STRING = {"type": "string"}
INTEGER = {"type": "integer"}
NUMBER = {"type": "number"}
BOOLEAN = {"type": "boolean"}
STRINGS = {"type": "array", "items": STRING, "minItems": 1}


def _object(**properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": properties}


RECORDS: dict[str, list[Field]] = {
    "book": [
        ("title", STRING, _title, "scalar"),
        ("author", STRING, lambda r: r.choice(NAMES), "scalar"),
        ("year", INTEGER, lambda r: r.randint(1900, 2024), "scalar"),
        ("pages", {"type": "integer", "minimum": 1}, lambda r: r.randint(80, 900), "scalar"),
        ("in_print", BOOLEAN, lambda r: r.random() < 0.5, "scalar"),
        ("genres", STRINGS, _words, "list"),
        (
            "format",
            {"enum": ["hardcover", "paperback", "ebook"]},
            lambda r: r.choice(["hardcover", "paperback", "ebook"]),
            "list",
        ),
        (
            "publisher",
            _object(name=STRING, city=STRING),
            lambda r: {"name": f"{r.choice(WORDS).title()} Press", "city": r.choice(PLACES)},
            "nested",
        ),
    ],
    "city": [
        ("name", STRING, lambda r: r.choice(PLACES), "scalar"),
        (
            "population",
            {"type": "integer", "minimum": 0},
            lambda r: r.randint(900, 900000),
            "scalar",
        ),
        ("area_km2", NUMBER, lambda r: round(r.uniform(5, 900), 1), "scalar"),
        ("coastal", BOOLEAN, lambda r: r.random() < 0.5, "scalar"),
        (
            "founded",
            {"type": ["integer", "null"]},
            lambda r: r.choice([None, r.randint(800, 1900)]),
            "list",
        ),
        ("landmarks", STRINGS, lambda r: [f"{w.title()} Tower" for w in _words(r)], "list"),
        (
            "mayor",
            _object(name=STRING, party=STRING),
            lambda r: {"name": r.choice(NAMES), "party": r.choice(["Green", "Civic", "Harbor"])},
            "nested",
        ),
    ],
    "product": [
        ("name", STRING, _title, "scalar"),
        (
            "price",
            {"type": "number", "minimum": 0},
            lambda r: round(r.uniform(1, 500), 2),
            "scalar",
        ),
        ("in_stock", BOOLEAN, lambda r: r.random() < 0.5, "scalar"),
        ("sku", STRING, lambda r: f"SKU-{r.randint(10000, 99999)}", "scalar"),
        (
            "currency",
            {"enum": ["USD", "EUR", "GBP"]},
            lambda r: r.choice(["USD", "EUR", "GBP"]),
            "list",
        ),
        ("tags", STRINGS, _words, "list"),
        (
            "dimensions",
            _object(width_cm=NUMBER, height_cm=NUMBER, depth_cm=NUMBER),
            lambda r: {
                k: round(r.uniform(1, 90), 1) for k in ("width_cm", "height_cm", "depth_cm")
            },
            "nested",
        ),
    ],
    "event": [
        ("name", STRING, lambda r: f"{_title(r)} Festival", "scalar"),
        ("date", STRING, lambda r: f"2025-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}", "scalar"),
        ("attendees", INTEGER, lambda r: r.randint(20, 5000), "scalar"),
        ("cancelled", BOOLEAN, lambda r: r.random() < 0.2, "scalar"),
        ("sponsors", STRINGS, lambda r: [f"{w.title()} Ltd" for w in _words(r)], "list"),
        (
            "venue",
            _object(name=STRING, city=STRING),
            lambda r: {"name": f"{r.choice(WORDS).title()} Hall", "city": r.choice(PLACES)},
            "nested",
        ),
        (
            "speakers",
            {"type": "array", "items": _object(name=STRING, topic=STRING), "minItems": 1},
            lambda r: [{"name": n, "topic": r.choice(WORDS)} for n in r.sample(NAMES, 2)],
            "nested",
        ),
    ],
    "recipe": [
        ("name", STRING, lambda r: f"{r.choice(WORDS).title()} Stew", "scalar"),
        ("servings", {"type": "integer", "minimum": 1}, lambda r: r.randint(1, 8), "scalar"),
        ("prep_minutes", INTEGER, lambda r: r.randint(5, 120), "scalar"),
        ("vegetarian", BOOLEAN, lambda r: r.random() < 0.5, "scalar"),
        (
            "difficulty",
            {"enum": ["easy", "medium", "hard"]},
            lambda r: r.choice(["easy", "medium", "hard"]),
            "list",
        ),
        (
            "ingredients",
            {"type": "array", "items": _object(item=STRING, quantity=STRING), "minItems": 1},
            lambda r: [{"item": w, "quantity": f"{r.randint(1, 5)} cups"} for w in _words(r)],
            "nested",
        ),
    ],
    "employee": [
        ("name", STRING, lambda r: r.choice(NAMES), "scalar"),
        ("title", STRING, lambda r: r.choice(["Analyst", "Engineer", "Designer"]), "scalar"),
        ("start_year", INTEGER, lambda r: r.randint(1995, 2024), "scalar"),
        ("remote", BOOLEAN, lambda r: r.random() < 0.5, "scalar"),
        (
            "department",
            {"enum": ["sales", "research", "support"]},
            lambda r: r.choice(["sales", "research", "support"]),
            "list",
        ),
        (
            "manager",
            {"type": ["string", "null"]},
            lambda r: r.choice([None, r.choice(NAMES)]),
            "list",
        ),
        ("skills", STRINGS, _words, "list"),
        (
            "office",
            _object(city=STRING, floor=INTEGER),
            lambda r: {"city": r.choice(PLACES), "floor": r.randint(1, 30)},
            "nested",
        ),
    ],
}
KINDS = {"easy": {"scalar"}, "medium": {"scalar", "list"}, "hard": {"scalar", "list", "nested"}}


def generate_tasks(n: int, seed: int, difficulty: str) -> list[dict[str, Any]]:
    """`n` tasks of one difficulty (the entry's generator); the same arguments, the same rows."""
    rng = random.Random(f"structured_outputs-{seed}-{difficulty}")
    return [_task(f"so-{difficulty}-{seed}-{i:04d}", difficulty, rng)[0] for i in range(n)]


def task_set(count: int = 240, seed: int = 0) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The bundled tasks with their records, difficulties in turn."""
    rng = random.Random(f"structured_outputs-bundle-{seed}")
    return [
        _task(f"so-{i + 1:03d}", DIFFICULTIES[i % len(DIFFICULTIES)], rng) for i in range(count)
    ]


def _schema(kind: str, difficulty: str) -> tuple[dict[str, Any], list[Field]]:
    fields = [field for field in RECORDS[kind] if field[3] in KINDS[difficulty]]
    schema = {"type": "object", "properties": {name: spec for name, spec, _, _ in fields}}
    return schema, fields


def _task(
    task_id: str, difficulty: str, rng: random.Random
) -> tuple[dict[str, Any], dict[str, Any]]:
    kind = rng.choice(sorted(RECORDS))
    schema, fields = _schema(kind, difficulty)
    record = {name: value(rng) for name, _, value, _ in fields}
    modes = {"easy": ["json"], "medium": ["json", "yaml", "tool"], "hard": ["tool"]}[difficulty]
    mode = rng.choice(modes)
    row: dict[str, Any] = {
        "id": task_id,
        "env": "structured_outputs",
        "difficulty": difficulty,
        "record_kind": kind,
        "schema_str": orjson.dumps(schema).decode(),
        "schema_type": "yaml" if mode == "yaml" else "json",
        "response_mode": "tool_call" if mode == "tool" else "text",
    }
    document = _document(kind, record)
    if mode == "tool":
        row.update(_tools(kind, schema, difficulty, rng))
        row["prompt"] = f"{document}\n\nUse the matching tool to record this {kind}'s details."
    else:
        fmt = "JSON" if mode == "json" else "YAML"
        row["prompt"] = (
            f"{document}\n\nWrite this {kind}'s details as {fmt} that fits this JSON Schema, "
            f"and nothing else:\n{orjson.dumps(schema).decode()}"
        )
    return row, record


def _document(kind: str, record: dict[str, Any]) -> str:
    lines = [f"# Record: {kind}", "", "| field | value |", "| --- | --- |"]
    for name, value in record.items():
        shown = "none" if value is None else orjson.dumps(value).decode().strip('"')
        lines.append(f"| {name.replace('_', ' ')} | {shown} |")
    return "\n".join(lines)


def _tools(
    kind: str, schema: dict[str, Any], difficulty: str, rng: random.Random
) -> dict[str, Any]:
    others = rng.sample(
        [other for other in sorted(RECORDS) if other != kind],
        2 if difficulty == "medium" else rng.randint(3, 5),
    )
    payload_key = rng.choice(PAYLOAD_KEYS) if difficulty == "hard" and rng.random() < 0.5 else None
    kinds = [kind, *others]
    rng.shuffle(kinds)
    tools = []
    for tool_kind in kinds:
        parameters, _ = _schema(tool_kind, difficulty)
        if payload_key:
            parameters = {"type": "object", "properties": {payload_key: parameters},
                          "required": [payload_key]}  # fmt: skip
        tools.append({
            "type": "function",
            "function": {"name": f"record_{tool_kind}",
                         "description": f"Record the details of a {tool_kind}.",
                         "parameters": parameters},
        })  # fmt: skip
    return {"tools": tools, "tool_name": f"record_{kind}", "tool_payload_key": payload_key}


def reference(row: dict[str, Any], record: dict[str, Any]) -> Attempt:
    """The record itself, in the form the task asks for."""
    if row["response_mode"] == "tool_call":
        key = row["tool_payload_key"]
        arguments: dict[str, Any] = {key: record} if key else record
        return [AnswerCallStep(answer_call=row["tool_name"], arguments=arguments)]
    if row["schema_type"] == "yaml":
        return str(yaml.safe_dump(record, sort_keys=False, allow_unicode=True))
    return orjson.dumps(record, option=orjson.OPT_INDENT_2).decode()


def near_miss(record: dict[str, Any]) -> dict[str, Any]:
    """The record with its first number written as text (or, with none, a field missing)."""
    for name, value in record.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            return {**record, name: str(value)}
    return dict(list(record.items())[1:])


def cheats(tasks: list[tuple[dict[str, Any], dict[str, Any]]]) -> list[Cheat]:
    made = []
    for row, record in tasks[::CHEAT_EVERY]:
        text = orjson.dumps(record).decode()
        if row["response_mode"] == "tool_call":
            attempts = _tool_cheats(row, record, text)
        else:
            attempts = {
                "prose_around_the_data": f"Here is the data you asked for: {text} Hope it helps!",
                "the_data_twice": f"{text}\n{text}",
                "the_schema_echoed": row["schema_str"],
                "empty_object": "{}",
                "fenced_then_prose": f"```json\n{text}\n```\nLet me know if you need more.",
            }
        made += [Cheat(id=row["id"], cheat=kind, attempt=a) for kind, a in attempts.items()]
    return made


def _tool_cheats(row: dict[str, Any], record: dict[str, Any], text: str) -> dict[str, Attempt]:
    key = row["tool_payload_key"]
    arguments: dict[str, Any] = {key: record} if key else record
    names = [tool["function"]["name"] for tool in row["tools"]]
    distractor = next(name for name in names if name != row["tool_name"])
    attempts: dict[str, Attempt] = {
        "answered_in_text": text,
        "every_tool_called": [AnswerCallStep(answer_call=n, arguments=arguments) for n in names],
        "called_twice": [
            AnswerCallStep(answer_call=row["tool_name"], arguments=arguments),
            AnswerCallStep(answer_call=row["tool_name"], arguments=arguments),
        ],
        "a_distractor_called": [AnswerCallStep(answer_call=distractor, arguments=arguments)],
        "arguments_not_json": [AnswerCallStep(answer_call=row["tool_name"], arguments=text[:-1])],
    }
    if key:
        attempts["payload_not_wrapped"] = [
            AnswerCallStep(answer_call=row["tool_name"], arguments=record)
        ]
    return attempts


def main() -> None:
    tasks = task_set()
    TASKS.write_bytes(tasks_jsonl(row for row, _ in tasks))
    made = [
        Solution(
            id=row["id"],
            reference=reference(row, record),
            wrong=reference(row, near_miss(record)),
        )
        for row, record in tasks
    ]
    SOLUTIONS.write_bytes(solutions_jsonl(made))
    CHEATS.write_bytes(cheats_jsonl(cheats(tasks)))


if __name__ == "__main__":
    main()
