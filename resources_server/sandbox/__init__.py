"""A sandbox for untrusted (model-written) code: one API, three backends.

    sandbox = create_sandbox(SandboxSettings())          # bubblewrap by default
    result = await sandbox.run(program="print(input())", stdin="hi\\n")
    result.stdout, result.exit_code, result.timed_out    # 'hi\\n', 0, False

Every run gets a fresh private working directory, no network, a read-only view of only what
the interpreter needs, no host environment variables and an unprivileged user, under limits
on CPU time, wall-clock time, memory, processes, output and file size (`Limits`). A program's
own failure (crash, timeout, out of memory) is a `RunResult`; a failure of the sandbox itself
raises `SandboxError`.
"""

from resources_server.sandbox.api import (
    PROGRAM_FILE,
    WORKDIR,
    Limits,
    RunResult,
    Sandbox,
    SandboxError,
)
from resources_server.sandbox.settings import SandboxSettings, create_sandbox

__all__ = [
    "PROGRAM_FILE",
    "WORKDIR",
    "Limits",
    "RunResult",
    "Sandbox",
    "SandboxError",
    "SandboxSettings",
    "create_sandbox",
]
