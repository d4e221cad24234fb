"""Instructions with verifiable constraints (IFEval's): reward 1 when the response follows
every one (see README.md, Grading)."""

from __future__ import annotations

import difflib
from typing import Any, Literal

from pydantic import Field, JsonValue, ValidationError, model_validator

from environments.instruction_following.checkers import CHECKERS, arguments_model
from environments.instruction_following.grading import Instruction, grade
from resources_server import ResourcesServer, TaskFields, Trajectory, Verdict


class InstructionTask(TaskFields):
    instruction_id_list: list[str] = Field(min_length=1)
    """The instructions, by IFEval id (`length_constraints:number_words`, ...)."""
    kwargs: list[dict[str, Any] | None] | None = None
    """Each instruction's arguments, in the same order; null or `{}` for none."""
    grading_mode: Literal["binary", "fraction"] = "binary"
    """`binary`: 1 when every instruction holds; `fraction`: the share that hold."""
    difficulty: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _lift_verifier_metadata(cls, data: Any) -> Any:
        """NeMo Gym's newer rows keep the fields under `verifier_metadata`."""
        if isinstance(data, dict) and isinstance(data.get("verifier_metadata"), dict):
            return {**data["verifier_metadata"], **data}
        return data

    @model_validator(mode="after")
    def _instructions_are_known(self) -> InstructionTask:
        self.instructions()
        return self

    def instructions(self) -> list[Instruction]:
        """Each instruction with its arguments checked; a ValueError naming the bad one."""
        kwargs = self.kwargs if self.kwargs is not None else [None] * len(self.instruction_id_list)
        if len(kwargs) != len(self.instruction_id_list):
            raise ValueError(
                f"kwargs has {len(kwargs)} entries for {len(self.instruction_id_list)} "
                "instructions in instruction_id_list"
            )
        pairs = zip(self.instruction_id_list, kwargs, strict=True)
        return [
            _checked(index, name, arguments or {}) for index, (name, arguments) in enumerate(pairs)
        ]


def _checked(index: int, name: str, arguments: dict[str, Any]) -> Instruction:
    if name not in CHECKERS:
        close = difflib.get_close_matches(name, CHECKERS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"instruction_id_list[{index}]: unknown instruction {name!r}{hint}")
    given = {key: value for key, value in arguments.items() if value is not None}
    try:
        model = arguments_model(name).model_validate(given)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}"
            for problem in error.errors()
        )
        raise ValueError(f"kwargs[{index}] of {name}: {problems}") from None
    return name, model.model_dump()


class InstructionFollowingServer(ResourcesServer[InstructionTask, None]):
    """Reward 1 when every instruction holds (or their share, in `fraction` mode)."""

    task_model = InstructionTask
    cpu_preload = (
        "environments.instruction_following.grading",
        "environments.instruction_following.profiles",
    )

    async def verify(self, task: InstructionTask, trajectory: Trajectory, state: None) -> Verdict:
        instructions = task.instructions()
        followed: list[bool] = await self.run_cpu(grade, trajectory.final_text, instructions)
        fraction = sum(followed) / len(followed)
        metrics: dict[str, JsonValue] = {
            "all_followed": all(followed),
            "fraction_followed": fraction,
            "instructions": [
                {"id": name, "followed": verdict}
                for (name, _), verdict in zip(instructions, followed, strict=True)
            ],
        }
        reward = fraction if task.grading_mode == "fraction" else float(all(followed))
        return Verdict(reward=reward, metrics=metrics)
