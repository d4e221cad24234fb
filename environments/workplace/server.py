"""Multi-step tool use over a company's database (see README.md, Grading).

Each session gets its own SQLite database, made from the task's `company_seed`. The reward
compares the session's database at the end with the database the task's reference calls
(`ground_truth`) make from the same start: equal in every table, as multisets of rows, earns 1.
The order of the calls never matters; a change the task did not ask for (an extra email, a
wrong row touched) costs the reward; what the model says is never read.
"""

from __future__ import annotations

import zlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from environments.workplace.analytics import AnalyticsTools
from environments.workplace.company import SIZES, TABLES, Company, Snapshot, build
from environments.workplace.customers import CustomerTools
from environments.workplace.directory import DirectoryTools
from environments.workplace.events import EventTools
from environments.workplace.mail import MailTools
from environments.workplace.projects import ProjectTools
from resources_server import ResourcesServer, TaskFields, ToolError, Trajectory, Verdict
from resources_server.cpu_pool import CpuPool

__all__ = ["Call", "WorkplaceServer", "WorkplaceTask", "sizes_for"]

PREPARED_CACHE = 256
"""Tasks whose start and reference end state a server keeps (about 100 kB each): the samples
of a group share them."""
_ID_ARGUMENTS = {"email_id": "emails", "event_id": "events", "task_id": "tasks",
                 "customer_id": "customers"}  # fmt: skip


class Call(BaseModel):
    """One reference tool call, as in NeMo Gym's rows: arguments as a JSON object string."""

    name: str = Field(min_length=1)
    arguments: dict[str, Any]

    @field_validator("arguments", mode="before")
    @classmethod
    def _parsed(cls, value: Any) -> Any:
        return orjson.loads(value) if isinstance(value, str | bytes) else value


class WorkplaceTask(TaskFields):
    ground_truth: list[Call]
    """The reference calls: the end state they make is the one to reach."""
    company_seed: int | None = None
    """The company's database; unset (NeMo Gym's rows), it is derived from `ground_truth`."""

    @model_validator(mode="after")
    def _seeded(self) -> WorkplaceTask:
        if self.company_seed is None:
            calls = [call.model_dump() for call in self.ground_truth]
            self.company_seed = zlib.crc32(orjson.dumps(calls, option=orjson.OPT_SORT_KEYS))
        return self

    def calls_key(self) -> bytes:
        return orjson.dumps([call.model_dump() for call in self.ground_truth])


def sizes_for(ground_truth: list[Call]) -> dict[str, int]:
    """Rows per table: enough that every id the reference names exists."""
    sizes = dict(SIZES)
    for call in ground_truth:
        for argument, table in _ID_ARGUMENTS.items():
            value = str(call.arguments.get(argument, ""))
            if value.isdigit():
                sizes[table] = max(sizes[table], int(value) + 1)
    return sizes


@dataclass(frozen=True)
class Prepared:
    start: bytes
    """The starting database, serialized: a session's copy loads in a fraction of a
    millisecond, where building it takes several."""
    expected: Snapshot


class WorkplaceServer(
    DirectoryTools,
    MailTools,
    EventTools,
    ProjectTools,
    CustomerTools,
    AnalyticsTools,
    ResourcesServer[WorkplaceTask, Company],
):
    """Reward 1 when the session's database ends as the reference calls leave it."""

    task_model = WorkplaceTask

    def __init__(self, settings: BaseModel, cpu: CpuPool) -> None:
        super().__init__(settings, cpu)
        self._prepared: OrderedDict[tuple[int, bytes], Prepared] = OrderedDict()

    async def seed(self, task: WorkplaceTask) -> Company:
        """A fresh copy of the task's company; a reference call that fails is the task's
        fault (422 naming `task.ground_truth`)."""
        prepared = await self.prepared(task)
        return Company.load(prepared.start, sizes_for(task.ground_truth))

    async def prepared(self, task: WorkplaceTask) -> Prepared:
        """The task's starting database and the end state of its reference calls, made on
        first use and kept for the task's other samples."""
        assert task.company_seed is not None
        key = (task.company_seed, task.calls_key())
        if key not in self._prepared:
            company = build(task.company_seed, sizes_for(task.ground_truth))
            start = company.db.serialize()
            for number, call in enumerate(task.ground_truth):
                await self.replay(company, call, f"task.ground_truth[{number}]")
            self._prepared[key] = Prepared(start=start, expected=company.snapshot())
            if len(self._prepared) > PREPARED_CACHE:
                self._prepared.popitem(last=False)
        self._prepared.move_to_end(key)
        return self._prepared[key]

    async def replay(self, company: Company, call: Call, where: str) -> Any:
        """Run one call as the model's would run, through the tool's argument checks."""
        spec = self.tool_specs().get(call.name)
        if spec is None:
            raise ToolError(f"{where}: no tool {call.name!r}")
        try:
            arguments = spec.arguments_model.model_validate(call.arguments)
            return await getattr(self, spec.method_name)(company, **dict(arguments))
        except (ValidationError, ToolError) as error:
            raise ToolError(f"{where}: {call.name}: {error}") from None

    async def verify(self, task: WorkplaceTask, trajectory: Trajectory, state: Company) -> Verdict:
        expected, reached = (await self.prepared(task)).expected, state.snapshot()
        differ = [table.name for table in TABLES if expected[table.name] != reached[table.name]]
        metrics: dict[str, Any] = {
            "tool_calls_made": dict(state.calls),
            "invalid_calls": sum(state.refused.values()),
            "tables_differ": differ,
        }
        return Verdict(reward=float(not differ), metrics=metrics)
