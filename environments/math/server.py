"""Math word problems and exercises, answered in `\\boxed{}` and graded as a careful human would,
with math-verify comparing values (see README.md, Grading)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AliasChoices, Field, StringConstraints

from environments.math.answers import written_number
from environments.math.grading import grade, unreadable_gold
from resources_server import ResourcesServer, TaskFields, ToolError, Trajectory, Verdict
from resources_server.cpu_pool import CpuTimeExceeded


class MathTask(TaskFields):
    answer: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)] = Field(
        validation_alias=AliasChoices("answer", "expected_answer")
    )
    """The gold answer, LaTeX or plain (`\\frac{3}{4}`, `0.75`, `x^2+1`). NeMo Gym rows call
    it `expected_answer`."""


class MathServer(ResourcesServer[MathTask, None]):
    """Reward 1 when the final answer equals the gold answer, else 0."""

    task_model = MathTask
    cpu_preload = ("environments.math.grading", "math_verify")

    async def seed(self, task: MathTask) -> None:
        """Refuse a gold answer nothing could match (a written-out number needs no parsing)."""
        if written_number(task.answer) is not None:
            return
        try:
            problem = await self.run_cpu(unreadable_gold, task.answer)
        except CpuTimeExceeded as error:
            problem = f"reading it took too long ({error})"
        if problem is not None:
            raise ToolError(f"task.answer: {problem}")

    async def verify(self, task: MathTask, trajectory: Trajectory, state: None) -> Verdict:
        prompt = "\n".join(
            message.content or "" for message in trajectory.messages if message.role == "user"
        )
        result = await self.run_cpu(grade, task.answer, trajectory.final_text, prompt)
        metrics = {"extracted_answer": result.extracted, "answer_check": result.why}
        return Verdict(reward=float(result.correct), metrics=metrics)
