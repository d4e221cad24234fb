"""Procedural reasoning tasks from the `reasoning-gym` package: the response's `<answer>` is
scored by the task family's own scorer against the entry stored in the task, and the score
binarized (see README.md, Grading)."""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from pydantic import Field, JsonValue, field_validator, model_validator

from environments.reasoning_gym.generate import FAMILIES
from environments.reasoning_gym.scoring import Grade, grade
from gym_core.errors import ConfigError
from resources_server import ResourcesServer, TaskFields, Trajectory, Verdict

if importlib.util.find_spec("reasoning_gym") is None:
    # An extra, not a dependency: it compiles C on install (pyproject.toml).
    raise ConfigError(
        "the reasoning_gym environment needs the reasoning-gym package: "
        "pip install 'rl-gym[reasoning-gym]'"
    )


class ReasoningGymTask(TaskFields):
    family: str
    """The package's dataset name (`countdown`, `mini_sudoku`, ...), one of the curated ones:
    the others' scorers are left out for paying wrong answers or failing on some."""
    config: dict[str, Any] = Field(default_factory=dict)
    """The family's config the task was generated with (its scorer may read it)."""
    entry: dict[str, Any]
    """The package's entry: `question`, `answer`, `metadata`, as its scorer reads them."""
    difficulty: str | None = None

    @field_validator("family")
    @classmethod
    def _known_family(cls, family: str) -> str:
        if family not in FAMILIES:
            raise ValueError(
                f"family {family!r} is not one of the curated families (README.md, Families)"
            )
        return family

    @field_validator("entry")
    @classmethod
    def _has_answer(cls, entry: dict[str, Any]) -> dict[str, Any]:
        if "answer" not in entry:
            raise ValueError("entry needs the package's 'answer' key")
        return entry

    @model_validator(mode="after")
    def _config_fits_the_family(self) -> ReasoningGymTask:
        from environments.reasoning_gym.package import DATASETS

        try:
            DATASETS[self.family][1](**self.config)
        except (TypeError, ValueError, AssertionError) as error:
            raise ValueError(f"config does not fit family {self.family!r}: {error}") from None
        return self


class ReasoningGymServer(ResourcesServer[ReasoningGymTask, None]):
    """Reward 1 when the family's scorer gives the answer its full score, else 0."""

    task_model = ReasoningGymTask
    cpu_preload = ("environments.reasoning_gym.package", "environments.reasoning_gym.scoring")

    async def startup(self) -> None:
        # Tasks are checked against the package's families: import it (several seconds)
        # before the first request rather than during it.
        importlib.import_module("environments.reasoning_gym.package")

    async def verify(self, task: ReasoningGymTask, trajectory: Trajectory, state: None) -> Verdict:
        # A family's scorer may evaluate an expression or check a grid: under the CPU budget.
        graded: Grade = await self.run_cpu(
            grade, trajectory.final_text, task.family, task.config, task.entry
        )
        metrics: dict[str, JsonValue] = {
            "family": task.family,
            "answer_check": graded.check,
            "package_score": graded.score,
        }
        # Exactly 1: spell_backward's per-letter credit sums past 1.0 for some padded answers.
        return Verdict(reward=float(graded.score == 1.0), metrics=metrics)
