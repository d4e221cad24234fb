"""`gym view` over a large results file: how long it takes to open, and to answer a filter.

    python -m bench.viewer --rollouts 100000

Writes a results file of GRPO-shaped rollouts (groups of 8, one to three turns, a token view of
a few hundred tokens with logprobs, 3% failed), starts `gym view` on it as a user would, and
times: the page up (process start to the first answer), its first rows, the whole file indexed
(in the background, rows appearing as read), then each query the page makes over HTTP once the
index is whole: the median of `--repeat` runs.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import orjson

from gym_core.protocol import Turn
from gym_core.token_view import build_token_view
from tests.fixtures.serving import gym_view

ENVS = ["math", "code", "calendar", "tool_calls"]
FAILURES = ["policy_timeout", "sandbox_error", "verify_timeout"]
GROUP_SIZE = 8
VARIANTS = 64
QUERIES: dict[str, dict[str, str]] = {
    "page 1, no filter": {},
    "env + status, sorted by reward": {"env": "math", "status": "completed", "sort": "reward"},
    "reward range + policy version": {"reward_min": "0.5", "reward_max": "1", "version": "3"},
    "failure kind, sorted by tokens": {"failure": "sandbox_error", "sort": "tokens", "desc": "1"},
    "one group": {"group": "g00001234"},
    "text search": {"q": "needle-4242"},
}


def _episodes(rng: random.Random, prompt_tokens: int, completion_tokens: int) -> list[Any]:
    """A few token-view episodes (turns and view as JSON) that rows reuse."""
    episodes = []
    for _ in range(VARIANTS):
        turns, context = [], [rng.randrange(50_000) for _ in range(prompt_tokens)]
        for _ in range(rng.randint(1, 3)):
            completion = [rng.randrange(50_000) for _ in range(completion_tokens)]
            logprobs = [-rng.random() * 3 for _ in completion]
            turns.append(
                Turn(
                    prompt_token_ids=list(context),
                    completion_token_ids=completion,
                    completion_logprobs=logprobs,
                    prompt_mode="tokens",
                    token_ids_source="engine",
                )
            )
            context += completion + [rng.randrange(50_000) for _ in range(20)]
        check = build_token_view(turns)
        assert check.view is not None
        episodes.append(
            ([turn.model_dump(mode="json") for turn in check.turns], check.view.model_dump())
        )
    return episodes


def write_results(path: Path, rollouts: int, prompt_tokens: int, completion_tokens: int) -> None:
    rng = random.Random(0)
    episodes = _episodes(rng, prompt_tokens, completion_tokens)
    with path.open("wb") as sink:
        for number in range(rollouts):
            turns, view = episodes[number % VARIANTS]
            group = number // GROUP_SIZE
            failed = rng.random() < 0.03
            row = {
                "task_id": f"task-{group}",
                "env": ENVS[group % len(ENVS)],
                "group_id": f"g{group:08d}",
                "sample_index": number % GROUP_SIZE,
                "messages": [
                    {"role": "user", "content": f"Problem {group}: find x. needle-{number}"},
                    {"role": "assistant", "content": "Let me think. " * 40 + "\\boxed{4}"},
                ],
                "turns": [{**turn, "policy_version": group % 5} for turn in turns],
                "reward": None if failed else float(rng.random() < 0.4),
                "metrics": {},
                "status": "failed" if failed else "completed",
                "failure": {"kind": rng.choice(FAILURES), "message": "broke"} if failed else None,
                "token_view": view,
                "prefix_consistent": True,
                "policy_version_min": group % 5,
                "policy_version_max": group % 5,
                "timing": {"total_s": rng.random() * 9, "policy_s": 1.0, "tools_s": 0.5},
            }
            sink.write(orjson.dumps(row) + b"\n")


def timed_get(url: str) -> float:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=300) as answer:
        answer.read()
    return time.perf_counter() - started


def _state(url: str) -> Any:
    with urllib.request.urlopen(f"{url}/api/state", timeout=300) as answer:
        return orjson.loads(answer.read())


def _since(started: float) -> float:
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rollouts", type=int, default=100_000)
    parser.add_argument("--prompt-tokens", type=int, default=128)
    parser.add_argument("--completion-tokens", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--file", type=Path, help="reuse (or keep) this results file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        path = args.file or Path(scratch) / "results.jsonl"
        if not path.exists():
            started = time.perf_counter()
            write_results(path, args.rollouts, args.prompt_tokens, args.completion_tokens)
            print(f"wrote {path} in {time.perf_counter() - started:.1f} s")
        size_mb = path.stat().st_size / 1e6
        load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
        print(f"python -m bench.viewer --rollouts {args.rollouts}: {size_mb:.0f} MB")
        print(f"  load average before: {load} ({os.cpu_count()} cores)")
        started = time.perf_counter()
        with gym_view(str(path)) as url:
            state = _state(url)
            print(f"  page up (process start to first answer)    {_since(started):7.2f} s")
            while not state["rollouts"]:
                state = _state(url)
            print(f"  first rows on the page                     {_since(started):7.2f} s")
            while state["indexed_bytes"] < state["total_bytes"]:
                time.sleep(0.2)
                state = _state(url)
            print(
                f"  all {state['rollouts']} rollouts indexed              {_since(started):7.2f} s"
            )
            for name, params in QUERIES.items():
                query = "&".join(f"{key}={value}" for key, value in params.items())
                times = [timed_get(f"{url}/api/rollouts?{query}") for _ in range(args.repeat)]
                print(f"  filter: {name:<33} median {statistics.median(times) * 1000:7.1f} ms")
            for page in ("groups?signal=without", "summary", "summary?env=code"):
                times = [timed_get(f"{url}/api/{page}") for _ in range(args.repeat)]
                print(f"  {page:<41} median {statistics.median(times) * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
