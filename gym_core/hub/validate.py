"""`gym hub validate`: check an environment without a model, against its real resources server.

The checks, in order; one that cannot run because an earlier one failed is skipped:

    schema         the entry, its example tasks and their solutions load, every task has a
                   solution and fits the task model, the server class imports, its settings fit
    starts         the resources server starts and answers /healthz
    reference      every example task earns reward 1 with its reference solution
    wrong          every example task earns reward 0 with its wrong solution
    malformed      malformed requests get a clean 4xx, and nothing crashes (`gym_core.hub.probes`)
    deterministic  the same attempts, played again in reverse order, earn the same rewards
    latency        no verify call takes longer than the limit; p50 and p99 are reported

The server runs exactly as `gym serve` runs it, in its own process on a loopback port; its log
goes to a file, which a failed report names (and a passed one deletes).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import aiohttp
from pydantic import BaseModel, Field

from gym_core.catalog import (
    CATALOG_FILENAME,
    EnvEntry,
    LatencyMs,
    default_catalog_path,
    load_catalog,
)
from gym_core.config import GymConfig, load_config
from gym_core.errors import ConfigError, GymError, ServiceError
from gym_core.http_client import HttpClient
from gym_core.hub.player import Played, ScriptedPlayer, wire
from gym_core.hub.probes import run_probe, session_probes, task_probes
from gym_core.hub.solutions import Solution, ToolStep, load_solutions, steps_of
from gym_core.hub.sources import env_sources
from gym_core.imports import import_object
from gym_core.launch.local import LaunchError, ServiceProcess, start_service, stop_processes
from gym_core.protocol import Task, ToolSchema
from gym_core.resources_api import ToolsResponse
from gym_core.settings import ResourcesServerSettings, parse_settings
from gym_core.tasks_file import load_tasks

__all__ = [
    "CHECKS",
    "DEFAULT_VERIFY_LIMIT_S",
    "CheckResult",
    "ValidationReport",
    "project_config",
    "validate_env",
    "validate_project",
]

DEFAULT_VERIFY_LIMIT_S = 5.0
CHECKS = ("schema", "starts", "reference", "wrong", "malformed", "deterministic", "latency")
MAX_PROBLEMS_SHOWN = 10
METRICS_TIMEOUT_S = 10.0


class CheckResult(BaseModel):
    name: str
    status: Literal["passed", "failed", "skipped"]
    summary: str = ""
    problems: list[str] = Field(default_factory=list)


class ValidationReport(BaseModel):
    env: str
    checks: list[CheckResult]
    examples: int = 0
    verify_latency_ms: LatencyMs | None = None
    server_log: str | None = None

    @property
    def passed(self) -> bool:
        return all(check.status == "passed" for check in self.checks)

    def passed_checks(self) -> list[str]:
        return [check.name for check in self.checks if check.status == "passed"]

    def explain(self) -> str:
        """The report as text: one line a check, then what failed and why."""
        lines = [f"{self.env}: {'passed' if self.passed else 'FAILED'}"]
        for check in self.checks:
            lines.append(f"  {check.status:8} {check.name:14} {check.summary}".rstrip())
            shown = check.problems[:MAX_PROBLEMS_SHOWN]
            lines += [f"           - {problem}" for problem in shown]
            if len(check.problems) > len(shown):
                lines.append(f"           ... and {len(check.problems) - len(shown)} more")
        if not self.passed and self.server_log:
            lines.append(f"  the server's log: {self.server_log}")
        return "\n".join(lines)


@dataclass
class _Plan:
    """What the checks run on, loaded and checked before the server starts."""

    tasks: list[Task]
    solutions: dict[str, Solution]
    settings: ResourcesServerSettings


def validate_env(
    config: GymConfig, name: str, *, verify_limit_s: float = DEFAULT_VERIFY_LIMIT_S
) -> ValidationReport:
    """Run every check on the environment `name` of `config`. Call with no event loop running."""
    try:
        plan = _prepare(config, name)
    except GymError as error:
        return _report(name, [CheckResult(name="schema", status="failed", problems=[str(error)])])
    schema = CheckResult(
        name="schema",
        status="passed",
        summary=f"{len(plan.tasks)} example tasks, each with a reference and a wrong solution",
    )
    descriptor, log = tempfile.mkstemp(prefix=f"rl-gym-validate-{name}-", suffix=".log")
    os.close(descriptor)
    with _stdio_to(Path(log)):
        process = start_service(
            config.services.resources_server, plan.settings.model_dump(), name=f"env-{name}"
        )
    checks = _Checks(process, plan, verify_limit_s)
    try:
        results = asyncio.run(checks.run(config.serve.startup_timeout_s))
    finally:
        stop_processes([process])
    report = _report(name, [schema, *results], examples=len(plan.tasks))
    if report.passed:
        os.unlink(log)
    else:
        report.server_log = log
    if checks.verify_seconds:
        report.verify_latency_ms = _percentiles(checks.verify_seconds)
    return report


def validate_project(
    project: Path, *, verify_limit_s: float = DEFAULT_VERIFY_LIMIT_S
) -> list[ValidationReport]:
    """Validate every environment of a project (a directory holding its `rl_hub.yaml`).

    A project whose catalog does not load gets one report, its schema check failed.
    """
    try:
        names = list(load_catalog(project / CATALOG_FILENAME).envs)
        config = project_config(project)
    except ConfigError as error:
        failed = CheckResult(name="schema", status="failed", problems=[str(error)])
        return [_report(str(project), [failed])]
    return [validate_env(config, name, verify_limit_s=verify_limit_s) for name in names]


def project_config(project: Path, overrides: dict[str, Any] | None = None) -> GymConfig:
    """The configuration with the environments of `project` served from source."""
    builtin = default_catalog_path()
    return load_config(builtin, None, overrides, env_sources(builtin, [project]))


def _prepare(config: GymConfig, name: str) -> _Plan:
    entry: EnvEntry = config.envs[name]
    tasks = load_tasks(entry.example_path(), env=name)
    if not tasks:
        raise ConfigError(f"{entry.example_path()}: no example tasks")
    solutions_path = entry.solutions_path()
    if solutions_path is None:
        raise ConfigError(
            f"envs.{name}.datasets.solutions is not set: ship a JSONL file with a reference "
            "and a wrong solution for every example task (see gym_core.hub.solutions)"
        )
    solutions = load_solutions(solutions_path)
    unsolved = [task.id for task in tasks if task.id not in solutions]
    if unsolved:
        raise ConfigError(f"{solutions_path}: no solution for the tasks {_ids(unsolved)}")
    strays = sorted(set(solutions) - {task.id for task in tasks})
    if strays:
        raise ConfigError(f"{solutions_path}: solutions for tasks that do not exist: {strays}")
    server_class = import_object(entry.server)
    task_model = getattr(server_class, "task_model", None)
    if not (isinstance(task_model, type) and issubclass(task_model, BaseModel)):
        raise ConfigError(f"{entry.server!r} is not a ResourcesServer subclass")
    parse_settings(server_class.settings_model, entry.settings, f"envs.{name}.settings")
    for task in tasks:
        parse_settings(task_model, task.model_dump(), f"example task {task.id!r}")
    settings = ResourcesServerSettings(
        **config.resources.model_dump(), name=name, server=entry.server, env_settings=entry.settings
    )
    return _Plan(tasks=tasks, solutions=solutions, settings=settings)


Outcome = Played | str
"""A played attempt, or why it could not be played."""


class _Checks:
    """The checks that need the running server."""

    def __init__(self, process: ServiceProcess, plan: _Plan, verify_limit_s: float) -> None:
        self.process = process
        self.plan = plan
        self.verify_limit_s = verify_limit_s
        self.verify_seconds: list[float] = []

    async def run(self, startup_timeout_s: float) -> list[CheckResult]:
        timeout_s = max(60.0, 2 * self.verify_limit_s)
        async with HttpClient(timeout_s=timeout_s, max_retries=0) as http:
            started = time.perf_counter()
            try:
                await self.process.wait_healthy(http, startup_timeout_s)
            except LaunchError as error:
                failed = CheckResult(name="starts", status="failed", problems=[str(error)])
                return [failed, *(_skipped(name) for name in CHECKS[2:])]
            ready_s = time.perf_counter() - started
            player = ScriptedPlayer(http, self.process.url)
            started = time.perf_counter()
            silent = await self._silent_episode(player, self.plan.tasks[0])
            starts = CheckResult(
                name="starts",
                status="passed",
                summary=f"answered /healthz in {ready_s:.1f}s, the first verify call (untimed "
                f"warm-up) in {time.perf_counter() - started:.1f}s",
            )
            first = await self._play_all(player, self.plan.tasks)
            malformed = await self._malformed(http, player, silent)
            again = await self._play_all(player, list(reversed(self.plan.tasks)))
            return [
                starts,
                _rewards("reference", first, 1.0),
                _rewards("wrong", first, 0.0),
                malformed,
                _determinism(first, again),
                self._latency_check(),
            ]

    async def _play_all(
        self, player: ScriptedPlayer, tasks: list[Task]
    ) -> dict[tuple[str, str], Outcome]:
        outcomes: dict[tuple[str, str], Outcome] = {}
        for task in tasks:
            solution = self.plan.solutions[task.id]
            for kind, attempt in (("reference", solution.reference), ("wrong", solution.wrong)):
                try:
                    played = await player.play(task, steps_of(attempt))
                except ServiceError as error:
                    outcomes[(task.id, kind)] = str(error)
                    continue
                self.verify_seconds.append(played.verify_s)
                outcomes[(task.id, kind)] = played
        return outcomes

    async def _malformed(
        self, http: HttpClient, player: ScriptedPlayer, problems: list[str]
    ) -> CheckResult:
        base = self.process.url
        task = self.plan.tasks[0]
        try:
            tools = ToolsResponse.model_validate(await http.get(f"{base}/tools")).tools
            session = await player.open(task)
        except ServiceError as error:
            return CheckResult(name="malformed", status="failed", problems=[str(error)])
        task_model = import_object(self.plan.settings.server).task_model
        probes = [
            *task_probes(wire(task), task_model),
            *session_probes(session.session_id, tools, self._known_arguments(tools)),
        ]
        for probe in probes:
            problem = await run_probe(http, base, probe)
            if problem:
                problems.append(problem)
        problems += await _tool_crashes(base)
        if problems:
            return CheckResult(name="malformed", status="failed", problems=problems)
        return CheckResult(
            name="malformed",
            status="passed",
            summary=f"{len(probes) + 1} malformed or odd requests, none crashed the server",
        )

    async def _silent_episode(self, player: ScriptedPlayer, task: Task) -> list[str]:
        """A model may answer with nothing at all: that is a reward, not a verifier crash."""
        what = f"task {task.id!r} verified after an empty assistant answer"
        try:
            played = await player.play(task, steps_of(""))
        except ServiceError as error:
            return [f"{what}: {error}"]
        if played.verdict.failure is not None:
            return [f"{what}: {played.verdict.failure.message}"]
        return []

    def _known_arguments(self, tools: list[ToolSchema]) -> dict[str, dict[str, Any]]:
        """Arguments of each tool's first call in the reference solutions."""
        known: dict[str, dict[str, Any]] = {}
        for solution in self.plan.solutions.values():
            for step in steps_of(solution.reference):
                if isinstance(step, ToolStep):
                    known.setdefault(step.call, step.arguments)
        return known

    def _latency_check(self) -> CheckResult:
        if not self.verify_seconds:
            return _skipped("latency")
        latency = _percentiles(self.verify_seconds)
        slowest = max(self.verify_seconds)
        summary = (
            f"{len(self.verify_seconds)} verify calls: p50 {latency.p50:.1f} ms, "
            f"p99 {latency.p99:.1f} ms, slowest {slowest * 1000:.1f} ms "
            f"(limit {self.verify_limit_s * 1000:g} ms)"
        )
        if slowest > self.verify_limit_s:
            slow = sum(1 for s in self.verify_seconds if s > self.verify_limit_s)
            problem = f"{slow} verify calls took longer than {self.verify_limit_s:g}s"
            return CheckResult(name="latency", status="failed", summary=summary, problems=[problem])
        return CheckResult(name="latency", status="passed", summary=summary)


def _rewards(kind: str, outcomes: dict[tuple[str, str], Outcome], expected: float) -> CheckResult:
    problems = []
    total = 0
    for (task_id, attempt), outcome in outcomes.items():
        if attempt != kind:
            continue
        total += 1
        what = f"task {task_id!r} with its {kind} solution"
        if isinstance(outcome, str):
            problems.append(f"{what}: {outcome}")
        elif outcome.verdict.failure is not None:
            failure = outcome.verdict.failure
            problems.append(f"{what}: verification failed ({failure.kind}): {failure.message}")
        elif outcome.verdict.reward != expected:
            problems.append(f"{what}: reward {outcome.verdict.reward:g}, expected {expected:g}")
    if problems:
        return CheckResult(name=kind, status="failed", problems=problems)
    return CheckResult(name=kind, status="passed", summary=f"{total}/{total} reward {expected:g}")


def _determinism(
    first: dict[tuple[str, str], Outcome], again: dict[tuple[str, str], Outcome]
) -> CheckResult:
    problems = []
    for key, outcome in first.items():
        repeat = again[key]
        if isinstance(outcome, str) or isinstance(repeat, str):
            continue
        before = (outcome.verdict.reward, outcome.verdict.reward_components)
        after = (repeat.verdict.reward, repeat.verdict.reward_components)
        if before != after:
            problems.append(
                f"task {key[0]!r} with its {key[1]} solution: reward {before[0]} "
                f"{before[1] or ''}, then {after[0]} {after[1] or ''} when played again"
            )
    if problems:
        return CheckResult(name="deterministic", status="failed", problems=problems)
    return CheckResult(
        name="deterministic", status="passed", summary=f"{len(first)} attempts played twice"
    )


async def _tool_crashes(base_url: str) -> list[str]:
    """Tools that raised something other than `ToolError`, as the server counted them."""
    timeout = aiohttp.ClientTimeout(total=METRICS_TIMEOUT_S)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(f"{base_url}/metrics") as response,
        ):
            text = await response.text()
    except (aiohttp.ClientError, TimeoutError) as error:
        return [f"GET {base_url}/metrics: {error!r}"]
    raised = 0
    for line in text.splitlines():
        if line.startswith("rlgym_failures_total") and 'kind="tool_raised"' in line:
            raised += int(float(line.rsplit(" ", 1)[1]))
    if not raised:
        return []
    return [
        f"tools raised an unexpected exception {raised} times (the server's log has the "
        "tracebacks): raise ToolError with a message for the model instead"
    ]


def _percentiles(seconds: list[float]) -> LatencyMs:
    ordered = sorted(seconds)

    def rank(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] * 1000

    return LatencyMs(p50=round(rank(0.50), 3), p99=round(rank(0.99), 3))


def _report(name: str, checks: list[CheckResult], examples: int = 0) -> ValidationReport:
    named = {check.name for check in checks}
    checks += [_skipped(check) for check in CHECKS if check not in named]
    return ValidationReport(env=name, checks=checks, examples=examples)


def _skipped(name: str) -> CheckResult:
    return CheckResult(name=name, status="skipped", summary="(an earlier check failed)")


def _ids(ids: list[str]) -> str:
    shown = ", ".join(repr(i) for i in ids[:5])
    return shown + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")


@contextlib.contextmanager
def _stdio_to(path: Path) -> Iterator[None]:
    """Point stdout and stderr (the descriptors and Python's streams) at `path` while a
    service forks, so that the service's log goes there and not into the report."""
    sys.stdout.flush()
    sys.stderr.flush()
    streams = sys.stdout, sys.stderr
    descriptors = os.dup(1), os.dup(2)
    with path.open("a", buffering=1) as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        sys.stdout = sys.stderr = log
        try:
            yield
        finally:
            sys.stdout, sys.stderr = streams
            os.dup2(descriptors[0], 1)
            os.dup2(descriptors[1], 2)
            for descriptor in descriptors:
                os.close(descriptor)
