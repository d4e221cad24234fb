"""The viewer's web app: the page, its static assets, and the JSON API the page pages through.

A thread indexes the files while the app serves (`ResultsIndex.refresh` every `POLL_S`): a
large file's first rows are on the page at once, and a page that polls `/api/state` sees new
rollouts as a running `gym rollout` writes them. Handlers are sync functions, which FastAPI
runs on its thread pool, beside the indexer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError

from gym_core.protocol import RolloutResult
from gym_core.service import create_service_app, field_errors, json_response
from gym_core.viewer.charts import group_view, groups_of, has_signal, summarize_rows
from gym_core.viewer.index import ResultsIndex, Row, row_id, split_row_id
from gym_core.viewer.query import GroupQuery, RowFilter, TableQuery, matching_rows, sorted_rows
from gym_core.viewer.tokens import Decoder, token_layout

__all__ = ["create_viewer_app"]

STATIC = Path(__file__).parent / "static"

router = APIRouter(prefix="/api")


POLL_S = 0.5
"""How often the files are looked at for new rows."""

log = logging.getLogger("rl_gym")


def create_viewer_app(index: ResultsIndex, decoder: Decoder | None = None) -> FastAPI:
    """The viewer over `index`; `decoder` gives token text (ids are shown without one)."""

    @contextlib.asynccontextmanager
    async def indexing(app: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        indexer = threading.Thread(target=_follow, args=(index, stop), name="indexer", daemon=True)
        indexer.start()
        try:
            yield
        finally:
            stop.set()
            await asyncio.to_thread(indexer.join)
            index.close()

    app = create_service_app("viewer", lifespan=indexing)
    app.state.index = index
    app.state.decoder = decoder
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_api_route("/", _page, include_in_schema=False)
    return app


def _follow(index: ResultsIndex, stop: threading.Event) -> None:
    """Index the files, then keep reading what they gain, until `stop`."""
    while True:
        try:
            index.refresh()
        except OSError as error:  # unreadable for now (permissions, a disk error): try again
            log.warning("viewer: cannot read the results: %s", error)
        if stop.wait(POLL_S):
            return


def _page() -> FileResponse:
    return FileResponse(STATIC / "index.html")


def _index(request: Request) -> ResultsIndex:
    index: ResultsIndex = request.app.state.index
    return index


@router.get("/state")
def state(request: Request) -> dict[str, Any]:
    """What the page polls: a `version` that changes with the rows, and the filters' choices."""
    index = _index(request)
    rows = index.rows
    versions = [row.version_max for row in rows if row.version_max is not None]
    indexed, size = index.progress()
    return {
        "version": index.version,
        "indexed_bytes": indexed,
        "total_bytes": size,
        "rollouts": len(rows),
        "unreadable": index.unreadable,
        "files": [str(path) for path in index.paths],
        "envs": sorted(Counter(row.env for row in rows)),
        "failures": sorted(Counter(row.failure for row in rows if row.failure)),
        "policy_versions": [min(versions), max(versions)] if versions else None,
    }


@router.get("/rollouts")
def rollouts(request: Request, query: Annotated[TableQuery, Query()]) -> dict[str, Any]:
    index = _index(request)
    rows = sorted_rows(matching_rows(index, query), query.sort, query.desc)
    page = rows[query.offset : query.offset + query.limit]
    return {"total": len(rows), "offset": query.offset, "rows": [_table_row(row) for row in page]}


def _table_row(row: Row) -> dict[str, Any]:
    return {
        "id": row_id(row),
        "file": row.file,
        "task_id": row.task_id,
        "env": row.env,
        "group_id": row.group_id,
        "sample_index": row.sample_index,
        "status": row.status,
        "failure": row.failure,
        "reward": row.reward,
        "turns": row.turns,
        "tokens": row.tokens,
        "generated": row.generated,
        "version_min": row.version_min,
        "version_max": row.version_max,
        "total_s": row.total_s,
        "prefix_consistent": row.prefix_consistent,
    }


@router.get("/groups")
def groups(request: Request, query: Annotated[GroupQuery, Query()]) -> dict[str, Any]:
    found = groups_of(matching_rows(_index(request), query))
    if query.signal != "any":
        wanted = query.signal == "with"
        found = [members for members in found if has_signal(members) == wanted]
    page = found[query.offset : query.offset + query.limit]
    return {
        "total": len(found),
        "offset": query.offset,
        "groups": [group_view(members).model_dump() for members in page],
    }


@router.get("/summary")
def summary(request: Request, query: Annotated[RowFilter, Query()]) -> Response:
    return json_response(summarize_rows(matching_rows(_index(request), query)))


@router.get("/rollouts/{rollout_id}")
def rollout(request: Request, rollout_id: str) -> dict[str, Any]:
    index, row, result = _rollout(request, rollout_id)
    return {
        "id": rollout_id,
        "file": str(index.paths[row.file]),
        "result": result.model_dump(mode="json"),
    }


@router.get("/rollouts/{rollout_id}/tokens")
def tokens(request: Request, rollout_id: str) -> Response:
    _, _, result = _rollout(request, rollout_id)
    return json_response(token_layout(result, request.app.state.decoder))


def _rollout(request: Request, rollout_id: str) -> tuple[ResultsIndex, Row, RolloutResult]:
    index = _index(request)
    place = split_row_id(rollout_id)
    row = None if place is None else index.find(*place)
    if row is None:
        raise HTTPException(
            404,
            f"rollout_id: no rollout {rollout_id!r} (ids are FILE-OFFSET from /api/rollouts; a "
            "file rewritten since gives its rows new ids)",
        )
    try:
        result = RolloutResult.model_validate_json(index.read(row))
    except ValidationError as error:
        raise HTTPException(
            422,
            f"rollout_id {rollout_id}: the line is not a valid rollout result: "
            + field_errors(error.errors()),
        ) from None
    return index, row, result
