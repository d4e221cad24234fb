"""Conversion of NeMo Gym dataset rows into RL Gym task fields.

A NeMo Gym row carries the prompt as an OpenAI Responses API request
(`responses_create_params.input` and `.tools`) and the verifier's fields at the top level.
We turn the Responses input items into chat messages and keep every other top-level key as an
environment field, so published NeMo Gym datasets run unchanged.
"""

from __future__ import annotations

from typing import Any

NEMO_PARAMS_KEY = "responses_create_params"
_PROTOCOL_KEYS = {"prompt", "tools", "sampling", NEMO_PARAMS_KEY}
_SAMPLING_KEYS = {"temperature": "temperature", "top_p": "top_p", "max_output_tokens": "max_tokens"}


def is_nemo_row(row: dict[str, Any]) -> bool:
    return NEMO_PARAMS_KEY in row


def task_fields_from_nemo_row(row: dict[str, Any]) -> dict[str, Any]:
    """Task fields for a NeMo Gym row.

    The request's `input` and `tools` become `prompt` and `tools`; its sampling settings
    become `sampling`. Top-level keys that collide with those are superseded by the request.
    """
    params = row[NEMO_PARAMS_KEY]
    if not isinstance(params, dict):
        raise ValueError(f"{NEMO_PARAMS_KEY} must be an object")
    fields = {key: value for key, value in row.items() if key not in _PROTOCOL_KEYS}
    raw_input = params.get("input", "")
    fields["prompt"] = raw_input if isinstance(raw_input, str) else _chat_messages(raw_input)
    tools = [_chat_tool(tool) for tool in params.get("tools") or []]
    if tools:
        fields["tools"] = tools
    sampling = {ours: params[theirs] for theirs, ours in _SAMPLING_KEYS.items() if theirs in params}
    if sampling:
        fields["sampling"] = sampling
    return fields


def _chat_tool(tool: dict[str, Any]) -> dict[str, Any]:
    """Responses tools are flat; chat-completions tools nest the function."""
    if "function" in tool:
        return tool
    function = {key: value for key, value in tool.items() if key not in {"type", "strict"}}
    return {"type": "function", "function": function}


def _chat_messages(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    for item in items:
        kind = item.get("type", "message")
        if kind == "message":
            role = item.get("role")
            # Chat templates of open models know `system`, rarely `developer`.
            messages.append(
                {"role": "system" if role == "developer" else role, "content": item.get("content")}
            )
        elif kind == "function_call":
            call = {
                "id": item.get("call_id") or item.get("id"),
                "type": "function",
                "function": {"name": item.get("name"), "arguments": item.get("arguments", "{}")},
            }
            if messages and messages[-1]["role"] == "assistant":
                messages[-1].setdefault("tool_calls", []).append(call)
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            messages.append(
                {"role": "tool", "tool_call_id": item.get("call_id"), "content": item.get("output")}
            )
        # Other items (reasoning summaries) carry nothing a chat prompt can hold.
    return messages
