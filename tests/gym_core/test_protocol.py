from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from gym_core.protocol import Message, RolloutsRequest, SamplingParams, Task

PEER_ROWS = Path(__file__).resolve().parents[1] / "environments" / "peer_rows"
"""NeMo Gym's example rows, vendored (Apache-2.0, see the NOTICE there)."""


def peer_rows_file(name: str) -> Path:
    """The vendored rows of one of NeMo Gym's resources servers."""
    return next(PEER_ROWS.rglob(f"{name}.jsonl"))


def peer_rows(name: str) -> list[dict]:
    return [json.loads(line) for line in peer_rows_file(name).read_text().splitlines() if line]


def test_a_prompt_string_is_one_user_message() -> None:
    task = Task(id="t", env="math", prompt="What is 2+2?", answer="4")
    assert task.messages() == [Message(role="user", content="What is 2+2?")]
    assert task.env_fields() == {"answer": "4"}


def test_integer_ids_become_strings_but_prompts_stay_typed() -> None:
    assert Task.model_validate({"id": 7, "env": "e", "prompt": "x"}).id == "7"
    with pytest.raises(ValidationError, match="prompt"):
        Task.model_validate({"id": "a", "env": "e", "prompt": 3})


def test_text_content_parts_are_joined() -> None:
    message = Message.model_validate(
        {
            "role": "user",
            "content": [{"type": "text", "text": "a"}, {"type": "input_text", "text": "b"}],
        }
    )
    assert message.content == "ab"
    with pytest.raises(ValidationError, match="only text"):
        Message.model_validate(
            {"role": "user", "content": [{"type": "image_url", "image_url": {}}]}
        )


def test_nemo_math_rows_convert_with_their_verifier_fields() -> None:
    for row in peer_rows("math_with_judge"):
        task = Task.model_validate({**row, "env": "math"})
        assert task.messages()[0].role == "user"
        assert task.messages()[0].content == row["responses_create_params"]["input"][0]["content"]
        assert task.env_fields()["expected_answer"] == row["expected_answer"]
        assert task.id == Task.model_validate({**row, "env": "math"}).id  # stable


def test_nemo_tool_rows_convert_flat_tools_and_developer_messages() -> None:
    row = peer_rows("example_single_tool_call")[0]
    task = Task.model_validate({**row, "env": "weather"})
    assert task.tools is not None
    assert task.tools[0].function.name == "get_weather"
    assert task.tools[0].function.parameters["required"] == ["city"]
    assert [m.role for m in task.messages()] == ["system", "user"]


def test_nemo_multi_turn_rows_keep_the_whole_conversation() -> None:
    row = peer_rows("calendar")[0]
    task = Task.model_validate({**row, "env": "calendar"})
    roles = [m.role for m in task.messages()]
    assert roles[0] == "system"
    assert roles[-1] == "user"
    assert "exp_cal_state" in task.env_fields()


def test_nemo_function_call_items_become_tool_calls() -> None:
    row = {
        "responses_create_params": {
            "input": [
                {"role": "user", "content": "weather?"},
                {
                    "type": "function_call",
                    "call_id": "c1",
                    "name": "get_weather",
                    "arguments": "{}",
                },
                {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
            ],
            "max_output_tokens": 64,
        },
        "env": "weather",
    }
    task = Task.model_validate(row)
    assistant, tool = task.messages()[1:]
    assert assistant.tool_calls[0].function.name == "get_weather"
    assert tool.tool_call_id == "c1"
    assert task.sampling == SamplingParams(max_tokens=64)


def test_request_sampling_overrides_task_sampling() -> None:
    base = SamplingParams(temperature=0.7, max_tokens=100)
    merged = base.merged(SamplingParams(max_tokens=10, top_k=5))
    assert merged.temperature == 0.7
    assert merged.max_tokens == 10
    assert merged.model_extra == {"top_k": 5}
    assert base.merged(None) is base


@pytest.mark.parametrize("name", [".", "..", ".hidden", "a b", "a/b", "", "x" * 129])
def test_a_batch_id_that_a_url_path_would_change_is_refused(name: str) -> None:
    with pytest.raises(ValidationError, match="batch_id"):
        RolloutsRequest.model_validate(
            {"tasks": [{"id": "t", "env": "math", "prompt": "hi"}], "batch_id": name}
        )


def test_a_batch_id_may_hold_dots_after_its_first_character() -> None:
    request = RolloutsRequest.model_validate(
        {"tasks": [{"id": "t", "env": "math", "prompt": "hi"}], "batch_id": "step-12.retry_2:a"}
    )
    assert request.batch_id == "step-12.retry_2:a"
