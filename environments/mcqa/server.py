"""Multiple choice: the response names one option letter, read as the task's `grading_mode`
says (see README.md, Grading); reward 1 when it is the gold letter."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import Field, JsonValue, field_validator, model_validator

from environments.mcqa.letters import GradingMode, Reading, read_answer
from resources_server import ResourcesServer, TaskFields, Trajectory, Verdict

Letter = Annotated[str, Field(pattern=r"^[A-Z]$")]


class McqaTask(TaskFields):
    options: Annotated[list[dict[Letter, str]], Field(min_length=2)]
    """The options in order, one `{letter: text}` each, as NeMo Gym's rows have them."""
    expected_answer: Letter
    """The gold letter."""
    grading_mode: GradingMode = "strict_single_letter_boxed"
    """How the answer is read; NeMo Gym's default when a row names none."""
    template_metadata: dict[str, Any] | None = None
    """NeMo Gym's custom answer format: its `output_regex` (whose first group holds the
    letter) takes the place of `grading_mode`."""
    difficulty: str | None = None

    @field_validator("options")
    @classmethod
    def _one_letter_each(cls, options: list[dict[str, str]]) -> list[dict[str, str]]:
        letters = [letter for option in options for letter in option]
        if any(len(option) != 1 for option in options):
            raise ValueError("each option must be one {letter: text} pair")
        if len(set(letters)) != len(letters):
            raise ValueError(f"option letters repeat: {letters}")
        return options

    @model_validator(mode="after")
    def _gold_is_an_option(self) -> McqaTask:
        if self.expected_answer not in self.choices:
            raise ValueError(
                f"expected_answer {self.expected_answer!r} is not one of the options' letters "
                f"{sorted(self.choices)}"
            )
        self.answer_pattern()  # a regex that does not compile is the task's fault
        return self

    @property
    def choices(self) -> dict[str, str]:
        return {letter: text for option in self.options for letter, text in option.items()}

    def answer_pattern(self) -> re.Pattern[str] | None:
        """The row's own `template_metadata.output_regex`, compiled; None when it has none."""
        source = (self.template_metadata or {}).get("output_regex")
        if source is None:
            return None
        try:
            pattern = re.compile(str(source), re.IGNORECASE)
        except re.error as error:
            raise ValueError(f"template_metadata.output_regex does not compile: {error}") from None
        if pattern.groups < 1:
            raise ValueError("template_metadata.output_regex needs a group holding the letter")
        return pattern


class McqaServer(ResourcesServer[McqaTask, None]):
    """Reward 1 when the response names the gold letter and no other, else 0."""

    task_model = McqaTask
    cpu_preload = ("environments.mcqa.letters",)

    async def verify(self, task: McqaTask, trajectory: Trajectory, state: None) -> Verdict:
        pattern = task.answer_pattern()
        arguments = (trajectory.final_text, task.grading_mode, task.choices, pattern)
        # A row's own regex could backtrack for long: it runs in a worker, under the CPU budget.
        reading: Reading = (
            read_answer(*arguments)
            if pattern is None
            else await self.run_cpu(read_answer, *arguments)
        )
        metrics: dict[str, JsonValue] = {
            "extracted_answer": reading.letter,
            "answer_check": reading.check,
            "grading_mode": "output_regex" if pattern is not None else task.grading_mode,
        }
        return Verdict(reward=float(reading.letter == task.expected_answer), metrics=metrics)
