"""An index of results files: where each rollout's line is, and the few fields a table needs.

A results file of 100,000 rollouts is gigabytes; the viewer keeps only each line's offset and a
small summary in memory, and reads a whole rollout back from disk when one is opened. The text
a search looks in (the conversation, ids, the failure), lower-cased, goes to a scratch file, so
that a search is one `find` pass over a fraction of the data rather than a parse of every row.

`refresh` reads what the files gained since the last look (a file still being written by
`gym rollout`), publishing rows chunk by chunk, so a page can show the first rows of a large
file while the rest is read. A file that was replaced or cut (`--retry-failed` rewrites it in
place) is indexed again from its start. As in `gym_core.collect.read_results`, a later row of
the same task and sample index replaces an earlier one of its file, and a line not yet ended
by a newline is left for the next look.
"""

from __future__ import annotations

import contextlib
import mmap
import re
import tempfile
import threading
from bisect import bisect_right
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

__all__ = ["ResultsIndex", "Row", "row_id", "split_row_id"]

READ_CHUNK_BYTES = 4 << 20
"""Rows are published to readers after each chunk."""


@dataclass(slots=True, eq=False)
class Row:
    """What the table shows, filters and sorts on, for one rollout."""

    file: int
    offset: int
    task_id: str
    env: str
    group_id: str
    sample_index: int
    status: str
    failure: str | None
    reward: float | None
    turns: int
    tokens: int
    """Tokens of the whole episode (its token view, else its last turn's prompt and
    completion); 0 when the engine gave no ids."""
    generated: int
    version_min: int | None
    version_max: int | None
    total_s: float
    policy_s: float
    tools_s: float
    verify_s: float
    prefix_consistent: bool | None
    replaced: bool = False
    """A later row of the same sample in the same file took its place."""


def row_id(row: Row) -> str:
    """The id a rollout has in URLs: its file's index and its line's byte offset."""
    return f"{row.file}-{row.offset}"


def split_row_id(value: str) -> tuple[int, int] | None:
    found = re.fullmatch(r"(\d{1,6})-(\d{1,15})", value)
    return (int(found.group(1)), int(found.group(2))) if found else None


def summarize_line(line: bytes, file: int, offset: int) -> tuple[Row, bytes] | None:
    """The summary of one results line and its searchable text, or None when it is no
    rollout result."""
    try:
        trimmed, view_tokens = _without_token_view(line)
        try:
            data = orjson.loads(trimmed)
        except orjson.JSONDecodeError:
            data, view_tokens = orjson.loads(line), None
        turns: list[dict[str, Any]] = data.get("turns") or []
        timing = data.get("timing") or {}
        failure = data.get("failure") or None
        reward = data.get("reward")
        row = Row(
            file=file,
            offset=offset,
            task_id=str(data["task_id"]),
            env=str(data["env"]),
            group_id=str(data["group_id"]),
            sample_index=int(data["sample_index"]),
            status=str(data["status"]),
            failure=str(failure["kind"]) if failure else None,
            reward=None if reward is None else float(reward),
            turns=len(turns),
            tokens=(
                view_tokens
                if view_tokens is not None
                else _episode_tokens(data.get("token_view") or None, turns)
            ),
            generated=sum(len(turn.get("completion_token_ids") or ()) for turn in turns),
            version_min=data.get("policy_version_min"),
            version_max=data.get("policy_version_max"),
            total_s=float(timing.get("total_s", 0.0)),
            policy_s=float(timing.get("policy_s", 0.0)),
            tools_s=float(timing.get("tools_s", 0.0)),
            verify_s=float(timing.get("verify_s", 0.0)),
            prefix_consistent=data.get("prefix_consistent"),
        )
        return row, _searchable(data)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        return None


_VIEW_START = b',"token_view":{"input_ids":['
_VIEW_END = b'},"prefix_consistent":'


def _without_token_view(line: bytes) -> tuple[bytes, int | None]:
    """`line` with its token view cut out, and the view's length: the view is a third of a
    line or more, all numbers, and the index needs only its length. Only the compact layout
    `gym rollout` writes (the protocol's field order, no spaces) is cut, from the last place
    it could start (every field after it is a number or a bool), so no text can fake it; any
    other line is parsed whole, as is one the cut would leave invalid."""
    start = line.rfind(_VIEW_START)
    if start < 0:
        return line, None
    ids_end = line.find(b"]", start + len(_VIEW_START))
    end = line.find(_VIEW_END, ids_end)
    if ids_end < 0 or end < 0:
        return line, None
    ids = line[start + len(_VIEW_START) : ids_end]
    tokens = ids.count(b",") + 1 if ids else 0
    return line[:start] + b',"token_view":null' + line[end + 1 :], tokens


def _episode_tokens(view: dict[str, Any] | None, turns: list[dict[str, Any]]) -> int:
    if view is not None:
        return len(view.get("input_ids") or ())
    if not turns:
        return 0
    last = turns[-1]
    return len(last.get("prompt_token_ids") or ()) + len(last.get("completion_token_ids") or ())


def _searchable(data: dict[str, Any]) -> bytes:
    """The text a search finds a rollout by, lower-cased, one field a line."""
    parts = [str(data["task_id"]), str(data["env"]), str(data["group_id"])]
    for message in data.get("messages") or ():
        parts += [message.get("content") or "", message.get("reasoning_content") or ""]
        for call in message.get("tool_calls") or ():
            function = call.get("function") or {}
            parts += [str(function.get("name", "")), str(function.get("arguments", ""))]
    if data.get("failure"):
        parts.append(str(data["failure"].get("message", "")))
    return "\n".join(part for part in parts if part).lower().encode("utf-8", "replace") + b"\0"


@dataclass
class _File:
    path: Path
    inode: int = -1
    end: int = 0
    """Bytes read so far: up to the end of the last complete line."""
    rows: list[Row] = field(default_factory=list)
    unreadable: int = 0
    """Complete lines that hold no rollout result."""
    latest: dict[tuple[str, int], Row] = field(default_factory=dict)
    """(task id, sample index) -> the row that counts."""
    by_offset: dict[int, Row] = field(default_factory=dict)


class ResultsIndex:
    """The rollouts of one or more results files, refreshed as the files grow.

    One thread refreshes (the app's indexer); any number may read and search meanwhile.
    """

    def __init__(self, paths: list[Path]) -> None:
        self.paths = list(paths)
        self._files = [_File(path) for path in self.paths]
        self._lock = threading.Lock()
        self._rows: list[Row] = []
        self._text = tempfile.TemporaryFile(prefix="rl-gym-view-")  # noqa: SIM115 (closed by close)
        self._text_size = 0
        self._text_starts: list[int] = []
        self._text_rows: list[Row] = []
        self.version = 0
        """Goes up whenever the rows change, so a page knows when to ask again."""

    @property
    def rows(self) -> list[Row]:
        """Every rollout that counts, file by file, in the order of its lines."""
        return self._rows

    @property
    def unreadable(self) -> int:
        return sum(file.unreadable for file in self._files)

    def progress(self) -> tuple[int, int]:
        """(bytes indexed, bytes in the files)."""
        done = sum(file.end for file in self._files)
        total = 0
        for file in self._files:
            with contextlib.suppress(FileNotFoundError):
                total += file.path.stat().st_size
        return done, total

    def refresh(self) -> bool:
        """Read what the files gained since the last look; True when the rows changed."""
        changed = False
        for number in range(len(self._files)):
            changed |= self._read_new(number)
        return changed

    def _read_new(self, number: int) -> bool:
        file = self._files[number]
        try:
            stat = file.path.stat()
        except FileNotFoundError:
            stat = None
        inode = -1 if stat is None else stat.st_ino
        size = 0 if stat is None else stat.st_size
        if inode != file.inode or size < file.end:
            had_rows = bool(file.rows) or file.unreadable > 0
            self._files[number] = file = _File(file.path, inode=inode)
            if had_rows:
                self._publish()
            if stat is None:
                return had_rows
        if size == file.end:
            return False
        before = file.end
        with file.path.open("rb") as source:
            source.seek(file.end)
            while chunk := source.read(READ_CHUNK_BYTES):
                cut = chunk.rfind(b"\n") + 1
                if cut == 0:
                    break
                self._add_lines(number, file, chunk[:cut])
                source.seek(file.end)
        return file.end != before

    def _add_lines(self, number: int, file: _File, data: bytes) -> None:
        offset = file.end
        parsed: list[tuple[Row, bytes] | None] = []
        for line in data.split(b"\n")[:-1]:
            if line.strip():
                parsed.append(summarize_line(line, number, offset))
            offset += len(line) + 1
        texts = []
        with self._lock:
            text_end = self._text_size
            for found in parsed:
                if found is None:
                    file.unreadable += 1
                    continue
                row, text = found
                earlier = file.latest.get((row.task_id, row.sample_index))
                if earlier is not None:
                    earlier.replaced = True
                file.latest[row.task_id, row.sample_index] = row
                file.by_offset[row.offset] = row
                file.rows.append(row)
                self._text_starts.append(text_end)
                self._text_rows.append(row)
                texts.append(text)
                text_end += len(text)
            self._text.seek(self._text_size)
            self._text.write(b"".join(texts))
            self._text.flush()
            self._text_size = text_end
            file.end += len(data)
        self._publish()

    def _publish(self) -> None:
        rows = [row for file in self._files for row in file.rows if not row.replaced]
        with self._lock:
            self._rows = rows
            self.version += 1

    def find(self, file: int, offset: int) -> Row | None:
        """The row that counts at that file and offset, or None."""
        if not 0 <= file < len(self._files):
            return None
        row = self._files[file].by_offset.get(offset)
        return None if row is None or row.replaced else row

    def read(self, row: Row) -> bytes:
        """The whole line of `row`, from disk."""
        with self._files[row.file].path.open("rb") as source:
            source.seek(row.offset)
            return source.readline()

    def search(self, text: str) -> set[Row]:
        """The rows whose conversation, ids or failure message hold `text`, in any case."""
        needle = text.lower().encode("utf-8", "replace")
        with self._lock:
            size = self._text_size
            starts = list(self._text_starts)
            rows = list(self._text_rows)
        found: set[Row] = set()
        if not needle or size == 0:
            return found
        with mmap.mmap(self._text.fileno(), size, access=mmap.ACCESS_READ) as data:
            position = data.find(needle)
            while position != -1:
                at = bisect_right(starts, position) - 1
                found.add(rows[at])
                if at + 1 >= len(starts):
                    break
                position = data.find(needle, starts[at + 1])
        return found

    def close(self) -> None:
        self._text.close()
