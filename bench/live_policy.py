"""What the policy server costs in front of the live policy: tokens per second of SmolLM2 served
from this process by `LivePolicy`, asked directly and through the policy server, at a few
concurrencies.

    python -m bench.live_policy --concurrency 1,8,32 --max-tokens 64 --rounds 3

At each concurrency, that many clients each send `--requests-per-client` chat requests one
after another (a closed loop, as agents do). Both paths get the same requests with the same
seeds, and the live policy samples a seeded request identically in any batch, so both generate
the same tokens. Direct and through the server alternate for a few rounds and the best round of
each counts: a shared machine's speed drifts by more than the gateway costs.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see examples/grpo_torch.py

import argparse
import asyncio
import time

import uvloop

from gym_core.http_client import HttpClient
from gym_core.launch.local import start_service, stop_processes
from gym_core.settings import PolicyServerSettings
from tests.conftest import wait_healthy
from trainers.live_policy import LivePolicy
from trainers.smollm2 import load_smollm2

PROMPT = [{"role": "user", "content": "Write a long story about a lighthouse keeper and a storm."}]


async def rate(url: str, concurrency: int, per_client: int, max_tokens: int) -> float:
    """Tokens per second of `concurrency` closed-loop clients against `url`."""

    async with HttpClient(timeout_s=600, max_retries=0) as http:

        async def client(index: int) -> int:
            tokens = 0
            for round_ in range(per_client):
                body = {
                    "messages": PROMPT,
                    "max_tokens": max_tokens,
                    "temperature": 1.0,
                    "seed": index * per_client + round_,
                }
                answer = await http.post(f"{url}/v1/chat/completions", body)
                tokens += len(answer["choices"][0]["token_ids"])
            return tokens

        started = time.perf_counter()
        tokens = sum(await asyncio.gather(*(client(i) for i in range(concurrency))))
        return tokens / (time.perf_counter() - started)


async def best_rates(
    direct_url: str, served_url: str, concurrency: int, args: argparse.Namespace
) -> tuple[float, float]:
    direct: list[float] = []
    served: list[float] = []
    for _ in range(args.rounds):
        for url, rates in ((direct_url, direct), (served_url, served)):
            rates.append(await rate(url, concurrency, args.requests_per_client, args.max_tokens))
    return max(direct), max(served)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", default="1,8,32", help="comma-separated client counts")
    parser.add_argument("--requests-per-client", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(
        f"command: python -m bench.live_policy --concurrency {args.concurrency} "
        f"--requests-per-client {args.requests_per_client} --max-tokens {args.max_tokens} "
        f"--rounds {args.rounds}"
    )
    levels = [int(level) for level in args.concurrency.split(",")]
    model, tokenizer = load_smollm2()
    with LivePolicy(model, tokenizer, max_batch_size=max(levels)) as policy:
        settings = PolicyServerSettings(engine_urls=[policy.url])
        server = start_service("policy_clients.server:create_app", settings.model_dump())
        try:
            wait_healthy(server)
            # uvloop, as the policy server runs under uvicorn
            uvloop.run(rate(server.url, 1, 1, 8))  # warm up both paths
            for concurrency in levels:
                direct, served = uvloop.run(best_rates(policy.url, server.url, concurrency, args))
                print(
                    f"concurrency {concurrency:3d}: direct {direct:6.1f} tokens/s, via policy "
                    f"server {served:6.1f} tokens/s ({100 * served / direct:.0f}%)",
                    flush=True,
                )
        finally:
            stop_processes([server])


if __name__ == "__main__":
    main()
