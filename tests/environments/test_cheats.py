"""Every built-in environment's cheat probes, one kind at a time, against its real resources
server: none may earn a reward. `gym hub validate` runs them all at once; kind by kind, a
failure names the hole and an expected failure tracks a known one."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import pytest

from gym_core.catalog import default_catalog_path
from gym_core.config import GymConfig, load_config
from gym_core.http_client import HttpClient
from gym_core.hub.player import ScriptedPlayer
from gym_core.hub.solutions import Cheat, load_cheats, steps_of
from gym_core.settings import ResourcesServerSettings
from gym_core.tasks_file import load_tasks
from tests.conftest import resources_server

CONFIG = load_config(default_catalog_path())


def cheats_of(name: str) -> list[Cheat]:
    path = CONFIG.envs[name].cheats_path()
    assert path is not None, f"envs.{name}.datasets.cheats is not set"
    return load_cheats(path)


def kinds() -> list[tuple[str, str]]:
    return [
        (name, kind)
        for name in sorted(CONFIG.envs)
        for kind in dict.fromkeys(cheat.cheat for cheat in cheats_of(name))
    ]


class Servers:
    """One resources server per environment, started when first asked for."""

    def __init__(self, config: GymConfig, stack: contextlib.ExitStack) -> None:
        self.config = config
        self.stack = stack
        self.urls: dict[str, str] = {}

    def url(self, name: str) -> str:
        if name not in self.urls:
            entry = self.config.envs[name]
            settings = ResourcesServerSettings(
                **{**self.config.resources.model_dump(), "cpu_workers": 1},
                name=name,
                server=entry.server,
                env_settings=entry.settings,
            )
            self.urls[name] = self.stack.enter_context(resources_server(settings))
        return self.urls[name]


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    with contextlib.ExitStack() as stack:
        yield Servers(CONFIG, stack)


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize(("name", "kind"), kinds())
def test_no_cheat_earns_a_reward(servers: Servers, name: str, kind: str) -> None:
    tasks = {task.id: task for task in load_tasks(CONFIG.envs[name].example_path(), env=name)}
    played = [cheat for cheat in cheats_of(name) if cheat.cheat == kind]

    async def play_all(url: str) -> list[str]:
        paid = []
        async with HttpClient(timeout_s=120, max_retries=0) as http:
            player = ScriptedPlayer(http, url)
            for cheat in played:
                verdict = (await player.play(tasks[cheat.id], steps_of(cheat.attempt))).verdict
                if verdict.failure is not None or (verdict.reward or 0.0) > 0:
                    paid.append(f"{cheat.id}: {verdict.reward} {verdict.failure}")
        return paid

    assert asyncio.run(play_all(servers.url(name))) == []
