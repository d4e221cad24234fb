"""The engines behind the policy server, built from its settings."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from gym_core.errors import ConfigError
from gym_core.http_client import HttpClient
from gym_core.settings import PolicyServerSettings
from policy_clients.engines.base import Engine
from policy_clients.engines.openai_http import OpenAIHttpEngine

__all__ = ["make_engines"]


def make_engines(settings: PolicyServerSettings, http: HttpClient) -> list[Engine]:
    """One engine per URL, or the embedded model when there are none.

    The embedded model and SGLang need the chat-template machinery (Jinja); it is imported
    only for them, so a gateway in front of vLLM starts without it.
    """
    if not settings.engine_urls or settings.engine == "embedded":
        if settings.engine_urls:
            raise ConfigError("policy.engine: `embedded` takes no engine URLs (--policy-url)")
        if importlib.util.find_spec("llama_cpp") is None:
            raise ConfigError(
                "the embedded CPU policy needs llama.cpp: `pip install 'rl-gym[embedded]'` (or "
                "pass --policy-url to use an inference server)"
            )
        from policy_clients.engines.embedded import EmbeddedEngine

        path = Path(settings.model) if settings.model else None
        return [
            EmbeddedEngine(path, n_ctx=settings.embedded_context, threads=settings.embedded_threads)
        ]
    if settings.engine == "sglang":
        from policy_clients.chat_template import load_chat_template
        from policy_clients.engines.sglang import SGLangEngine

        template = (
            load_chat_template(Path(settings.chat_template)) if settings.chat_template else None
        )
        return [
            SGLangEngine(
                http, url, model=settings.model, template=template, api_key=settings.api_key
            )
            for url in settings.engine_urls
        ]
    return [
        OpenAIHttpEngine(
            http, url, kind=settings.engine, model=settings.model, api_key=settings.api_key
        )
        for url in settings.engine_urls
    ]
