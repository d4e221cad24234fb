"""Errors raised by gym_core.

GymError
 ├── ConfigError            a setting or catalog entry is missing or wrong (names the key)
 └── ServiceError           a call to another RL Gym service or engine failed
      ├── ServiceUnavailable    could not connect, or 502/503/504 after the retries
      ├── ServiceTimeout        no answer within the timeout
      ├── ServiceRejected       4xx: the request was wrong; `detail` says why
      └── ServiceFailed         5xx other than 502/503/504, or an unreadable answer
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError


class GymError(Exception):
    """Base of every error RL Gym raises on purpose."""


class ConfigError(GymError):
    """A setting, flag or catalog entry is missing or wrong; the message names the key."""


class ServiceError(GymError):
    """A call to another service failed."""

    def __init__(self, url: str, message: str) -> None:
        super().__init__(f"{url}: {message}")
        self.url = url


class ServiceUnavailable(ServiceError):
    """The service could not be reached, or said it was unavailable, after every retry."""


class ServiceTimeout(ServiceError):
    """The service did not answer in time."""


class ServiceAnsweredError(ServiceError):
    """The service answered with an error status; `detail` is its structured reason."""

    def __init__(self, url: str, status: int, detail: Any, message: str | None = None) -> None:
        super().__init__(url, f"HTTP {status}: {message or detail}")
        self.status = status
        self.detail = detail


class ServiceRejected(ServiceAnsweredError):
    """The service answered 4xx: the request itself was wrong."""


class ServiceFailed(ServiceAnsweredError):
    """The service answered 5xx, or something that is not the JSON it promised."""


def format_validation_error(source: str, error: ValidationError) -> str:
    """One line a problem, each naming the source and the key."""
    return "\n".join(format_problem(source, problem) for problem in error.errors())


def format_problem(source: str, problem: Any) -> str:
    """`rl_hub.yaml: envs.math.agent.max_turns: Input should be ... (got 'ten')`."""
    key = ".".join(str(part) for part in problem["loc"]) or "(top level)"
    got = "" if problem["type"] == "missing" else f" (got {problem['input']!r})"
    return f"{source}: {key}: {problem['msg']}{got}"
