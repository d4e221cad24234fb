"""What the policy server costs: the embedded model direct versus through it, and the gateway's
own overhead per request against an instant engine.

    python -m bench.policy --requests 8 --max-tokens 128 --gateway-requests 500

1. Tokens per second of the embedded SmolLM2 model driven in this process (the engine the policy
   server uses, called directly) and through the policy server over HTTP, on the same requests
   with the same seeds, so both sample exactly the same tokens. The two alternate for a few
   rounds and the best round of each counts: a shared machine's speed drifts by more than the
   gateway costs.
2. The gateway's overhead per request: the latency of a chat request sent straight to an
   instant scripted engine, and through the policy server in front of it (one request at a
   time, so the difference is the gateway's work and its extra HTTP hop).
3. What a turn built from token ids costs against one rendered from messages: a second turn
   (after a tool call) through the policy server in front of the instant engine, with and
   without `rl_gym_prefix` (the token path asks the engine to tokenize the new messages, then
   generates from ids).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import uvloop

from gym_core.http_client import HttpClient
from gym_core.launch.local import start_service, stop_processes
from gym_core.settings import PolicyServerSettings
from policy_clients.engines.embedded import EmbeddedEngine
from tests.conftest import wait_healthy

PROMPT = [{"role": "user", "content": "Write a long story about a lighthouse keeper and a storm."}]


def requests(count: int, max_tokens: int) -> list[dict]:
    return [
        {"messages": PROMPT, "max_tokens": max_tokens, "temperature": 1.0, "seed": seed}
        for seed in range(count)
    ]


async def best_rates(url: str, bodies: list[dict], rounds: int) -> tuple[float, float, int]:
    """The best tokens per second of `rounds` alternating rounds, direct and through the
    server at `url`, and the tokens of one round."""
    settings = PolicyServerSettings()
    engine = EmbeddedEngine(None, n_ctx=settings.embedded_context)
    await engine.start()
    direct: list[float] = []
    served: list[float] = []
    try:
        async with HttpClient(timeout_s=600) as http:

            async def via_server(body: dict) -> dict:
                return await http.post(f"{url}/v1/chat/completions", body)

            for generate in (engine.chat, via_server):
                await generate(bodies[0])  # warm up
            for _ in range(rounds):
                for generate, rates in ((engine.chat, direct), (via_server, served)):
                    tokens = 0
                    started = time.perf_counter()
                    for body in bodies:
                        tokens += len((await generate(body))["choices"][0]["token_ids"])
                    rates.append(tokens / (time.perf_counter() - started))
    finally:
        await engine.close()
    return max(direct), max(served), tokens


HI = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 16}


async def second_turn(url: str, *, tokens: bool) -> dict:
    """A request for the turn after the instant engine's first answer and a tool's output."""
    async with HttpClient() as http:
        first = await http.post(f"{url}/v1/chat/completions", {**HI, "rl_gym_prefix": {}})
    messages = [
        *HI["messages"],
        first["choices"][0]["message"],
        {"role": "user", "content": "and again"},
    ]
    body = {"messages": messages, "max_tokens": 16}
    if tokens:
        ids = first["prompt_token_ids"] + first["choices"][0]["token_ids"]
        body["rl_gym_prefix"] = {"token_ids": ids, "messages": 2}
    return body


async def latencies(url: str, count: int, body: dict = HI) -> list[float]:
    async with HttpClient() as http:
        for _ in range(50):
            await http.post(f"{url}/v1/chat/completions", body)
        samples = []
        for _ in range(count):
            started = time.perf_counter()
            await http.post(f"{url}/v1/chat/completions", body)
            samples.append((time.perf_counter() - started) * 1000)
        return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--gateway-requests", type=int, default=500)
    args = parser.parse_args()
    print(
        f"command: python -m bench.policy --requests {args.requests} "
        f"--max-tokens {args.max_tokens} --rounds {args.rounds} "
        f"--gateway-requests {args.gateway_requests}"
    )

    bodies = requests(args.requests, args.max_tokens)
    server = start_service(
        "policy_clients.server:create_app", PolicyServerSettings().model_dump(), name="policy"
    )
    try:
        wait_healthy(server)
        # uvloop, as the policy server runs under uvicorn: with asyncio's own loop, llama.cpp
        # decoding in a worker thread ran at half the speed on this machine.
        direct_rate, served_rate, tokens = uvloop.run(best_rates(server.url, bodies, args.rounds))
    finally:
        stop_processes([server])
    print(f"embedded model, direct:            {direct_rate:6.1f} tokens/s (best of {args.rounds})")
    print(f"embedded model, via policy server: {served_rate:6.1f} tokens/s ({tokens} per round)")
    print(f"  the gateway costs {100 * (1 - served_rate / direct_rate):.1f}% of the throughput")

    engine = start_service(
        "policy_clients.scripted:create_app", {"rules": [{"reply": "ok"}]}, name="instant-engine"
    )
    gateway = None
    try:
        wait_healthy(engine)
        gateway = start_service(
            "policy_clients.server:create_app",
            PolicyServerSettings(engine_urls=[engine.url]).model_dump(),
            name="policy",
        )
        wait_healthy(gateway)
        direct = asyncio.run(latencies(engine.url, args.gateway_requests))
        gated = asyncio.run(latencies(gateway.url, args.gateway_requests))
        turns = {
            mode: asyncio.run(
                latencies(
                    gateway.url,
                    args.gateway_requests,
                    asyncio.run(second_turn(gateway.url, tokens=mode == "tokens")),
                )
            )
            for mode in ("messages", "tokens")
        }
    finally:
        stop_processes([p for p in (engine, gateway) if p is not None])
    direct_p50, gated_p50 = statistics.median(direct), statistics.median(gated)
    print(f"instant engine, direct:            p50 {direct_p50:.2f} ms")
    print(f"instant engine, via policy server: p50 {gated_p50:.2f} ms")
    print(f"  gateway overhead per request:    {gated_p50 - direct_p50:.2f} ms")
    by_messages, by_tokens = (statistics.median(turns[mode]) for mode in ("messages", "tokens"))
    print(f"a second turn, from messages:      p50 {by_messages:.2f} ms")
    print(f"a second turn, from token ids:     p50 {by_tokens:.2f} ms")


if __name__ == "__main__":
    main()
