"""Python programming problems graded by tests run in the sandbox.

The answer is the last ```python block of the final message. Reward 1 when it passes every
test, else 0; `tests_passed`, `tests_total` and each test's result go in the metrics. A
failure of the sandbox itself is never a reward: it raises, and the rollout fails with
`sandbox_error`.
"""

from __future__ import annotations

from typing import cast

from pydantic import BaseModel, ConfigDict, Field

from environments.code.cases import CodeTask
from environments.code.grading import CaseResult, extract_code, grade
from gym_core.errors import ConfigError
from resources_server import ResourcesServer, Trajectory, Verdict, tool
from resources_server.cpu_pool import CpuPool
from resources_server.sandbox import (
    RunResult,
    Sandbox,
    SandboxError,
    SandboxSettings,
    create_sandbox,
)

__all__ = ["CodeServer", "CodeSettings", "CodeToolsServer"]

TOOL_OUTPUT_CHARS = 4000
"""How much of each of stdout and stderr `run_python` shows the model."""


class CodeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sandbox: SandboxSettings = Field(default_factory=SandboxSettings)
    """Where and under which limits solutions (and `run_python`) run."""


class CodeServer(ResourcesServer[CodeTask, None]):
    """Reward 1 when the final answer's code passes every test, else 0."""

    task_model = CodeTask
    settings_model = CodeSettings

    def __init__(self, settings: BaseModel, cpu: CpuPool) -> None:
        super().__init__(settings, cpu)
        try:  # a sandbox that cannot work here is a setting to fix, said before anything runs
            self.sandbox: Sandbox = create_sandbox(cast(CodeSettings, settings).sandbox)
        except SandboxError as error:
            raise ConfigError(f"settings.sandbox: {error}") from None

    async def startup(self) -> None:
        await self.sandbox.check()

    async def shutdown(self) -> None:
        await self.sandbox.close()

    async def verify(self, task: CodeTask, trajectory: Trajectory, state: None) -> Verdict:
        code = extract_code(trajectory.final_text)
        if code is None:
            missing = CaseResult(status="not_run", detail="no ```python block in the answer")
            results = [missing] * len(task.tests)
        else:
            results = await grade(self.sandbox, code, task)
        passed = sum(result.status == "passed" for result in results)
        return Verdict(
            reward=float(passed == len(results)),
            metrics={
                "code_found": code is not None,
                "tests_passed": passed,
                "tests_total": len(results),
                "tests": [result.model_dump() for result in results],
            },
        )


class CodeToolsServer(CodeServer):
    """The code environment with a `run_python` tool, to try code before answering."""

    @tool
    async def run_python(self, state: None, code: str, stdin: str = "") -> str:
        """Run a Python program in a sandbox and see what it prints. Nothing is kept between
        runs, and there is no network.

        Args:
            code: The whole program.
            stdin: What the program reads from standard input.
        """
        return describe_run(await self.sandbox.run(program=code, stdin=stdin))


def describe_run(result: RunResult) -> str:
    """A run as the model reads it: how it ended, then its output."""
    if result.timed_out:
        ending = "stopped: it ran out of time"
    elif result.out_of_memory:
        ending = "stopped: it ran out of memory"
    elif result.output_truncated:
        ending = "stopped: it printed too much"
    else:
        ending = f"exit code {result.exit_code}"
    parts = [ending]
    for name, text in (("stdout", result.stdout), ("stderr", result.stderr)):
        if text:
            shown = text[:TOOL_OUTPUT_CHARS]
            cut = (
                f"\n[... {len(text) - len(shown)} more characters]"
                if len(text) > len(shown)
                else ""
            )
            parts.append(f"--- {name} ---\n{shown}{cut}")
    return "\n".join(parts)
