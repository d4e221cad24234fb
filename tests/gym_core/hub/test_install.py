"""Published environments: installed from a hub on first use, then found as installed packages.

Each test installs into a throwaway virtual environment, never into the one running the tests.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from gym_core.cli import main
from gym_core.hub.build import sha256_of
from gym_core.hub.pins import Trust, pins_path
from gym_core.rollout_client import RolloutClient
from tests.conftest import scripted_engine
from tests.fixtures.env_projects import project, scripted_letters_rules
from tests.fixtures.serving import gym_process, gym_serving, throwaway_venv

pytestmark = pytest.mark.slow

NAME = "shipped"


@pytest.fixture(scope="module")
def engine() -> Iterator[str]:
    with scripted_engine(scripted_letters_rules()) as url:
        yield url


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, object]]]:
    """A hub holding the scaffold, published; and its example task rows."""
    root = tmp_path_factory.mktemp("published")
    directory = project(root, NAME)
    assert main(["hub", "publish", str(directory), "--hub", str(root / "hub")]) == 0
    examples = (directory / f"{NAME}_env" / "data" / "examples.jsonl").read_text()
    rows = [{**json.loads(line), "env": NAME} for line in examples.splitlines()]
    return root / "hub", rows


def installed_version(python: Path, distribution: str) -> str:
    code = f"import importlib.metadata as m; print(m.version({distribution!r}))"
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=False)
    return done.stdout.strip() or done.stderr.strip().splitlines()[-1]


def test_a_confirmed_install_pins_the_wheel_then_serve_serves_it(
    tmp_path: Path, engine: str, published: tuple[Path, list[dict[str, object]]]
) -> None:
    hub, rows = published
    python = throwaway_venv(tmp_path / "venv")
    argv = [NAME, "--hub", str(hub), "--policy-url", engine]
    refused = gym_process(["serve", *argv], cwd=tmp_path, python=python)
    assert refused.returncode == 2
    assert "nothing but the hub vouches for" in refused.stderr
    assert "PackageNotFoundError" in installed_version(python, f"rl-gym-env-{NAME}")

    done = gym_process(
        ["hub", "install", NAME, "--hub", str(hub), "--yes"], cwd=tmp_path, python=python
    )
    assert done.returncode == 0, done.stderr
    assert f"installed {NAME} 0.1.0; its SHA-256 is pinned in {pins_path()}" in done.stdout
    [wheel] = hub.glob("*.whl")
    assert yaml.safe_load(pins_path().read_text()) == {
        f"rl-gym-env-{NAME}": {"0.1.0": sha256_of(wheel)}
    }
    assert installed_version(python, f"rl-gym-env-{NAME}") == "0.1.0"
    with (
        gym_serving(argv, cwd=tmp_path, python=python) as served,
        RolloutClient(served.endpoint) as client,
    ):
        results = client.rollouts(rows)
    assert [r.reward for r in results] == [1.0, 1.0, 0.0, 0.0, 0.0]

    with gym_serving(argv, cwd=tmp_path, python=python) as again:
        pass
    assert "installed" not in again.log.read_text()

    listing = gym_process(["hub", "list"], cwd=tmp_path, python=python)
    [row] = [line for line in listing.stdout.splitlines() if f"│ {NAME} " in line]
    assert "installed" in row, "without --hub, it is found as an installed package"
    shown = gym_process(["hub", "show", NAME], cwd=tmp_path, python=python)
    assert "served from source" in shown.stdout, "installed: its own entry, no wheel to fetch"
    validated = gym_process(["hub", "validate", NAME], cwd=tmp_path, python=python)
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert f"{NAME}: passed" in validated.stdout


def test_a_wheel_changed_after_publishing_or_after_pinning_is_not_installed(
    tmp_path: Path, engine: str, published: tuple[Path, list[dict[str, object]]]
) -> None:
    hub, _ = published
    tampered = tmp_path / "hub"
    tampered.mkdir()
    for file in hub.iterdir():
        (tampered / file.name).write_bytes(file.read_bytes())
    [wheel] = tampered.glob("*.whl")
    pinned = sha256_of(wheel)
    Trust().pin(f"rl-gym-env-{NAME}", "0.1.0", pinned)  # a first install the user confirmed
    wheel.write_bytes(wheel.read_bytes() + b"\0")
    python = throwaway_venv(tmp_path / "venv")
    done = gym_process(
        ["serve", NAME, "--hub", str(tampered), "--policy-url", engine, "--port", "0"],
        cwd=tmp_path,
        python=python,
    )
    assert done.returncode == 2
    assert f"{wheel.name} has SHA-256" in done.stderr
    assert "changed or damaged after publishing; not installing it" in done.stderr
    assert "Traceback" not in done.stderr

    catalog = tampered / "rl_hub.yaml"  # whoever wrote the wheel can write its card too
    catalog.write_text(catalog.read_text().replace(pinned, sha256_of(wheel)))
    done = gym_process(
        ["serve", NAME, "--hub", str(tampered), "--policy-url", engine, "--port", "0"],
        cwd=tmp_path,
        python=python,
    )
    assert done.returncode == 2
    assert f"but your pins {pins_path()} says {pinned}: not installing it" in done.stderr
    assert "PackageNotFoundError" in installed_version(python, f"rl-gym-env-{NAME}")


def test_an_index_vouches_for_a_wheel_and_a_missing_requirement_is_named(
    tmp_path: Path,
) -> None:
    directory = project(tmp_path, "needy")
    pyproject = directory / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace("dependencies = []", 'dependencies = ["no-such-dist>=1"]')
    )
    assert main(["hub", "publish", str(directory), "--hub", str(tmp_path / "hub")]) == 0
    [wheel] = (tmp_path / "hub").glob("*.whl")
    index = tmp_path / "index.yaml"  # the hashes a maintainer sends by another channel
    index.write_text(yaml.safe_dump({"rl-gym-env-needy": {"0.1.0": sha256_of(wheel)}}))
    python = throwaway_venv(tmp_path / "venv")
    done = gym_process(
        ["serve", "needy", "--hub", str(tmp_path / "hub"), "--hub-index", str(index)],
        cwd=tmp_path,
        python=python,
    )
    assert done.returncode == 2
    assert "rl-gym-env-needy is installed, but it needs no-such-dist>=1" in done.stderr
    assert yaml.safe_load(pins_path().read_text()) == {
        "rl-gym-env-needy": {"0.1.0": sha256_of(wheel)}
    }, "what the index vouched for is pinned"
