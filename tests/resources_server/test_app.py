"""A resources server over real HTTP: sessions, tools, verification and their errors."""

from __future__ import annotations

from collections.abc import Iterator
from multiprocessing import forkserver

import aiohttp
import pytest

from gym_core.errors import ServiceRejected, ServiceTimeout
from gym_core.http_client import HttpClient
from gym_core.metrics import Exposition
from gym_core.settings import ResourcesServerSettings
from tests.conftest import metric, resources_server

SETTINGS = ResourcesServerSettings(
    name="echo",
    server="tests.fixtures.echo_env:EchoServer",
    cpu_workers=1,
    verify_cpu_limit_s=0.5,
    session_ttl_s=60,
)


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with resources_server(SETTINGS) as url:
        yield url


@pytest.fixture
def url_forked_beside_a_fork_server() -> Iterator[str]:
    """A server forked by a process that already runs a multiprocessing fork server of its own."""
    forkserver.ensure_running()
    with resources_server(SETTINGS) as url:
        yield url


async def scrape(url: str) -> Exposition:
    async with aiohttp.ClientSession() as session, session.get(f"{url}/metrics") as response:
        return Exposition(await response.text())


TASK = {"id": "t1", "env": "echo", "prompt": "say hi", "expected": "hi"}
ANSWER = [{"role": "user", "content": "say hi"}, {"role": "assistant", "content": "hi"}]


async def open_session(http: HttpClient, url: str, **fields: object) -> str:
    answer = await http.post(f"{url}/sessions", {"task": {**TASK, **fields}})
    return answer["session_id"]


HOW = ["in a session", "in one call"]


async def verified(
    http: HttpClient, url: str, how: str, messages: list[dict], **fields: object
) -> dict:
    """The verdict on `messages` for TASK (with `fields`): seeded in a session then verified,
    or both in one call (as a single-turn environment's episodes are)."""
    if how == "in one call":
        return await http.post(f"{url}/verify", {"task": {**TASK, **fields}, "messages": messages})
    session = await open_session(http, url, **fields)
    return await http.post(f"{url}/sessions/{session}/verify", {"messages": messages})


async def test_tools_are_listed_with_their_schemas(url: str) -> None:
    async with HttpClient() as http:
        tools = (await http.get(f"{url}/tools"))["tools"]
    names = {entry["function"]["name"] for entry in tools}
    assert names == {"add", "echo", "explode", "recall", "remember"}
    add = next(entry for entry in tools if entry["function"]["name"] == "add")
    assert add["function"]["parameters"]["required"] == ["a"]


async def test_env_says_an_environment_with_tools_needs_sessions(url: str) -> None:
    async with HttpClient() as http:
        described = await http.get(f"{url}/env")
    assert described["needs_session"] is True
    assert described["interactive"] is False
    assert {tool["function"]["name"] for tool in described["tools"]} == {
        "add",
        "echo",
        "explode",
        "recall",
        "remember",
    }


async def test_a_session_holds_state_between_tool_calls(url: str) -> None:
    async with HttpClient() as http:
        session = await open_session(http, url)
        calls = f"{url}/sessions/{session}/tools"
        assert await http.post(f"{calls}/remember", {"key": "x", "value": "1"}) == {
            "output": "noted x",
            "is_error": False,
        }
        assert (await http.post(f"{calls}/recall", {"key": "x"}))["output"] == "1"
        assert await http.post(f"{calls}/recall", {"key": "y"}) == {
            "output": "nothing is noted under 'y'",
            "is_error": True,
        }
        assert await http.post(f"{calls}/add", {"a": 2, "b": 3}) == {
            "output": "5",
            "is_error": False,
        }
        other = await open_session(http, url)
        missing = await http.post(f"{url}/sessions/{other}/tools/recall", {"key": "x"})
        assert missing["is_error"] is True


async def test_a_tool_that_raises_is_an_error_output_not_a_500(url: str) -> None:
    async with HttpClient() as http:
        session = await open_session(http, url)
        answer = await http.post(f"{url}/sessions/{session}/tools/explode", {})
    assert answer == {"output": "RuntimeError: the tool broke", "is_error": True}
    metrics = await scrape(url)
    assert metrics.value("failures_total", service="env-echo", kind="tool_raised") >= 1


@pytest.mark.parametrize(
    ("path", "body", "status", "named"),
    [
        (
            "/sessions",
            {"task": {"id": "a", "env": "echo", "prompt": "x", "expected": 3}},
            422,
            "task.expected: Input should be a valid string",
        ),
        ("/sessions", {"task": {"env": "echo", "prompt": "x"}}, 422, "task.id: Field required"),
        (
            "/verify",
            {"task": {"id": "a", "env": "echo", "prompt": "x", "expected": 3}, "messages": []},
            422,
            "task.expected: Input should be a valid string",
        ),
        ("/verify", {"task": TASK}, 422, "messages: Field required"),
        ("/sessions/nope/tools/echo", {"text": "x"}, 404, "no session 'nope'"),
        ("/sessions/nope/verify", {"messages": []}, 404, "no session 'nope'"),
    ],
)
async def test_bad_requests_are_4xx_naming_the_problem(
    url: str, path: str, body: dict, status: int, named: str
) -> None:
    async with HttpClient() as http:
        with pytest.raises(ServiceRejected) as caught:
            await http.post(f"{url}{path}", body)
    assert caught.value.status == status
    assert named in str(caught.value)


async def test_tool_errors_name_the_tool_or_argument(url: str) -> None:
    async with HttpClient() as http:
        session = await open_session(http, url)
        with pytest.raises(ServiceRejected, match="no tool 'nosuch'; this environment has: add"):
            await http.post(f"{url}/sessions/{session}/tools/nosuch", {})
        with pytest.raises(ServiceRejected, match="arguments.a: Input should be a valid integer"):
            await http.post(f"{url}/sessions/{session}/tools/add", {"a": "two"})
        with pytest.raises(ServiceRejected, match="arguments.text: Field required"):
            await http.post(f"{url}/sessions/{session}/tools/echo", {})
        with pytest.raises(ServiceRejected, match="must be a JSON object"):
            await http.post(f"{url}/sessions/{session}/tools/echo", b"{not json")


async def test_verify_scores_and_closes_the_session(url: str) -> None:
    async with HttpClient() as http:
        session = await open_session(http, url)
        verdict = await http.post(f"{url}/sessions/{session}/verify", {"messages": ANSWER})
        assert verdict["reward"] == 1.0
        assert verdict["reward_components"] == {"contains_expected": 1.0}
        assert verdict["failure"] is None
        with pytest.raises(ServiceRejected, match="no session"):
            await http.post(f"{url}/sessions/{session}/verify", {"messages": ANSWER})


async def test_one_call_seeds_and_verifies_and_opens_no_session(url: str) -> None:
    async with HttpClient() as http:
        opened = metric(url, "requests_total", 'route="/sessions"')
        verdict = await http.post(f"{url}/verify", {"task": TASK, "messages": ANSWER})
    assert verdict["reward"] == 1.0
    assert verdict["reward_components"] == {"contains_expected": 1.0}
    assert verdict["metrics"] == {"notes": 0}  # the state `seed` gave, passed to `verify`
    assert verdict["failure"] is None
    assert metric(url, "requests_total", 'route="/sessions"') == opened
    assert metric(url, "requests_total", 'route="/verify"') >= 1


async def test_the_cpu_pool_works_in_a_server_forked_beside_a_fork_server(
    url_forked_beside_a_fork_server: str,
) -> None:
    url = url_forked_beside_a_fork_server
    async with HttpClient() as http:
        session = await open_session(http, url, spin_cpu_s=0.01)
        verdict = await http.post(f"{url}/sessions/{session}/verify", {"messages": ANSWER})
    assert verdict["failure"] is None
    assert verdict["reward"] == 1.0


@pytest.mark.parametrize("how", HOW)
async def test_verify_failures_are_typed_not_scored(url: str, how: str) -> None:
    crash = [{"role": "assistant", "content": "VERIFY_CRASH"}]
    async with HttpClient() as http:
        broken = await verified(http, url, how, crash)
        spent = await verified(http, url, how, ANSWER, spin_cpu_s=3.0)
    assert broken["reward"] is None
    assert broken["failure"]["kind"] == "verify_error"
    assert "ValueError: the verifier could not read this" in broken["failure"]["message"]
    assert spent["reward"] is None
    assert spent["failure"]["kind"] == "verify_timeout"


@pytest.mark.parametrize(
    ("answer", "named"),
    [
        ("VERIFY_DIES", "died"),
        ("VERIFY_NAN", "reward must be a finite number, got nan"),
        ("VERIFY_INF_PART", "style must be a finite number, got inf"),
        ("VERIFY_TEXT", "verify must return a Verdict or a number, got str"),
    ],
)
@pytest.mark.parametrize("how", HOW)
async def test_a_verifier_that_breaks_or_returns_no_reward_is_a_verify_error(
    url: str, answer: str, named: str, how: str
) -> None:
    async with HttpClient() as http:
        verdict = await verified(http, url, how, [{"role": "assistant", "content": answer}])
    assert verdict["reward"] is None
    assert verdict["failure"]["kind"] == "verify_error"
    assert named in verdict["failure"]["message"]


async def test_delete_ends_a_session(url: str) -> None:
    async with HttpClient() as http:
        session = await open_session(http, url)
        assert await http.delete(f"{url}/sessions/{session}") == {"closed": True}
        assert await http.delete(f"{url}/sessions/{session}") == {"closed": False}


@pytest.fixture
def patient_url() -> Iterator[str]:
    """A server with one CPU worker and a CPU budget of two minutes per verification."""
    with resources_server(SETTINGS.model_copy(update={"verify_cpu_limit_s": 120.0})) as url:
        yield url


async def test_a_verification_whose_caller_hung_up_frees_its_cpu_worker_at_once(
    patient_url: str,
) -> None:
    """The one CPU worker spins for a verification nobody waits for any more: it is replaced
    at once, and the next verification does not queue behind a minute of CPU time."""
    url = patient_url
    async with HttpClient(timeout_s=0.5, max_retries=0) as impatient:
        session = await open_session(impatient, url, spin_cpu_s=60.0)
        with pytest.raises(ServiceTimeout):
            await impatient.post(f"{url}/sessions/{session}/verify", {"messages": ANSWER})
    async with HttpClient(timeout_s=20) as http:
        session = await open_session(http, url)
        verdict = await http.post(f"{url}/sessions/{session}/verify", {"messages": ANSWER})
    assert verdict["reward"] == 1.0
    assert (await scrape(url)).value("sessions_open", service="env-echo") == 0
