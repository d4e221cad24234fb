"""`gym view results.jsonl`: browse rollouts in a local web page while they are being written."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gym_core.errors import ConfigError

__all__ = ["add_arguments", "run"]

HOST = "127.0.0.1"
"""Results hold prompts and answers: the page is served to this machine only (reach it from
another over `ssh -L`)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files", nargs="+", type=Path, metavar="RESULTS", help="JSONL files of `gym rollout`"
    )
    parser.add_argument(
        "--port", type=int, default=0, help="port to serve on (default: a free one)"
    )
    parser.add_argument(
        "--tokenizer",
        type=Path,
        metavar="PATH",
        help="a GGUF file or a local Hugging Face tokenizer directory, to show each token's "
        "text in the token view (without one, its id)",
    )


def run(args: argparse.Namespace) -> int:
    for path in args.files:
        if not path.is_file():
            raise ConfigError(f"{path}: no such file")
    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port must be between 0 and 65535 (got {args.port})")
    from gym_core.launch.local import listen
    from gym_core.service import serve
    from gym_core.viewer.app import create_viewer_app
    from gym_core.viewer.index import ResultsIndex
    from gym_core.viewer.tokens import load_decoder

    decoder = None if args.tokenizer is None else load_decoder(args.tokenizer)
    sock = listen(HOST, args.port)
    port = sock.getsockname()[1]
    print(f"viewer: http://{HOST}:{port}/", flush=True)
    size_mb = sum(path.stat().st_size for path in args.files) / 1e6
    print(
        f"indexing {len(args.files)} file(s), {size_mb:.1f} MB; rows appear on the page as "
        "they are read, and as they are written. Ctrl-C stops.",
        file=sys.stderr,
        flush=True,
    )
    serve(create_viewer_app(ResultsIndex(args.files), decoder), [sock])
    return 0
