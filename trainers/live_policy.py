"""A trainer's own torch model, served to RL Gym's policy server while it trains.

    from trainers.live_policy import LivePolicy

    policy = LivePolicy(model, tokenizer)          # serves in background threads
    # gym serve math --policy-url {policy.url}
    ...
    with policy.weights_update():                  # no generation step reads half-updated weights
        optimizer.step()                           # on exit, policy.version goes up by one
    policy.close()

The model (a Hugging Face causal LM with full attention) is served over loopback HTTP in vLLM's
dialect (see `trainers.live_api`): exact prompt and completion token ids, the logprob of each
completion token under the distribution it was sampled from, and the policy version. Concurrent
requests are generated together in one batch (see `trainers.live_engine`). The trainer keeps
its model: generation reads the same parameters through an eval-mode view, under
`torch.inference_mode()`, and never changes `model.training`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import PurePath
from typing import Any

import uvicorn

from gym_core.launch.local import listen
from gym_core.service import SERVER_KEEPALIVE_S
from policy_clients.chat_template import ChatTemplate
from trainers.live_api import LiveState, create_live_app
from trainers.live_engine import DEFAULT_BATCH_WINDOW_S, LiveEngine, WeightsGate

__all__ = ["LivePolicy"]

DEFAULT_MAX_BATCH_SIZE = 32
STARTUP_TIMEOUT_S = 30.0
SHUTDOWN_GRACE_S = 5


class LivePolicy:
    """Serves `model` at `url` until `close()`; use it as a context manager to close it."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
        batch_window_s: float = DEFAULT_BATCH_WINDOW_S,
        model_name: str | None = None,
    ) -> None:
        """Start serving.

        Args:
            model: a Hugging Face causal LM (`transformers` `PreTrainedModel`).
            tokenizer: its tokenizer; its chat template renders chat requests.
            host: where to listen; loopback by default (the server has no authentication).
            port: 0 picks a free port.
            max_batch_size: requests generated at once; more wait for a row to free up.
            batch_window_s: how long an idle generator gathers requests into one batch.
            model_name: what `/v1/models` calls the model (default: its directory's name).
        """
        self._gate = WeightsGate()
        self.engine = LiveEngine(
            model,
            tokenizer,
            self._gate,
            max_batch_size=max_batch_size,
            batch_window_s=batch_window_s,
        )
        self.model_name = model_name or _model_name(model)
        """What `/v1/models` calls the model."""
        source = getattr(tokenizer, "chat_template", None)
        state = LiveState(
            engine=self.engine,
            tokenizer=tokenizer,
            template=ChatTemplate(
                source, bos_token=tokenizer.bos_token or "", eos_token=tokenizer.eos_token or ""
            )
            if isinstance(source, str)
            else None,
            model_name=self.model_name,
            vocabulary=int(model.config.vocab_size),
        )
        sock = listen(host, port)
        bound_host, bound_port = sock.getsockname()[:2]
        self.url = (
            f"http://[{bound_host}]:{bound_port}"
            if ":" in bound_host
            else f"http://{bound_host}:{bound_port}"
        )
        """The engine's base URL, for `gym serve ENV --policy-url`."""
        config = uvicorn.Config(
            create_live_app(state),
            log_level="warning",
            access_log=False,
            ws="none",
            timeout_keep_alive=SERVER_KEEPALIVE_S,
            timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [sock]},
            name="live-policy-http",
            daemon=True,
        )
        self._thread.start()
        self._wait_started(sock)

    @property
    def version(self) -> int:
        """The version of the weights generation uses now; 0 until the first update."""
        return self._gate.version

    @contextmanager
    def weights_update(self, version: int | None = None) -> Iterator[None]:
        """Hold generation while the weights change.

        Waits for the running generation step (one forward of the batch) to end and blocks
        the next until the block exits; then the version becomes `version`, or goes up by one.
        If the block raises, the version stays as it was.
        """
        with self._gate.update(version):
            yield

    def close(self) -> None:
        """Stop serving; requests still generating are answered 503."""
        self.engine.close()
        self._server.should_exit = True
        self._thread.join()

    def __enter__(self) -> LivePolicy:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _wait_started(self, sock: Any) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                sock.close()
                self.engine.close()
                raise RuntimeError(f"the live policy's HTTP server did not start on {self.url}")
            time.sleep(0.01)


def _model_name(model: Any) -> str:
    path = str(getattr(model.config, "name_or_path", "") or "")
    return PurePath(path).name or "live-policy"
