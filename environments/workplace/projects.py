"""Project management: tasks on boards (Back end, Front end, Design), in lists from
Backlog to Completed; search and read them, create, update and delete."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from environments.workplace import records
from environments.workplace.calls import counted
from environments.workplace.company import BOARDS, LISTS, Company

__all__ = ["ProjectTools"]

TaskId = Annotated[str, Field(description="The task's 8-digit id.")]
CHECKS: dict[str, records.Check] = {
    "task_name": records.text,
    "assigned_to_email": records.colleague,
    "list_name": records.choice(*LISTS),
    "due_date": records.date,
    "board": records.choice(*BOARDS),
}


class ProjectTools:
    @counted
    async def project_management_search_tasks(
        self,
        company: Company,
        task_name: str = "",
        assigned_to_email: str = "",
        list_name: str = "",
        due_date: str = "",
        board: str = "",
    ) -> list[dict[str, Any]]:
        """Find tasks matching every filter given; the name matches any part, in any case,
        the other filters match exactly.

        Args:
            task_name: Part of the task's name.
            assigned_to_email: The address of the person it is assigned to.
            list_name: Backlog, In Progress, In Review or Completed.
            due_date: The due date, YYYY-MM-DD.
            board: Back end, Front end or Design.
        """
        sql, params = (
            "SELECT * FROM tasks WHERE lower(task_name) LIKE ?",
            [f"%{task_name.lower()}%"],
        )
        for field, value in (
            ("assigned_to_email", assigned_to_email),
            ("list_name", list_name),
            ("due_date", due_date),
            ("board", board),
        ):
            if value.strip():
                sql += f" AND lower({field}) = ?"
                params.append(value.strip().lower())
        return company.rows(sql + " ORDER BY task_id", tuple(params))

    @counted
    async def project_management_get_task_information_by_id(
        self, company: Company, task_id: TaskId, field: str
    ) -> dict[str, Any]:
        """Read one field of a task.

        Args:
            field: One of task_id, task_name, assigned_to_email, list_name, due_date, board.
        """
        return records.field_of(company, "tasks", task_id, field)

    @counted
    async def project_management_create_task(
        self,
        company: Company,
        task_name: str,
        assigned_to_email: str,
        list_name: str,
        due_date: str,
        board: str,
    ) -> dict[str, Any]:
        """Add a task.

        Args:
            task_name: What the task is.
            assigned_to_email: The address of the colleague who will do it.
            list_name: Backlog, In Progress, In Review or Completed.
            due_date: When it is due, YYYY-MM-DD.
            board: Back end, Front end or Design.
        """
        values = records.checked(company, CHECKS, {
            "task_name": task_name, "assigned_to_email": assigned_to_email,
            "list_name": list_name, "due_date": due_date, "board": board,
        })  # fmt: skip
        return records.insert(company, "tasks", values)

    @counted
    async def project_management_update_task(
        self, company: Company, task_id: TaskId, field: str, new_value: records.NewValue
    ) -> dict[str, Any]:
        """Change one field of a task (move it to another list by changing list_name).

        Args:
            field: One of task_name, assigned_to_email, list_name, due_date, board.
        """
        return records.update(company, "tasks", task_id, field, new_value, CHECKS)

    @counted
    async def project_management_delete_task(self, company: Company, task_id: TaskId) -> str:
        """Delete a task."""
        return records.delete(company, "tasks", task_id)
