"""Flags shared by `gym serve`, `gym rollout` and `gym hub`, and how they override the
configuration."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gym_core.catalog import default_catalog_path
from gym_core.config import GymConfig, load_config
from gym_core.errors import ConfigError
from gym_core.hub.pins import Trust
from gym_core.hub.sources import EnvSource, env_sources

if TYPE_CHECKING:
    from gym_core.hub.install import Confirm

__all__ = [
    "HUB_ENV",
    "add_hub_argument",
    "add_service_arguments",
    "add_token_arguments",
    "hub_dirs",
    "hub_trust",
    "install_published",
    "load_cli_config",
    "load_sources",
    "policy_overrides",
    "token_from_args",
]

TOKEN_ENV = "RL_GYM_TOKEN"
HUB_ENV = "RL_GYM_HUB"


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
    add_token_arguments(group)
    add_hub_argument(group)


def add_token_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument(
        "--token-file",
        type=Path,
        metavar="FILE",
        help=f"a file holding the bearer token the services require (default: ${TOKEN_ENV}); "
        "a file keeps it out of `ps`",
    )
    parser.add_argument(
        "--token", help="the bearer token itself (visible in `ps`: prefer --token-file)"
    )


def add_hub_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument(
        "--hub",
        action="append",
        type=Path,
        metavar="DIR",
        help=f"a hub directory to find environments in; repeat for several (default: "
        f"${HUB_ENV}). An environment project is one too: `--hub .` serves it from source.",
    )
    parser.add_argument(
        "--hub-index",
        type=Path,
        metavar="FILE",
        help="the SHA-256 of published wheels, from their maintainer by another channel than "
        "the hub; a wheel is installed only if its hash is in this file or your pins",
    )


def hub_dirs(args: argparse.Namespace) -> list[Path]:
    """`--hub` directories, else `$RL_GYM_HUB`; never the current directory implicitly, whose
    packages would then be importable by whoever wrote an `rl_hub.yaml` there."""
    hubs = list(args.hub or [])
    if not hubs and os.environ.get(HUB_ENV):
        hubs.append(Path(os.environ[HUB_ENV]))
    return hubs


def load_sources(args: argparse.Namespace) -> list[EnvSource]:
    """The environments of the hubs and of the installed packages."""
    return env_sources(default_catalog_path(), hub_dirs(args))


def hub_trust(args: argparse.Namespace) -> Trust:
    """What vouches for published wheels: `--sha256`, `--hub-index`, the user's pins."""
    index = getattr(args, "hub_index", None)
    if index is not None:
        if not index.is_file():
            raise ConfigError(f"--hub-index {index}: no such file")
        for hub in hub_dirs(args):
            if index.resolve().is_relative_to(hub.resolve()):
                raise ConfigError(
                    f"--hub-index {index}: the index lies in the hub {hub}, whose writer could "
                    "change it along with the wheels; keep it elsewhere"
                )
    return Trust(sha256=getattr(args, "sha256", None), index=index)


def install_published(
    config: GymConfig, envs: list[str], args: argparse.Namespace, confirm: Confirm | None = None
) -> None:
    """Install the published wheels of `envs` that are not installed yet."""
    from gym_core.hub.install import ensure_installed

    trust = hub_trust(args)
    for env in envs:
        if ensure_installed(env, config.envs[env], trust, confirm):
            print(f"installed {env} {config.envs[env].version} from its hub", file=sys.stderr)


def policy_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The configuration layer `--policy-url` and `--policy-model` make."""
    policy: dict[str, Any] = {}
    if args.policy_url:
        policy["engine_urls"] = args.policy_url
    if args.policy_model:
        policy["model"] = args.policy_model
    return {"policy": policy} if policy else {}


def token_from_args(args: argparse.Namespace) -> str | None:
    """`--token-file`, `--token`, or `$RL_GYM_TOKEN`, in that order; a file's trailing newline
    is not part of it."""
    if args.token_file is not None:
        try:
            return args.token_file.read_text().strip()
        except OSError as error:
            raise ConfigError(f"--token-file {args.token_file}: {error.strerror}") from None
    if args.token is not None:
        return str(args.token)
    return os.environ.get(TOKEN_ENV)


def load_cli_config(args: argparse.Namespace, **serve: Any) -> GymConfig:
    """The catalog, then `--config`, then the flags, checked as a whole."""
    overrides = policy_overrides(args)
    serve_overrides = {key: value for key, value in serve.items() if value is not None}
    token = token_from_args(args)
    if token is not None:
        serve_overrides["token"] = token
    if serve_overrides:
        overrides["serve"] = serve_overrides
    return load_config(default_catalog_path(), args.config, overrides, load_sources(args))
