"""`gym hub validate`: check an environment without a model, against its real resources server.

The checks, in order; one that cannot run because an earlier one failed is skipped:

    schema         the entry, its example tasks and their solutions load, every task has a
                   solution and fits the task model, the server class imports, its settings fit
    starts         the resources server starts and answers /healthz
    reference      every example task earns reward 1 with its reference solution
    wrong          every example task earns reward 0 with its wrong solution
    cheats         every cheat probe (an answer that games the verifier) earns reward 0
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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from gym_core.catalog import CATALOG_FILENAME, EnvEntry, default_catalog_path, load_catalog
from gym_core.config import GymConfig, load_config
from gym_core.errors import ConfigError, GymError
from gym_core.hub.checks import Plan, ServerChecks, percentiles
from gym_core.hub.report import (
    DEFAULT_VERIFY_LIMIT_S,
    CheckResult,
    ValidationReport,
    failed,
    report_of,
)
from gym_core.hub.solutions import Cheat, load_cheats, load_solutions
from gym_core.hub.sources import env_sources
from gym_core.imports import import_object
from gym_core.launch.local import start_service, stop_processes
from gym_core.settings import ResourcesServerSettings, parse_settings
from gym_core.tasks_file import load_tasks

__all__ = [
    "ValidationReport",
    "project_config",
    "validate_env",
    "validate_project",
]


def validate_env(
    config: GymConfig, name: str, *, verify_limit_s: float = DEFAULT_VERIFY_LIMIT_S
) -> ValidationReport:
    """Run every check on the environment `name` of `config`. Call with no event loop running."""
    try:
        plan = _prepare(config, name)
    except GymError as error:
        return report_of(name, [failed("schema", [str(error)])])
    schema = CheckResult(
        name="schema",
        status="passed",
        summary=f"{len(plan.tasks)} example tasks, each with a reference and a wrong solution; "
        f"{len(plan.cheats)} cheat probes",
    )
    descriptor, log = tempfile.mkstemp(prefix=f"rl-gym-validate-{name}-", suffix=".log")
    os.close(descriptor)
    with _stdio_to(Path(log)):
        process = start_service(
            config.services.resources_server, plan.settings.model_dump(), name=f"env-{name}"
        )
    checks = ServerChecks(process, plan, verify_limit_s)
    try:
        results = asyncio.run(checks.run(config.serve.startup_timeout_s))
    finally:
        stop_processes([process])
    report = report_of(name, [schema, *results], examples=len(plan.tasks))
    report.cheats_tried, report.cheats_passed = len(plan.cheats), checks.cheats_passed
    if report.passed:
        os.unlink(log)
    else:
        report.server_log = log
    if checks.verify_seconds:
        report.verify_latency_ms = percentiles(checks.verify_seconds)
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
        return [report_of(str(project), [failed("schema", [str(error)])])]
    return [validate_env(config, name, verify_limit_s=verify_limit_s) for name in names]


def project_config(project: Path, overrides: dict[str, Any] | None = None) -> GymConfig:
    """The configuration with the environments of `project` served from source."""
    builtin = default_catalog_path()
    return load_config(builtin, None, overrides, env_sources(builtin, [project]))


def _prepare(config: GymConfig, name: str) -> Plan:
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
    cheats = _cheats(name, entry, {task.id for task in tasks})
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
    return Plan(tasks=tasks, solutions=solutions, cheats=cheats, settings=settings)


def _cheats(name: str, entry: EnvEntry, task_ids: set[str]) -> list[Cheat]:
    path = entry.cheats_path()
    if path is None:
        raise ConfigError(
            f"envs.{name}.datasets.cheats is not set: ship a JSONL file of cheat probes, "
            "answers that game the verifier and must earn 0 (see gym_core.hub.solutions)"
        )
    cheats = load_cheats(path)
    if not cheats:
        raise ConfigError(f"{path}: no cheat probes")
    strays = sorted({cheat.id for cheat in cheats} - task_ids)
    if strays:
        raise ConfigError(f"{path}: cheat probes of tasks that do not exist: {_ids(strays)}")
    return cheats


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
