"""Flags shared by `gym serve` and `gym rollout`, and how they override the configuration."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from gym_core.catalog import default_catalog_path
from gym_core.config import GymConfig, load_config

__all__ = ["add_service_arguments", "load_cli_config"]

TOKEN_ENV = "RL_GYM_TOKEN"


def add_service_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("services")
    group.add_argument(
        "--policy-url",
        action="append",
        metavar="URL",
        help="an OpenAI-compatible engine (vLLM, SGLang, llama.cpp, OpenAI); repeat for "
        "replicas. Without it, the embedded CPU model answers.",
    )
    group.add_argument(
        "--policy-model",
        metavar="NAME",
        help="model name to ask the engines for, or a .gguf file for the embedded model",
    )
    group.add_argument("--config", type=Path, metavar="FILE", help="a YAML file of settings")
    group.add_argument("--token", help=f"bearer token the services require (default: ${TOKEN_ENV})")


def load_cli_config(args: argparse.Namespace, **serve: Any) -> GymConfig:
    """The catalog, then `--config`, then the flags, checked as a whole."""
    overrides: dict[str, Any] = {}
    policy: dict[str, Any] = {}
    if args.policy_url:
        policy["engine_urls"] = args.policy_url
    if args.policy_model:
        policy["model"] = args.policy_model
    if policy:
        overrides["policy"] = policy
    serve_overrides = {key: value for key, value in serve.items() if value is not None}
    token = args.token or os.environ.get(TOKEN_ENV)
    if token:
        serve_overrides["token"] = token
    if serve_overrides:
        overrides["serve"] = serve_overrides
    return load_config(default_catalog_path(), args.config, overrides)
