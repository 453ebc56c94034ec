"""Watch: replay from the bounded history, then stream line-delimited JSON events."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

from aiohttp import web

from . import errors, tables
from .errors import ApiError
from .resources import ResourceType
from .rest import Api, Ctx
from .selectors import parse_fields, parse_labels
from .storage import Event, Obj, Watcher

DEFAULT_TIMEOUT = 1800.0


def _line(kind: str, obj: Obj) -> bytes:
    return json.dumps({"type": kind, "object": obj}, separators=(",", ":")).encode() + b"\n"


def _translate(event: Event, match: Callable[[Obj], bool]) -> str | None:
    """Watch type as seen through a selector: objects entering/leaving it are ADDED/DELETED."""
    now_in = match(event.obj)
    if event.type == "ADDED":
        return "ADDED" if now_in else None
    if event.type == "DELETED":
        return "DELETED" if (event.prev is not None and match(event.prev)) or now_in else None
    was_in = event.prev is not None and match(event.prev)
    if now_in and was_in:
        return "MODIFIED"
    if now_in:
        return "ADDED"
    return "DELETED" if was_in else None


async def serve_watch(
    request: web.Request,
    api: Api,
    rt: ResourceType,
    namespace: str | None,
    ctx: Ctx,
    bookmark_interval: float,
) -> web.StreamResponse:
    q = ctx.query
    labels = parse_labels(q.get("labelSelector"))
    fields = parse_fields(q.get("fieldSelector"), rt)

    def match(obj: Obj) -> bool:
        return labels(obj["metadata"].get("labels") or {}) and fields(obj)

    store = api.store
    ns = namespace if rt.namespaced else None
    as_table = tables.wants_table(request.headers.get("Accept", ""))
    include = q.get("includeObject", "Metadata")

    def render(obj: Obj) -> Obj:
        if as_table:
            return tables.table(rt, [obj], obj["metadata"]["resourceVersion"], include)
        return api.out(rt, obj)

    timeout = float(q.get("timeoutSeconds") or DEFAULT_TIMEOUT)
    deadline = time.monotonic() + timeout
    bookmarks = q.get("allowWatchBookmarks") in ("true", "1")
    rv_param = q.get("resourceVersion") or ""
    initial_events = q.get("sendInitialEvents") == "true"

    if rv_param not in ("", "0") and not initial_events and not rv_param.isdigit():
        raise errors.bad_request(
            f'invalid resource version: strconv.ParseUint: parsing "{rv_param}": invalid syntax'
        )
    # No awaits between snapshot and subscribe: nothing can slip between them.
    watcher = store.subscribe(rt.key, ns)
    first: list[bytes] = []
    last_rv = store.current_rv()
    expired: str | None = None
    after = 0  # events up to this resourceVersion are not sent
    if rv_param in ("", "0") or initial_events:
        first = [_line("ADDED", render(o)) for o in store.list_objs(rt.key, ns) if match(o)]
    else:
        since = after = int(rv_param)
        if since < store.oldest_rv():
            expired = f"too old resource version: {rv_param} ({store.oldest_rv()})"
        else:
            for event in store.since(since):
                if watcher.wants(event) and (kind := _translate(event, match)):
                    first.append(_line(kind, render(event.obj)))
    resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    resp.enable_chunked_encoding()
    try:
        await resp.prepare(request)
        if expired is not None:
            status = {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure",
                "message": expired,
                "reason": "Expired",
                "code": 410,
            }
            await resp.write(_line("ERROR", status))
            return resp
        for line in first:
            await resp.write(line)
        if initial_events and bookmarks:
            await resp.write(_bookmark(rt, last_rv, initial_end=True))
        await _stream(
            resp, api, rt, watcher, match, deadline, bookmarks, bookmark_interval, render, after
        )
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        store.unsubscribe(watcher)
    return resp


async def wait_until_fresh(api: Api, rv: int, wait: float = 3.0) -> None:
    """A LIST at a resourceVersion from the future: wait briefly, then 504 as the watch cache
    does. (A WATCH from the future answers 200 and waits for that resourceVersion instead.)"""
    deadline = time.monotonic() + wait
    while api.store.current_rv() < rv:
        if time.monotonic() > deadline:
            current = api.store.current_rv()
            raise ApiError(
                504,
                "Timeout",
                f"Timeout: Too large resource version: {rv}, current: {current}",
                {
                    "causes": [
                        {
                            "reason": "ResourceVersionTooLarge",
                            "message": "Too large resource version",
                        }
                    ],
                    "retryAfterSeconds": 1,
                },
            )
        await asyncio.sleep(0.05)


def _bookmark(rt: ResourceType, rv: int, initial_end: bool = False) -> bytes:
    m: Obj = {"resourceVersion": str(rv)}
    if initial_end:
        m["annotations"] = {"k8s.io/initial-events-end": "true"}
    return _line("BOOKMARK", {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": m})


async def _stream(
    resp: web.StreamResponse,
    api: Api,
    rt: ResourceType,
    watcher: Watcher,
    match: Callable[[Obj], bool],
    deadline: float,
    bookmarks: bool,
    interval: float,
    render: Callable[[Obj], Obj],
    after: int = 0,
) -> None:
    next_bookmark = time.monotonic() + interval
    final_bookmark_sent = False
    while True:
        now = time.monotonic()
        remaining = deadline - now
        if remaining <= 0:
            return
        wake = remaining
        if bookmarks:
            # Like the watch cache: periodic bookmarks, and one shortly before the deadline.
            before_end = remaining - min(1.0, remaining / 2)
            if not final_bookmark_sent:
                wake = min(wake, max(before_end, 0.0))
            wake = min(wake, max(next_bookmark - now, 0.0))
        try:
            event = await asyncio.wait_for(watcher.queue.get(), timeout=wake)
        except TimeoutError:
            if bookmarks and time.monotonic() < deadline:
                await resp.write(_bookmark(rt, api.store.current_rv()))
                next_bookmark = time.monotonic() + interval
                if deadline - time.monotonic() <= 1.0:
                    final_bookmark_sent = True
            continue
        if event is None or watcher.overflowed:
            return
        kind = _translate(event, match) if event.rv > after else None
        if kind is not None:
            await resp.write(_line(kind, render(event.obj)))
