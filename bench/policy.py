"""What the policy server costs: the embedded model direct versus through it, and the gateway's
own overhead per request against an instant engine.

    python -m bench.policy --requests 8 --max-tokens 128 --gateway-requests 500

1. Tokens per second of the embedded SmolLM2 model driven in this process (the engine the policy
   server uses, called directly) and through the policy server over HTTP, on the same requests
   with the same seeds, so both sample exactly the same tokens.
2. The gateway's overhead per request: the latency of a chat request sent straight to an
   instant scripted engine, and through the policy server in front of it (one request at a
   time, so the difference is the gateway's work and its extra HTTP hop).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

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


async def embedded_direct(bodies: list[dict]) -> tuple[int, float]:
    settings = PolicyServerSettings()
    engine = EmbeddedEngine(None, n_ctx=settings.embedded_context)
    await engine.start()
    await engine.chat(bodies[0])  # warm up
    tokens = 0
    started = time.perf_counter()
    for body in bodies:
        tokens += len((await engine.chat(body))["choices"][0]["token_ids"])
    elapsed = time.perf_counter() - started
    await engine.close()
    return tokens, elapsed


async def through_server(url: str, bodies: list[dict]) -> tuple[int, float]:
    async with HttpClient(timeout_s=600) as http:
        await http.post(f"{url}/v1/chat/completions", bodies[0])
        tokens = 0
        started = time.perf_counter()
        for body in bodies:
            answer = await http.post(f"{url}/v1/chat/completions", body)
            tokens += len(answer["choices"][0]["token_ids"])
        return tokens, time.perf_counter() - started


async def latencies(url: str, count: int) -> list[float]:
    body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 16}
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
    parser.add_argument("--gateway-requests", type=int, default=500)
    args = parser.parse_args()
    print(
        f"command: python -m bench.policy --requests {args.requests} "
        f"--max-tokens {args.max_tokens} --gateway-requests {args.gateway_requests}"
    )

    bodies = requests(args.requests, args.max_tokens)
    direct_tokens, direct_s = asyncio.run(embedded_direct(bodies))
    server = start_service(
        "policy_clients.server:create_app", PolicyServerSettings().model_dump(), name="policy"
    )
    try:
        wait_healthy(server)
        served_tokens, served_s = asyncio.run(through_server(server.url, bodies))
    finally:
        stop_processes([server])
    direct_rate, served_rate = direct_tokens / direct_s, served_tokens / served_s
    print(
        f"embedded model, direct:            {direct_rate:6.1f} tokens/s ({direct_tokens} tokens)"
    )
    print(
        f"embedded model, via policy server: {served_rate:6.1f} tokens/s ({served_tokens} tokens)"
    )
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
    finally:
        stop_processes([p for p in (engine, gateway) if p is not None])
    direct_p50, gated_p50 = statistics.median(direct), statistics.median(gated)
    print(f"instant engine, direct:            p50 {direct_p50:.2f} ms")
    print(f"instant engine, via policy server: p50 {gated_p50:.2f} ms")
    print(f"  gateway overhead per request:    {gated_p50 - direct_p50:.2f} ms")


if __name__ == "__main__":
    main()
