"""Math word problems and exercises, answered in `\\boxed{}` and checked with math-verify."""

from __future__ import annotations

from pydantic import AliasChoices, Field

from environments.math.grading import grade
from resources_server import ResourcesServer, TaskFields, Trajectory, Verdict


class MathTask(TaskFields):
    answer: str = Field(validation_alias=AliasChoices("answer", "expected_answer"))
    """The gold answer, LaTeX or plain (`\\frac{3}{4}`, `0.75`, `x^2+1`). NeMo Gym rows call
    it `expected_answer`."""


class MathServer(ResourcesServer[MathTask, None]):
    """Reward 1 when the final answer equals the gold answer, else 0."""

    task_model = MathTask
    cpu_preload = ("environments.math.grading", "math_verify")

    async def verify(self, task: MathTask, trajectory: Trajectory, state: None) -> Verdict:
        result = await self.run_cpu(grade, task.answer, trajectory.final_text)
        return Verdict(reward=float(result.correct), metrics={"extracted_answer": result.extracted})
