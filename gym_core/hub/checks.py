"""The checks of `gym hub validate` that need the running resources server.

Every example task is played twice with each of its solutions, the second time in reverse
order (a verifier whose reward depends on what it saw before is not deterministic); the cheat
probes and the malformed requests of `gym_core.hub.probes` run in between. Verify calls are
timed, after one untimed warm-up call (the first may wait for the CPU workers to start).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import aiohttp

from gym_core.catalog import LatencyMs
from gym_core.errors import ServiceError
from gym_core.http_client import HttpClient
from gym_core.hub.player import Played, ScriptedPlayer, wire
from gym_core.hub.probes import run_probe, session_probes, task_probes
from gym_core.hub.report import CHECKS, CheckResult, failed, skipped
from gym_core.hub.solutions import Cheat, Solution, ToolStep, steps_of
from gym_core.imports import import_object
from gym_core.launch.local import LaunchError, ServiceProcess
from gym_core.metrics import Exposition
from gym_core.protocol import Task, ToolSchema
from gym_core.resources_api import ToolsResponse
from gym_core.settings import ResourcesServerSettings

__all__ = ["Plan", "ServerChecks", "percentiles"]

METRICS_TIMEOUT_S = 10.0


@dataclass
class Plan:
    """What the checks run on, loaded and checked before the server starts."""

    tasks: list[Task]
    solutions: dict[str, Solution]
    cheats: list[Cheat]
    settings: ResourcesServerSettings


Outcome = Played | str
"""A played attempt, or why it could not be played."""


class ServerChecks:
    """The checks that need the running server."""

    def __init__(self, process: ServiceProcess, plan: Plan, verify_limit_s: float) -> None:
        self.process = process
        self.plan = plan
        self.verify_limit_s = verify_limit_s
        self.verify_seconds: list[float] = []
        self.cheats_passed = 0
        """Cheat probes that earned nothing, as they must."""

    async def run(self, startup_timeout_s: float) -> list[CheckResult]:
        timeout_s = max(60.0, 2 * self.verify_limit_s)
        async with HttpClient(timeout_s=timeout_s, max_retries=0) as http:
            started = time.perf_counter()
            try:
                await self.process.wait_healthy(http, startup_timeout_s)
            except LaunchError as error:
                return [failed("starts", [str(error)]), *(skipped(name) for name in CHECKS[2:])]
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
            cheats = await self._cheats(player)
            malformed = await self._malformed(http, player, silent)
            again = await self._play_all(player, list(reversed(self.plan.tasks)))
            return [
                starts,
                _rewards("reference", first, 1.0),
                _rewards("wrong", first, 0.0),
                cheats,
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

    async def _cheats(self, player: ScriptedPlayer) -> CheckResult:
        """Every cheat probe must earn nothing (a reward of 0 or less) and verify cleanly."""
        tasks = {task.id: task for task in self.plan.tasks}
        problems, paid = [], Counter[str]()
        for cheat in self.plan.cheats:
            what = f"cheat {cheat.cheat!r} on task {cheat.id!r}"
            try:
                played = await player.play(tasks[cheat.id], steps_of(cheat.attempt))
            except ServiceError as error:
                problems.append(f"{what}: {error}")
                continue
            self.verify_seconds.append(played.verify_s)
            verdict = played.verdict
            if verdict.failure is not None:
                failure = verdict.failure
                problems.append(f"{what}: verification failed ({failure.kind}): {failure.message}")
            elif (verdict.reward or 0.0) > 0:
                paid[cheat.cheat] += 1
                problems.append(f"{what} earned {_scored(played)}")
            else:
                self.cheats_passed += 1
        tried = len(self.plan.cheats)
        if problems:
            summary = f"{paid.total()} of {tried} cheat probes earned a reward"
            summary += "".join(f", {name} {count}" for name, count in paid.most_common())
            broken = tried - self.cheats_passed - paid.total()
            summary += f"; {broken} broke the verifier" if broken else ""
            return failed("cheats", problems, summary)
        kinds = len({cheat.cheat for cheat in self.plan.cheats})
        summary = f"{tried} cheat probes of {kinds} kinds, none earned a reward"
        return CheckResult(name="cheats", status="passed", summary=summary)

    async def _malformed(
        self, http: HttpClient, player: ScriptedPlayer, problems: list[str]
    ) -> CheckResult:
        base = self.process.url
        task = self.plan.tasks[0]
        try:
            tools = ToolsResponse.model_validate(await http.get(f"{base}/tools")).tools
            session = await player.open(task)
        except ServiceError as error:
            return failed("malformed", [str(error)])
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
            return failed("malformed", problems)
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
            return skipped("latency")
        latency = percentiles(self.verify_seconds)
        slowest = max(self.verify_seconds)
        summary = (
            f"{len(self.verify_seconds)} verify calls: p50 {latency.p50:.1f} ms, "
            f"p99 {latency.p99:.1f} ms, slowest {slowest * 1000:.1f} ms "
            f"(limit {self.verify_limit_s * 1000:g} ms)"
        )
        if slowest > self.verify_limit_s:
            slow = sum(1 for s in self.verify_seconds if s > self.verify_limit_s)
            problem = f"{slow} verify calls took longer than {self.verify_limit_s:g}s"
            return failed("latency", [problem], summary)
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
        return failed(kind, problems)
    return CheckResult(name=kind, status="passed", summary=f"{total}/{total} reward {expected:g}")


def _determinism(
    first: dict[tuple[str, str], Outcome], again: dict[tuple[str, str], Outcome]
) -> CheckResult:
    problems = []
    for key, outcome in first.items():
        repeat = again[key]
        if isinstance(outcome, str) or isinstance(repeat, str):
            continue
        before, after = _scored(outcome), _scored(repeat)
        if before != after:
            problems.append(
                f"task {key[0]!r} with its {key[1]} solution: {before}, then {after} when "
                "played again"
            )
    if problems:
        return failed("deterministic", problems)
    return CheckResult(
        name="deterministic", status="passed", summary=f"{len(first)} attempts played twice"
    )


def _scored(played: Played) -> str:
    verdict = played.verdict
    if verdict.failure is not None:
        return f"failed ({verdict.failure.kind})"
    parts = f" {verdict.reward_components}" if verdict.reward_components else ""
    return f"reward {verdict.reward:g}{parts}"


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
    raised = int(Exposition(text).value("failures_total", kind="tool_raised"))
    if not raised:
        return []
    return [
        f"tools raised an unexpected exception {raised} times (the server's log has the "
        "tracebacks): raise ToolError with a message for the model instead"
    ]


def percentiles(seconds: list[float]) -> LatencyMs:
    """p50 and p99 (nearest rank) of durations in seconds, in milliseconds."""
    ordered = sorted(seconds)

    def rank(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] * 1000

    return LatencyMs(p50=round(rank(0.50), 3), p99=round(rank(0.99), 3))
