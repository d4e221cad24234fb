"""`gym hub publish`: validated environments only, each as a wheel with its quality card."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gym_core.catalog import load_catalog
from gym_core.cli import main
from gym_core.hub.build import sha256_of, wheel_entry_points
from gym_core.hub.report import CHECKS
from tests.conftest import scripted_engine
from tests.fixtures.env_projects import project, scripted_letters_rules


@pytest.fixture(scope="module")
def engine() -> Iterator[str]:
    with scripted_engine(scripted_letters_rules()) as url:
        yield url


def publish(*argv: str) -> int:
    return main(["hub", "publish", *argv])


def test_publish_adds_the_wheel_and_its_card_to_the_hub(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory, hub = project(tmp_path, "carded"), tmp_path / "hub"
    assert publish(str(directory), "--hub", str(hub)) == 0
    assert "published carded to" in capsys.readouterr().out
    entry = load_catalog(hub / "rl_hub.yaml").envs["carded"]
    wheel = hub / "rl_gym_env_carded-0.1.0-py3-none-any.whl"
    assert entry.wheel == wheel.name
    assert entry.server == "carded_env.server:CardedServer"
    card = entry.card
    assert card is not None
    assert card.validated
    assert card.checks_passed == list(CHECKS)
    assert card.examples == 5
    assert (card.cheats_tried, card.cheats_passed) == (6, 6)
    assert 0 < card.verify_latency_ms.p50 <= card.verify_latency_ms.p99
    assert card.baseline_mean_reward is None
    assert card.wheel_sha256 == sha256_of(wheel)
    assert wheel_entry_points(wheel)["rl_gym.environments"] == {"carded": "carded_env"}


@pytest.mark.slow
def test_a_version_is_published_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory, hub = project(tmp_path, "versioned"), tmp_path / "hub"
    assert publish(str(directory), "--hub", str(hub)) == 0
    first = load_catalog(hub / "rl_hub.yaml").envs["versioned"]
    assert publish(str(directory), "--hub", str(hub)) == 0, "the same content again is fine"
    assert load_catalog(hub / "rl_hub.yaml").envs["versioned"].card.wheel_sha256 == (
        first.card.wheel_sha256  # type: ignore[union-attr]
    )

    server = directory / "versioned_env" / "server.py"
    server.write_text(server.read_text().replace("ignoring case", "in any case"))
    capsys.readouterr()
    assert publish(str(directory), "--hub", str(hub)) == 2
    assert "versioned 0.1.0 is already published with other content" in capsys.readouterr().err

    catalog = directory / "rl_hub.yaml"
    catalog.write_text(catalog.read_text().replace("version: 0.1.0", "version: 0.2.0"))
    assert publish(str(directory), "--hub", str(hub)) == 0
    assert "published versioned (replacing 0.1.0)" in capsys.readouterr().out
    assert load_catalog(hub / "rl_hub.yaml").envs["versioned"].version == "0.2.0"
    assert sorted(p.name for p in hub.glob("*.whl")) == [
        "rl_gym_env_versioned-0.2.0-py3-none-any.whl"
    ]


@pytest.mark.slow
def test_two_environments_share_a_hub(tmp_path: Path) -> None:
    hub = tmp_path / "hub"
    for name in ("left", "right"):
        assert publish(str(project(tmp_path, name)), "--hub", str(hub)) == 0
    assert sorted(load_catalog(hub / "rl_hub.yaml").envs) == ["left", "right"]
    assert len(list(hub.glob("*.whl"))) == 2


@pytest.mark.slow
def test_the_baseline_is_the_policy_s_mean_reward_on_the_examples(
    tmp_path: Path, engine: str
) -> None:
    directory, hub = project(tmp_path, "baselined"), tmp_path / "hub"
    assert publish(str(directory), "--hub", str(hub), "--baseline", "--policy-url", engine) == 0
    card = load_catalog(hub / "rl_hub.yaml").envs["baselined"].card
    assert card is not None
    assert card.baseline_mean_reward == pytest.approx(0.4)  # 2 of the 5 tasks
    assert card.baseline_policy == f"engine at {engine}"


@pytest.mark.slow
@pytest.mark.timeout(900)  # five small episodes of the CPU model
def test_the_default_baseline_is_the_embedded_model(tmp_path: Path) -> None:
    directory, hub = project(tmp_path, "embedded_baseline"), tmp_path / "hub"
    assert publish(str(directory), "--hub", str(hub), "--baseline") == 0
    card = load_catalog(hub / "rl_hub.yaml").envs["embedded_baseline"].card
    assert card is not None
    assert card.baseline_policy == "embedded default model"
    assert card.baseline_mean_reward is not None
    assert 0.0 <= card.baseline_mean_reward <= 1.0


@pytest.mark.parametrize(
    ("name", "edits", "failed_check", "why"),
    [
        (
            "wrong_reward",
            {"answer == task.answer": "answer != task.answer"},
            "reference",
            "task 'wrong_reward-1' with its reference solution: reward 0, expected 1",
        ),
        (
            "crashy",
            {
                "    @tool\n": "    async def seed(self, task: CrashyTask) -> None:\n"
                "        self.share = 100 // task.answer\n\n    @tool\n"
            },
            "malformed",
            "task 'crashy-1' with answer=0: HTTP 500",
        ),
        (
            "first_box",
            {"_BOXED_NUMBER.findall(text)}": "_BOXED_NUMBER.findall(text)[:1]}"},
            "cheats",
            "cheat 'several_boxes_right_first' on task 'first_box-5' earned reward 1",
        ),
    ],
)
def test_a_broken_environment_is_refused(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    edits: dict[str, str],
    failed_check: str,
    why: str,
) -> None:
    hub = tmp_path / "hub"
    assert publish(str(project(tmp_path, name, edits)), "--hub", str(hub)) == 1
    out = capsys.readouterr().out
    assert f"failed   {failed_check}" in out
    assert why in out
    assert f"refused: {name} failed validation; nothing was published" in out
    assert not hub.exists()


def test_publish_needs_a_hub(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RL_GYM_HUB", raising=False)
    assert publish(str(tmp_path)) == 2
    assert "name the hub directory to publish to: --hub DIR" in capsys.readouterr().err
