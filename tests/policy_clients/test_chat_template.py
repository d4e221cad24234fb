from __future__ import annotations

import json
from pathlib import Path

import pytest

from gym_core.errors import ConfigError
from policy_clients.chat_template import ChatTemplate, load_chat_template
from policy_clients.scripted import CHATML_TEMPLATE, render_prompt
from policy_clients.tool_calls import parse_tool_calls

TOOLS = [{"type": "function", "function": {"name": "add", "parameters": {"type": "object"}}}]


def test_chatml_renders_like_the_scripted_engine() -> None:
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    assert ChatTemplate(CHATML_TEMPLATE).render(messages) == render_prompt(messages)


def test_tools_fold_into_text_for_templates_without_tool_support() -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "add 1 and 2"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c",
                    "type": "function",
                    "function": {"name": "add", "arguments": '{"a": 1, "b": 2}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c", "content": "3"},
    ]
    text = ChatTemplate(CHATML_TEMPLATE).render(messages, TOOLS)
    assert text.startswith("<|im_start|>system\nBe brief.\n\nYou may call tools.")
    assert '{"type": "object"}' in text
    assert (
        '<|im_start|>assistant\n<tool_call>{"name":"add","arguments":{"a":1,"b":2}}</tool_call><|im_end|>'
        in text
    )
    assert "<|im_start|>user\n<tool_response>3</tool_response><|im_end|>" in text


def test_a_template_with_tool_support_gets_the_tools() -> None:
    source = (
        "{% for tool in tools %}[{{ tool.function.name }}]{% endfor %}{{ messages[0].tool_calls }}"
    )
    template = ChatTemplate(source)
    assert template.native_tools
    assert template.render([{"role": "user", "content": "x", "tool_calls": 1}], TOOLS) == "[add]1"


def test_tool_calls_are_parsed_and_malformed_ones_left_in_the_prose() -> None:
    reply = parse_tool_calls(
        'Sure. <tool_call>{"name": "add", "arguments": {"a": 1}}</tool_call> '
        "<tool_call>{oops}</tool_call>"
    )
    assert reply.content == "Sure.  <tool_call>{oops}</tool_call>"
    [call] = reply.tool_calls
    assert call["function"] == {"name": "add", "arguments": '{"a": 1}'}
    assert parse_tool_calls("plain").tool_calls == []


def test_templates_load_from_tokenizer_config(tmp_path: Path) -> None:
    config = tmp_path / "tokenizer_config.json"
    config.write_text(
        json.dumps(
            {
                "chat_template": "{{ bos_token }}{{ messages[0].content }}",
                "bos_token": {"content": "<s>"},
            }
        )
    )
    assert load_chat_template(config).render([{"role": "user", "content": "hi"}]) == "<s>hi"
    with pytest.raises(ConfigError, match="policy.chat_template"):
        load_chat_template(tmp_path / "missing.json")
