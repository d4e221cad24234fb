"""Errors raised by gym_core.

GymError
 ├── ConfigError            a setting or catalog entry is missing or wrong (names the key)
 └── ServiceError           a call to another RL Gym service or engine failed
      ├── ServiceUnavailable    could not connect, or 502/503/504 after the retries
      │    └── ServiceDisconnected  the connection broke after the request was sent
      ├── ServiceTimeout        no answer within the timeout
      ├── ServiceRejected       4xx: the request was wrong; `detail` says why
      └── ServiceFailed         5xx other than 502/503/504, or an unreadable answer

`dropped(error)` tells a call the service never answered itself from one it answered, and
`lost_in_flight(error)` one the service took and then went away from.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from gym_core.redaction import redact, redact_url

SECRET_KEY = re.compile(r"token|api_key|secret|password", re.IGNORECASE)
"""Settings whose bad values an error message never repeats."""


class GymError(Exception):
    """Base of every error RL Gym raises on purpose."""


class ConfigError(GymError):
    """A setting, flag or catalog entry is missing or wrong; the message names the key."""


class ServiceError(GymError):
    """A call to another service failed. Its message and `url` hold no secret: a password
    or key in the URL, or in a message quoting one, is redacted (`gym_core.redaction`)."""

    def __init__(self, url: str, message: str) -> None:
        super().__init__(redact(f"{url}: {message}"))
        self.url = redact_url(url)


class ServiceUnavailable(ServiceError):
    """The service could not be reached, or said it was unavailable, after every retry."""


class ServiceDisconnected(ServiceUnavailable):
    """The connection broke after the request was sent: the service may have run part of it."""


class ServiceTimeout(ServiceError):
    """The service did not answer in time."""


class ServiceAnsweredError(ServiceError):
    """The service answered with an error status; `detail` is its structured reason."""

    def __init__(self, url: str, status: int, detail: Any, message: str | None = None) -> None:
        super().__init__(url, f"HTTP {status}: {message or detail}")
        self.status = status
        self.detail = detail
        self.reason = message
        """The service's own one-line error (`error` in an RL Gym service's JSON answer); None
        when the answer carried none, e.g. when a proxy in front of the service answered."""


class ServiceRejected(ServiceAnsweredError):
    """The service answered 4xx: the request itself was wrong."""


class ServiceFailed(ServiceAnsweredError):
    """The service answered 5xx, or something that is not the JSON it promised."""


def dropped(error: ServiceError) -> bool:
    """True when the call got no answer from the service itself, so whatever held it (a
    process, a replica) is gone: the connection failed or broke, a proxy in front of the
    service answered 502/503/504 through every retry, or it answered for a service that died
    during the call (see `lost_in_flight`)."""
    return isinstance(error, ServiceUnavailable) or lost_in_flight(error)


def lost_in_flight(error: ServiceError) -> bool:
    """True when the service took the call and went away before it answered: the connection
    broke, or a proxy answered 5xx without the JSON error every RL Gym service sends (as Ray
    Serve's proxy does when the replica serving the call dies)."""
    if isinstance(error, ServiceDisconnected):
        return True
    return isinstance(error, ServiceFailed) and error.status >= 500 and error.reason is None


def format_validation_error(source: str, error: ValidationError) -> str:
    """One line a problem, each naming the source and the key."""
    return "\n".join(format_problem(source, problem) for problem in error.errors())


def format_problem(source: str, problem: Any) -> str:
    """`rl_hub.yaml: envs.math.agent.max_turns: Input should be ... (got 'ten')`."""
    key = ".".join(str(part) for part in problem["loc"]) or "(top level)"
    if problem["type"] == "missing":
        got = ""
    elif SECRET_KEY.search(key):
        got = " (the value is not shown: it is a secret)"
    else:
        got = redact(f" (got {problem['input']!r})")
    message = str(problem["msg"]).removeprefix("Value error, ")  # our validators' own words
    return f"{source}: {key}: {message}{got}"
