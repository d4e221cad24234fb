"""Rendering chat messages into a model's prompt text with the model's own chat template.

An engine that takes text or token ids (the embedded llama.cpp model, SGLang's native
`/generate`) needs the prompt rendered by the model's own chat template, the Jinja template
Hugging Face tokenizers and GGUF files carry. For templates that know nothing of tools, the
tools and calls are folded into text (`policy_clients.tool_calls`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from gym_core.errors import ConfigError
from policy_clients.tool_calls import (  # the tool-call names are re-exported from here too
    ParsedReply,
    assistant_reply,
    fold_tools_into_text,
    parse_tool_calls,
    render_tool_call,
)

__all__ = [
    "ChatTemplate",
    "ParsedReply",
    "assistant_reply",
    "load_chat_template",
    "parse_tool_calls",
    "render_tool_call",
]


class ChatTemplate:
    """A model's Jinja chat template, rendered the way Hugging Face tokenizers render it."""

    def __init__(self, source: str, *, bos_token: str = "", eos_token: str = "") -> None:
        environment = ImmutableSandboxedEnvironment(
            trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"]
        )
        environment.globals["raise_exception"] = _raise_template_error
        environment.filters["tojson"] = _tojson
        self._template = environment.from_string(source)
        self.native_tools = "tools" in source and "tool_calls" in source
        self.bos_token = bos_token
        self.eos_token = eos_token

    def render(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        *,
        add_generation_prompt: bool = True,
    ) -> str:
        if not self.native_tools:
            messages = fold_tools_into_text(messages, tools)
            tools = None
        return self._template.render(
            messages=messages,
            tools=tools or None,
            add_generation_prompt=add_generation_prompt,
            bos_token=self.bos_token,
            eos_token=self.eos_token,
        )


def _raise_template_error(message: str) -> None:
    raise jinja2.TemplateError(message)


def _tojson(value: Any, indent: int | None = None) -> str:
    return json.dumps(value, indent=indent, ensure_ascii=False)


def load_chat_template(path: Path) -> ChatTemplate:
    """A template from a `.jinja` file or a Hugging Face `tokenizer_config.json`."""
    try:
        text = path.read_text()
    except OSError as error:
        raise ConfigError(f"policy.chat_template: cannot read {path}: {error.strerror}") from None
    if path.suffix != ".json":
        return ChatTemplate(text)
    config = json.loads(text)
    source = config.get("chat_template")
    if isinstance(source, list):  # named templates; the default one is called "default"
        named = {entry.get("name"): entry.get("template") for entry in source}
        source = named.get("default") or next(iter(named.values()), None)
    if not isinstance(source, str):
        raise ConfigError(f"policy.chat_template: {path} has no chat_template")
    return ChatTemplate(
        source,
        bos_token=_special(config.get("bos_token")),
        eos_token=_special(config.get("eos_token")),
    )


def _special(token: Any) -> str:
    if isinstance(token, dict):
        return str(token.get("content", ""))
    return token or ""
