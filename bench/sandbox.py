"""Sandboxed executions per second, and what the sandbox costs over running the program bare.

    .venv/bin/python bench/sandbox.py [--seconds 4] [--backend bubblewrap]

Three figures, each for the sandbox and for the same interpreter run bare (a plain
subprocess with no isolation and no limits):
- latency: one run at a time, median over the runs made in `--seconds`;
- throughput: runs per second with as many runs in flight as the sandbox has slots (one per
  CPU by default), more queued behind them;
- grading: a solution graded against 10 stdin/stdout tests, as the code environment does it
  (programs graded per second, several at once).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from environments.code.cases import CodeTask
from environments.code.grading import grade
from resources_server.sandbox import Sandbox, SandboxSettings, create_sandbox

TRIVIAL = "print(sum(range(100)))\n"
SOLUTION = "import sys\nprint(sum(map(int, sys.stdin.read().split())))\n"
TASK = CodeTask.model_validate(
    {
        "id": "sum",
        "tests": [
            {"stdin": " ".join(map(str, range(n))) + "\n", "stdout": f"{n * (n - 1) // 2}\n"}
            for n in range(1, 11)
        ],
    }
)


async def bare_run(python: str, program: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        python,
        str(program),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, _ = await process.communicate()
    assert stdout == b"4950\n", stdout


async def sandboxed_run(sandbox: Sandbox) -> None:
    result = await sandbox.run(program=TRIVIAL)
    assert result.stdout == "4950\n", result


async def latency_ms(run: Callable[[], Awaitable[None]], seconds: float) -> float:
    samples = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        await run()
        samples.append(time.perf_counter() - started)
    return 1000 * statistics.median(samples)


async def per_second(run: Callable[[], Awaitable[None]], seconds: float, in_flight: int) -> float:
    """Completed runs per second with `in_flight` callers running back to back."""
    done = 0
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()

    async def caller() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await run()
            done += 1

    await asyncio.gather(*(caller() for _ in range(in_flight)))
    return done / (time.perf_counter() - started)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="per measurement")
    parser.add_argument("--backend", default="bubblewrap", help="bubblewrap, docker, ...")
    args = parser.parse_args()
    sandbox = create_sandbox(SandboxSettings(backend=args.backend))
    await sandbox.check()
    slots = sandbox.max_concurrency
    bare_slots = asyncio.Semaphore(slots)

    with tempfile.TemporaryDirectory() as directory:
        program = Path(directory) / "main.py"
        program.write_text(TRIVIAL)

        async def bare() -> None:
            async with bare_slots:
                await bare_run(sandbox.python, program)

        async def sandboxed() -> None:
            await sandboxed_run(sandbox)

        async def graded() -> None:
            results = await grade(sandbox, SOLUTION, TASK)
            assert all(result.status == "passed" for result in results), results

        bare_latency = await latency_ms(bare, args.seconds)
        sandboxed_latency = await latency_ms(sandboxed, args.seconds)
        bare_rate = await per_second(bare, args.seconds, 2 * slots)
        sandboxed_rate = await per_second(sandboxed, args.seconds, 2 * slots)
        grade_rate = await per_second(graded, args.seconds, 2 * slots)
    await sandbox.close()

    print(f"command: {shlex.join(['python', '-m', 'bench.sandbox', *sys.argv[1:]])}")
    print(
        f"machine: {os.cpu_count()} CPUs, {platform.system()} {platform.release()}, "
        f"load average {os.getloadavg()[0]:.2f}; backend {sandbox.name} with {slots} slots; "
        f"programs run by {sandbox.python}"
    )
    print(f"{'':38}{'bare':>8}{'sandboxed':>11}{'sandbox cost':>15}")
    print(
        f"{'latency of one run (median, ms)':38}{bare_latency:8.1f}{sandboxed_latency:11.1f}"
        f"{sandboxed_latency - bare_latency:+12.1f} ms"
    )
    print(
        f"{'runs per second (trivial program)':38}{bare_rate:8.1f}{sandboxed_rate:11.1f}"
        f"{bare_rate / sandboxed_rate:13.2f} x"
    )
    print(
        f"{'programs graded per second (10 tests)':38}{'':8}{grade_rate:11.2f}"
        f"   ({10 * grade_rate:.1f} test runs per second)"
    )


if __name__ == "__main__":
    asyncio.run(main())
