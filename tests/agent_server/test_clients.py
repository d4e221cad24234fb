"""The resources client against a replica that dies mid-call: a real TCP server that takes
each request and closes the connection without answering, as a killed process does."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from agent_server.clients import EpisodeFailure, ResourcesClient
from gym_core.http_client import HttpClient
from gym_core.protocol import Task


@contextlib.asynccontextmanager
async def hanging_up() -> AsyncIterator[tuple[str, list[bytes]]]:
    """Yields the server's URL and the request lines it took."""
    taken: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        taken.append((await reader.readuntil(b"\r\n\r\n")).split(b"\r\n")[0])
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}", taken


async def test_a_one_call_verification_is_sent_once_more_then_lost_with_its_replica() -> None:
    task = Task.model_validate({"id": "t", "env": "plain", "prompt": "hi"})
    async with hanging_up() as (url, taken), HttpClient(timeout_s=5) as http:
        client = ResourcesClient(http, url, timeout_s=5)
        with pytest.raises(EpisodeFailure) as caught:
            await client.verify_task(task, task.messages(), [])
    assert caught.value.kind == "replica_lost"
    assert taken == [b"POST /verify HTTP/1.1"] * 2
