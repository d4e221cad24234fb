"""Tool calls as text, for engines whose prompts RL Gym builds and whose completions it parses.

Many small models' templates know nothing of tools; for those, the tools are described in the
system message and calls are written in the widely used
`<tool_call>{"name": ..., "arguments": ...}</tool_call>` form, so a call the model made renders
back into the very same text on the next turn. No Jinja here: a gateway in front of vLLM uses
this without the chat-template machinery.
"""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ParsedReply",
    "assistant_reply",
    "fold_tools_into_text",
    "parse_tool_calls",
    "render_tool_call",
]

TOOL_CALL = re.compile(r"<tool_call>\s*(.*?)\s*</tool_call>", re.DOTALL)
TOOLS_PREAMBLE = (
    "You may call tools. To call one, answer with only "
    '<tool_call>{"name": TOOL_NAME, "arguments": {...}}</tool_call>. '
    "The result comes back in a <tool_response> message. The tools:\n"
)


def render_tool_call(name: str, arguments: Any) -> str:
    """The canonical text of one call: compact JSON, as constrained decoding produces it."""
    if isinstance(arguments, str):
        with contextlib.suppress(json.JSONDecodeError):  # invalid JSON stays the text it was
            arguments = json.loads(arguments)
    payload = json.dumps({"name": name, "arguments": arguments}, separators=(",", ":"))
    return f"<tool_call>{payload}</tool_call>"


@dataclass
class ParsedReply:
    content: str | None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)


def parse_tool_calls(text: str) -> ParsedReply:
    """Split generated text into the prose and the well-formed tool calls in it.

    A block that is not a JSON object with a `name` stays in the prose: the model sees its
    own mistake on the next turn rather than losing it.
    """
    calls = []
    prose = text
    for match in TOOL_CALL.finditer(text):
        try:
            call = json.loads(match.group(1))
        except json.JSONDecodeError:
            continue
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            continue
        arguments = call.get("arguments", {})
        calls.append(
            {
                "id": f"call_{uuid.uuid4().hex[:12]}",
                "type": "function",
                "function": {
                    "name": call["name"],
                    "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments),
                },
            }
        )
        prose = prose.replace(match.group(0), "", 1)
    content = prose.strip() or None
    return ParsedReply(content=content, tool_calls=calls)


def assistant_reply(
    text: str, finish_reason: str, *, with_tools: bool
) -> tuple[dict[str, Any], str]:
    """The assistant message for generated `text`, and its finish reason: with tools offered,
    well-formed calls become `tool_calls` and a natural stop becomes `tool_calls`."""
    if with_tools:
        parsed = parse_tool_calls(text)
        if parsed.tool_calls:
            message = {
                "role": "assistant",
                "content": parsed.content,
                "tool_calls": parsed.tool_calls,
            }
            return message, "tool_calls" if finish_reason == "stop" else finish_reason
    return {"role": "assistant", "content": text}, finish_reason


def fold_tools_into_text(
    messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None
) -> list[dict[str, Any]]:
    """For templates without tool support: tools in the system message, calls and results
    as text, every content a string."""
    folded = []
    for message in messages:
        role = message["role"]
        content = message.get("content") or ""
        if role == "assistant" and message.get("tool_calls"):
            content += "".join(
                render_tool_call(call["function"]["name"], call["function"].get("arguments", {}))
                for call in message["tool_calls"]
            )
        if role == "tool":
            role, content = "user", f"<tool_response>{content}</tool_response>"
        if role == "developer":
            role = "system"
        folded.append({"role": role, "content": content})
    if tools:
        described = TOOLS_PREAMBLE + "\n".join(
            json.dumps(tool.get("function", tool)) for tool in tools
        )
        if folded and folded[0]["role"] == "system":
            folded[0] = {"role": "system", "content": f"{folded[0]['content']}\n\n{described}"}
        else:
            folded.insert(0, {"role": "system", "content": described})
    return folded
