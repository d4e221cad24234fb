"""Runs inside the sandbox, next to the solution (`main.py`): calls one of its functions.

    python call_harness.py FN_NAME < arguments.json

The solution's own prints go to stderr. The last line of stdout is one JSON object:
`{"returned": value}`, `{"error": "..."}` (it raised, or has no such function), or
`{"compile_error": "..."}`. The comparison with the expected value happens outside the
sandbox, where the solution cannot reach it. Standard library only: this file is run by the
sandbox's interpreter, never imported by the server.
"""

import json
import os
import sys
import traceback


def find_function(namespace, name):
    if callable(namespace.get(name)):
        return namespace[name]
    solution = namespace.get("Solution")
    if isinstance(solution, type) and callable(getattr(solution, name, None)):
        return getattr(solution(), name)
    raise NameError(f"the solution defines no function {name!r} (nor Solution.{name})")


def send(report, message):
    report.write(json.dumps(message) + "\n")
    report.flush()


def main():
    name = sys.argv[1]
    arguments = json.loads(sys.stdin.read())
    report = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    try:
        with open("main.py", encoding="utf-8") as source:
            code = compile(source.read(), "main.py", "exec")
    except (SyntaxError, ValueError) as error:
        send(report, {"compile_error": f"{type(error).__name__}: {error}"})
        return 1
    namespace = {"__name__": "solution"}
    try:
        exec(code, namespace)
        returned = find_function(namespace, name)(*arguments)
        json.dumps(returned)  # a value JSON cannot carry is the solution's error
    except BaseException as error:  # the solution's SystemExit too: any way out is a failure
        traceback.print_exc()
        send(report, {"error": f"{type(error).__name__}: {error}"})
        return 1
    send(report, {"returned": returned})
    return 0


if __name__ == "__main__":
    sys.exit(main())
