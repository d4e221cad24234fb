"""Tasks without end for `text_to_sql` (`gym data generate text_to_sql ...`).

Each task is a small SQLite database of one of three themes (a shop, a school, a library:
people, items, and the links between them, with random rows), a question and its gold query.
Every gold query is run when the task is made: its result is never empty, and the near miss
that `make_solutions` plays gives a different one. Task `i` depends only on (seed,
difficulty, i).

    easy    one table: a filter, a count, a filter sorted as the question asks
    medium  joins and grouping
    hard    subqueries, and grouping with the top row picked
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from environments.text_to_sql.execution import run_query

__all__ = ["LEVELS", "Question", "generate_tasks", "generate_with_near_misses"]

SYSTEM = (
    "You write SQLite queries. Answer with one SELECT statement in a ```sql code block. "
    "Return exactly the columns the question asks for, in that order."
)
NAMES = (
    "Ada", "Bruno", "Chen", "Dana", "Elif", "Farid", "Greta", "Hugo", "Ines", "Jonas", "Kemi",
    "Luca", "Mira", "Nils", "Omar", "Priya", "Quinn", "Rosa", "Sami", "Tara", "Umar", "Vera",
)  # fmt: skip
CITIES = ("Lisbon", "Oslo", "Lima", "Osaka", "Dakar")


@dataclass(frozen=True)
class Theme:
    people: str
    items: str
    links: str
    person_id: str
    item_id: str
    item_name: str
    category: str
    measure: str
    """A number each item has (price, credits, pages)."""
    amount: str
    """A number each link has (quantity, score, days)."""
    verb: str
    item_words: tuple[str, ...]
    categories: tuple[str, ...]


THEMES = (
    Theme("customers", "products", "orders", "customer_id", "product_id", "name", "category",
          "price", "quantity", "ordered", ("Lamp", "Desk", "Chair", "Kettle", "Rug", "Clock",
          "Mirror", "Shelf", "Vase", "Fan", "Stool", "Bench"), ("home", "office", "garden")),
    Theme("students", "courses", "enrollments", "student_id", "course_id", "title",
          "department", "credits", "score", "enrolled in", ("Algebra", "Botany", "Chemistry",
          "Drawing", "Economics", "Film", "Geology", "History", "Italian", "Jazz", "Logic",
          "Music"), ("science", "arts", "languages")),
    Theme("members", "books", "loans", "member_id", "book_id", "title", "genre", "pages",
          "days", "borrowed", ("Dune", "Emma", "Ulysses", "Beloved", "Matilda", "Rebecca",
          "Dracula", "Persuasion", "Middlemarch", "Kindred", "Solaris", "Walden"),
          ("fiction", "classics", "science fiction")),
)  # fmt: skip


@dataclass(frozen=True)
class Question:
    text: str
    gold: str
    near_miss: str
    ordered: bool = False


@dataclass(frozen=True)
class Level:
    templates: tuple[Callable[[random.Random, Theme, dict[str, Any]], Question], ...]


def generate_tasks(n: int, seed: int, difficulty: str) -> list[dict[str, Any]]:
    """`n` task rows; the `text_to_sql` entry's generator."""
    return [row for row, _ in generate_with_near_misses(n, seed, difficulty)]


def generate_with_near_misses(
    n: int, seed: int, difficulty: str
) -> list[tuple[dict[str, Any], str]]:
    """Task rows, each with a near-miss query whose result differs from the gold one."""
    if difficulty not in LEVELS:
        raise ValueError(f"difficulty must be one of {', '.join(LEVELS)}, got {difficulty!r}")
    return [_task(index, seed, difficulty) for index in range(n)]


def _task(index: int, seed: int, difficulty: str) -> tuple[dict[str, Any], str]:
    rng = random.Random(f"text_to_sql:{seed}:{difficulty}:{index}")
    while True:
        theme = rng.choice(THEMES)
        data = _data(rng, theme)
        script = _script(theme, data)
        question = rng.choice(LEVELS[difficulty].templates)(rng, theme, data)
        gold, near = run_query(script, question.gold), run_query(script, question.near_miss)
        if gold[0] == "ok" and gold[1] and near[0] == "ok" and near[1] != gold[1]:
            break
    schema = "\n".join(line for line in script.splitlines() if line.startswith("CREATE"))
    ask = f"The database:\n```sql\n{schema}\n```\n\nQuestion: {question.text}"
    row = {
        "id": f"text-to-sql-{difficulty}-{seed}-{index:05d}",
        "difficulty": difficulty,
        "prompt": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": ask}],
        "database": script,
        "gold_sql": question.gold,
        "ordered": question.ordered,
    }
    return row, question.near_miss


def _data(rng: random.Random, theme: Theme) -> dict[str, Any]:
    people = [
        (i + 1, name, rng.choice(CITIES), age)
        for i, (name, age) in enumerate(
            zip(rng.sample(NAMES, rng.randint(8, 14)), rng.sample(range(18, 80), 14), strict=False)
        )
    ]
    words = rng.sample(theme.item_words, rng.randint(6, 10))
    measures = rng.sample(range(5, 200), len(words))
    items = [
        (i + 1, word, rng.choice(theme.categories), measure)
        for i, (word, measure) in enumerate(zip(words, measures, strict=True))
    ]
    links = [
        (i + 1, rng.randint(1, len(people) - 2), rng.randint(1, len(items)), rng.randint(1, 10))
        for i in range(rng.randint(12, 30))
    ]  # the last two people never have a link
    return {"people": people, "items": items, "links": links}


def _script(theme: Theme, data: dict[str, Any]) -> str:
    t = theme
    lines = [
        f"CREATE TABLE {t.people} (id INTEGER PRIMARY KEY, name TEXT, city TEXT, age INTEGER);",
        f"CREATE TABLE {t.items} (id INTEGER PRIMARY KEY, {t.item_name} TEXT, {t.category} "
        f"TEXT, {t.measure} INTEGER);",
        f"CREATE TABLE {t.links} (id INTEGER PRIMARY KEY, {t.person_id} INTEGER REFERENCES "
        f"{t.people}(id), {t.item_id} INTEGER REFERENCES {t.items}(id), {t.amount} INTEGER);",
    ]
    for table, rows in (
        (t.people, data["people"]),
        (t.items, data["items"]),
        (t.links, data["links"]),
    ):
        values = ", ".join(
            "(" + ", ".join(f"'{v}'" if isinstance(v, str) else str(v) for v in row) + ")"
            for row in rows
        )
        lines.append(f"INSERT INTO {table} VALUES {values};")
    return "\n".join(lines) + "\n"


def _two(rng: random.Random, values: list[Any]) -> tuple[Any, Any]:
    first, second = rng.sample(sorted(set(values)), 2) if len(set(values)) > 1 else (values[0],) * 2
    return first, second


# Easy: one table.


def _people_in_city(rng: random.Random, t: Theme, data: dict[str, Any]) -> Question:
    city, other = _two(rng, [p[2] for p in data["people"]])
    return Question(
        f"What are the names of the {t.people} who live in {city}?",
        f"SELECT name FROM {t.people} WHERE city = '{city}'",
        f"SELECT name FROM {t.people} WHERE city = '{other}'",
    )


def _count_in_category(rng: random.Random, t: Theme, data: dict[str, Any]) -> Question:
    category = rng.choice([item[2] for item in data["items"]])
    return Question(
        f"How many {t.items} have the {t.category} '{category}'?",
        f"SELECT COUNT(*) FROM {t.items} WHERE {t.category} = '{category}'",
        f"SELECT COUNT(*) FROM {t.items}",
    )


def _sorted_above(rng: random.Random, t: Theme, data: dict[str, Any]) -> Question:
    floor = sorted(item[3] for item in data["items"])[len(data["items"]) // 3]
    above = f"SELECT {t.item_name} FROM {t.items} WHERE {t.measure} > {floor} ORDER BY {t.measure}"
    return Question(
        f"List the {t.item_name}s of the {t.items} whose {t.measure} is above {floor}, from the "
        f"highest {t.measure} to the lowest.",
        f"{above} DESC",
        above,
        ordered=True,
    )


# Medium: joins and grouping.


def _count_per_category(rng: random.Random, t: Theme, data: dict[str, Any]) -> Question:
    return Question(
        f"For each {t.category}, how many {t.items} are there? Give the {t.category} and the "
        "count.",
        f"SELECT {t.category}, COUNT(*) FROM {t.items} GROUP BY {t.category}",
        f"SELECT i.{t.category}, COUNT(*) FROM {t.links} l JOIN {t.items} i ON i.id = "
        f"l.{t.item_id} GROUP BY i.{t.category}",
    )


def _people_linked_to(rng: random.Random, t: Theme, data: dict[str, Any]) -> Question:
    linked = sorted({link[2] for link in data["links"]})
    item, other = _two(rng, linked)
    names = {i[0]: i[1] for i in data["items"]}

    def query(item_id: int) -> str:
        return (
            f"SELECT DISTINCT p.name FROM {t.people} p JOIN {t.links} l ON l.{t.person_id} = "
            f"p.id JOIN {t.items} i ON i.id = l.{t.item_id} WHERE i.{t.item_name} = "
            f"'{names[item_id]}'"
        )

    return Question(
        f"Which {t.people} {t.verb} '{names[item]}'? Give each name once.",
        query(item),
        query(other),
    )


def _total_per_city(rng: random.Random, t: Theme, data: dict[str, Any]) -> Question:
    join = f"FROM {t.people} p JOIN {t.links} l ON l.{t.person_id} = p.id GROUP BY p.city"
    return Question(
        f"What is the total {t.amount} of the {t.links} of the {t.people} of each city? Give "
        "the city and the total.",
        f"SELECT p.city, SUM(l.{t.amount}) {join}",
        f"SELECT p.city, COUNT(*) {join}",
    )


# Hard: subqueries and the top of a grouping.


def _people_without_links(rng: random.Random, t: Theme, data: dict[str, Any]) -> Question:
    return Question(
        f"What are the names of the {t.people} who have no {t.links}?",
        f"SELECT name FROM {t.people} WHERE id NOT IN (SELECT {t.person_id} FROM {t.links})",
        f"SELECT name FROM {t.people} WHERE id IN (SELECT {t.person_id} FROM {t.links})",
    )


def _above_average(rng: random.Random, t: Theme, data: dict[str, Any]) -> Question:
    return Question(
        f"Which {t.items} have a {t.measure} above the average {t.measure} of all {t.items}? "
        f"Give their {t.item_name}s.",
        f"SELECT {t.item_name} FROM {t.items} WHERE {t.measure} > (SELECT AVG({t.measure}) "
        f"FROM {t.items})",
        f"SELECT {t.item_name} FROM {t.items} WHERE {t.measure} < (SELECT AVG({t.measure}) "
        f"FROM {t.items})",
    )


def _top_person(rng: random.Random, t: Theme, data: dict[str, Any]) -> Question:
    totals: dict[int, int] = {}
    for _, person, _, amount in data["links"]:
        totals[person] = totals.get(person, 0) + amount
    best = sorted(totals.values(), reverse=True)
    ties = len(best) > 1 and best[0] == best[1]
    base = f"FROM {t.people} p JOIN {t.links} l ON l.{t.person_id} = p.id GROUP BY p.id"
    return Question(
        f"Which of the {t.people} has the highest total {t.amount} over their {t.links}? Give "
        "the name and the total.",
        f"SELECT p.name, SUM(l.{t.amount}) {base} ORDER BY SUM(l.{t.amount}) DESC LIMIT "
        f"{0 if ties else 1}",  # a tie has no one answer: the task is drawn again
        f"SELECT p.name, SUM(l.{t.amount}) {base} ORDER BY SUM(l.{t.amount}) LIMIT 1",
    )


LEVELS = {
    "easy": Level((_people_in_city, _count_in_category, _sorted_above)),
    "medium": Level((_count_per_category, _people_linked_to, _total_per_city)),
    "hard": Level((_people_without_links, _above_average, _top_person)),
}
