"""Reading and writing one table's rows, with the checks every write goes through.

The tools of every domain (mail, events, projects, customers) are thin: they name a table,
a row and the fields, and these functions find the row, check each value (an enum, a date,
a colleague's address) and write it. A refused call raises `ToolError` with a message that
names the field and the values allowed, which the model reads.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field

from environments.workplace.company import TABLES, Company, Table, format_id
from resources_server import ToolError

__all__ = [
    "Check",
    "NewValue",
    "address",
    "checked",
    "choice",
    "colleague",
    "date",
    "delete",
    "field_of",
    "insert",
    "integer",
    "page_of",
    "row_of",
    "table",
    "text",
    "update",
]

MAX_PAGE_SIZE = 50
Check = Callable[[Company, str, str], str]
"""(company, field, value) -> the value to store, or `ToolError`."""
NewValue = Annotated[str, Field(description="The field's new value.")]
"""An update tool's `new_value` argument."""
_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_BY_NAME = {t.name: t for t in TABLES}


def table(name: str) -> Table:
    return _BY_NAME[name]


def _key(name: str) -> str:
    key = _BY_NAME[name].key
    if key is None:
        raise ToolError(f"{name} is read-only")
    return key


def text(company: Company, field: str, value: str) -> str:
    if not value.strip():
        raise ToolError(f"{field} is empty")
    return value.strip()


def address(company: Company, field: str, value: str) -> str:
    if not _ADDRESS.match(value.strip()):
        raise ToolError(f"{field} must be an email address, got {value!r}")
    return value.strip().lower()


def colleague(company: Company, field: str, value: str) -> str:
    """A staff member's address (look it up in the company directory)."""
    value = address(company, field, value)
    if not company.rows("SELECT 1 FROM directory WHERE email = ?", (value,)):
        raise ToolError(f"{field}: {value} is not in the company directory")
    return value


def date(company: Company, field: str, value: str) -> str:
    return _parsed(field, value.strip(), "%Y-%m-%d", "YYYY-MM-DD")


def integer(company: Company, field: str, value: str) -> str:
    if not value.strip().isdigit() or int(value) <= 0:
        raise ToolError(f"{field} must be a whole number above 0, got {value!r}")
    return str(int(value))


def choice(*allowed: str) -> Check:
    """One of `allowed`, in any case ("won" is stored as "Won")."""
    by_lower = {option.lower(): option for option in allowed}

    def check(company: Company, field: str, value: str) -> str:
        if value.strip().lower() not in by_lower:
            raise ToolError(f"{field} must be one of {', '.join(allowed)}; got {value!r}")
        return by_lower[value.strip().lower()]

    return check


def checked(company: Company, checks: dict[str, Check], values: dict[str, str]) -> dict[str, str]:
    """`values` as they are stored, each through its field's check."""
    return {field: checks[field](company, field, value) for field, value in values.items()}


def _parsed(field: str, value: str, form: str, shown: str) -> str:
    try:
        return datetime.strptime(value, form).strftime(form)
    except ValueError:
        raise ToolError(f"{field} must be a date as {shown}, got {value!r}") from None


def row_of(company: Company, name: str, row_id: str) -> dict[str, Any]:
    """The row of `name` whose id is `row_id` ("57" is "00000057")."""
    key = _key(name)
    wanted = format_id(int(row_id)) if row_id.strip().isdigit() else row_id
    found = company.rows(f'SELECT * FROM {name} WHERE "{key}" = ?', (wanted,))
    if not found:
        raise ToolError(f"no row of {name} has {key} {row_id!r}")
    return found[0]


def field_of(company: Company, name: str, row_id: str, field: str) -> dict[str, Any]:
    row = row_of(company, name, row_id)
    if field not in row:
        raise ToolError(f"field must be one of {', '.join(map(repr, row))}; got {field!r}")
    return {field: row[field]}


def update(
    company: Company, name: str, row_id: str, field: str, value: str, checks: dict[str, Check]
) -> dict[str, Any]:
    row = row_of(company, name, row_id)
    if field not in checks:
        raise ToolError(f"field must be one of {', '.join(map(repr, checks))}; got {field!r}")
    stored = checks[field](company, field, value)
    key = _key(name)
    company.db.execute(f'UPDATE {name} SET "{field}" = ? WHERE "{key}" = ?', (stored, row[key]))
    return {**row, field: stored}


def delete(company: Company, name: str, row_id: str) -> str:
    row = row_of(company, name, row_id)
    key = _key(name)
    company.db.execute(f'DELETE FROM {name} WHERE "{key}" = ?', (row[key],))
    return f"deleted {key} {row[key]}"


def insert(company: Company, name: str, values: dict[str, str]) -> dict[str, Any]:
    """A new row with the next id; columns not in `values` are left empty."""
    spec, key = table(name), _key(name)
    (highest,) = company.db.execute(f'SELECT MAX(CAST("{key}" AS INTEGER)) FROM {name}').fetchone()
    new_id = format_id(max(highest if highest is not None else -1, company.sizes[name] - 1) + 1)
    row = {column: values.get(column, "") for column in spec.columns} | {key: new_id}
    marks = ", ".join("?" for _ in spec.columns)
    company.db.execute(f"INSERT INTO {name} VALUES ({marks})", tuple(row.values()))
    return row


def page_of(rows: list[dict[str, Any]], page: int, page_size: int) -> list[dict[str, Any]]:
    """Page `page` (from 1) of `rows`."""
    if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ToolError(f"page must be 1 or more and page_size 1 to {MAX_PAGE_SIZE}")
    return rows[(page - 1) * page_size : page * page_size]
