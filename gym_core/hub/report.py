"""What `gym hub validate` found: one result per check, and the whole report."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from gym_core.catalog import LatencyMs

__all__ = [
    "CHECKS",
    "DEFAULT_VERIFY_LIMIT_S",
    "CheckResult",
    "ValidationReport",
    "failed",
    "report_of",
    "skipped",
]

CHECKS = (
    "schema",
    "starts",
    "reference",
    "wrong",
    "cheats",
    "malformed",
    "deterministic",
    "latency",
)
"""Every check, in the order they run (see `gym_core.hub.validate`)."""
DEFAULT_VERIFY_LIMIT_S = 5.0
"""The longest one verify call may take, wall-clock, as the validator measures it."""
MAX_PROBLEMS_SHOWN = 10
LIKELY_CAUSES = {
    "starts": "the server's log below says why it stopped",
    "reference": "the verifier rejects a right answer, or the reference solution is wrong",
    "wrong": "the verifier accepts a wrong answer: does it check the value, not only the form?",
    "cheats": "the verifier pays for an answer that games it: a policy will find that answer "
    "and learn it instead of the task",
    "malformed": "refuse bad input in the task model, and raise ToolError in tools",
    "deterministic": "the reward depends on more than the task and the trajectory (state kept "
    "across sessions, the clock, unseeded randomness)",
    "latency": "move heavy work to `run_cpu`, or raise --verify-limit-s if it must be slow",
}
"""What usually makes each check fail, said once under its problems."""


class CheckResult(BaseModel):
    name: str
    status: Literal["passed", "failed", "skipped"]
    summary: str = ""
    problems: list[str] = Field(default_factory=list)


class ValidationReport(BaseModel):
    env: str
    checks: list[CheckResult]
    examples: int = 0
    cheats_tried: int = 0
    cheats_passed: int = 0
    """Cheat probes played, and those that earned nothing."""
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
            if check.status == "failed" and check.name in LIKELY_CAUSES:
                lines.append(f"           likely cause: {LIKELY_CAUSES[check.name]}")
        if not self.passed and self.server_log:
            lines.append(f"  the server's log: {self.server_log}")
        return "\n".join(lines)


def report_of(name: str, checks: list[CheckResult], examples: int = 0) -> ValidationReport:
    """A report of `checks`; the checks that did not run are marked skipped."""
    named = {check.name for check in checks}
    checks += [skipped(check) for check in CHECKS if check not in named]
    return ValidationReport(env=name, checks=checks, examples=examples)


def failed(name: str, problems: list[str], summary: str = "") -> CheckResult:
    return CheckResult(name=name, status="failed", summary=summary, problems=problems)


def skipped(name: str) -> CheckResult:
    return CheckResult(name=name, status="skipped", summary="(an earlier check failed)")
