"""What the local launcher imports: each service's own modules, never what only the CPU workers
run (a structural check, not a timing)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

VERIFIER_MODULES = {"math_verify", "sympy"}
SERVICE_MODULES = {"fastapi", "uvicorn", "aiohttp"}


def modules_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running `code`."""
    report = "\nimport sys; print(' '.join(sorted(sys.modules)))"
    answer = subprocess.run(
        [sys.executable, "-c", code + report],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return set(answer.stdout.split())


def test_serving_math_never_imports_its_verifier_in_the_launcher() -> None:
    """Every service is forked from the launcher, so what it imports every service carries:
    math-verify and sympy are for the CPU workers only."""
    served = modules_after(
        "import asyncio\n"
        "from gym_core.launch.local import LocalLauncher\n"
        "from tests.conftest import make_config\n"
        "with LocalLauncher(make_config(['http://127.0.0.1:9']), ['math']) as launcher:\n"
        "    launcher.start()\n"
        "    asyncio.run(launcher.wait_ready())\n"
    )
    assert "environments.math.server" not in served  # the resources server imports it
    assert not VERIFIER_MODULES & served


def test_gym_help_imports_no_service() -> None:
    helped = modules_after(
        "import contextlib\n"
        "from gym_core.cli import main\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(None):\n"
        "    main(['--help'])\n"
    )
    assert not (SERVICE_MODULES | VERIFIER_MODULES) & helped
