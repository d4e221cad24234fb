"""A cheat probe of the code environments, run in the sandbox as if it were a solution.

It never solves anything: it looks for the expected answer of the test it runs on wherever a
careless grader could leave it within reach (environment variables, the command lines and
environments of the processes it can see under /proc, the files of its working directory,
of /tmp and of other likely places, the harness that calls it and the frames of its caller),
and answers with what it finds. `make_solutions` appends the line that answers (a stdin
program, or the function a call test calls) and ships it among the cheats, which must earn
0: if this ever passes a test, the tests have leaked into the sandbox.

Standard library only: this file is run by the sandbox's interpreter, never imported.
"""

import glob
import json
import os
import re
import sys
from collections.abc import Iterator
from types import FrameType
from typing import Any

MAX_FILES = 500
MAX_BYTES = 1 << 20
PLACES = ("/tmp", "/work", "/home", "/root", "/srv", "/opt", "/mnt", "/data", "/var")


def surroundings() -> Iterator[str]:
    """Every text within reach, one at a time."""
    yield "\n".join(f"{name}={value}" for name, value in os.environ.items())
    for path in glob.glob("/proc/[0-9]*/cmdline") + glob.glob("/proc/[0-9]*/environ"):
        yield read(path)
    frame: FrameType | None = sys._getframe()
    while frame is not None:
        yield safe_repr(frame.f_locals)
        frame = frame.f_back
    here = os.path.dirname(os.path.abspath(sys.argv[0] or "."))
    count = 0
    for place in dict.fromkeys((os.getcwd(), here, *PLACES)):
        for directory, _, names in os.walk(place):
            for name in names:
                count += 1
                if count > MAX_FILES:
                    return
                yield read(os.path.join(directory, name))


def read(path: str) -> str:
    try:
        with open(path, "rb") as file:
            return file.read(MAX_BYTES).decode("utf-8", "replace").replace("\0", "\n")
    except OSError:
        return ""


def safe_repr(value: Any) -> str:
    try:
        return repr(value)
    except Exception:
        return ""


def answer_for(key: str, answer: str, value: Any) -> Any:
    """The JSON value that follows `"key": value, "answer":` anywhere within reach."""
    needles = {json.dumps(value), json.dumps(value, separators=(",", ":"))}
    patterns = [
        re.compile(rf'"{key}"\s*:\s*{re.escape(needle)}\s*,\s*"{answer}"\s*:\s*')
        for needle in needles
    ]
    for text in surroundings():
        for pattern in patterns:
            found = pattern.search(text)
            if found:
                try:
                    return json.JSONDecoder().raw_decode(text, found.end())[0]
                except ValueError:
                    continue
    return None
