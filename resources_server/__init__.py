"""Write an environment: subclass `ResourcesServer`, declare a `TaskFields` model, add
`@tool` methods and a `verify`."""

from resources_server.base import (
    NoSettings,
    ResourcesServer,
    TaskFields,
    ToolError,
    Trajectory,
    Verdict,
    VerifyTimeout,
)
from resources_server.tools import tool

__all__ = [
    "NoSettings",
    "ResourcesServer",
    "TaskFields",
    "ToolError",
    "Trajectory",
    "Verdict",
    "VerifyTimeout",
    "tool",
]
