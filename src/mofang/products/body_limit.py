"""The cap on a request's body, for every product server and the portal: a pure ASGI middleware.

A body over the cap is answered 413 with a JSON body naming the limit and the environment variable that raises
it, before the app parses it: a declared `Content-Length` over the cap is refused without reading a byte, and a
body sent without one (chunked) is counted as it streams in and refused at the first byte over. The server
(uvicorn) reads and drops the rest of that body after the answer, so the client gets the 413 on a connection
that stays usable, never a reset.
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from mofang.core.errors import MofangError

MAX_BODY_ENV = "MOFANG_MAX_BODY_BYTES"  # overrides the cap of every product server and of the portal
DEFAULT_MAX_BODY_BYTES = 32 << 20  # 32 MiB: 10,000 rows (MAX_ROWS) of a few kB each; a kind may declare more

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]


def max_body_bytes(declared: int | None = None) -> int:
    """The cap in force: `MOFANG_MAX_BODY_BYTES` when set (a positive whole number, else MofangError), else
    `declared` (a product kind that takes files declares its own), else DEFAULT_MAX_BODY_BYTES."""
    raw = os.environ.get(MAX_BODY_ENV, "").strip()
    if not raw:
        return declared or DEFAULT_MAX_BODY_BYTES
    try:
        value = int(raw)
    except ValueError:
        raise MofangError(f"{MAX_BODY_ENV} must be a positive whole number of bytes; it is {raw!r}") from None
    if value <= 0:
        raise MofangError(f"{MAX_BODY_ENV} must be a positive whole number of bytes; it is {value}")
    return value


class BodyTooLarge(Exception):
    """Raised into the app from `receive` at the first byte over the cap (an app that catches it answers
    something of its own; BodyLimit replaces that answer by its 413)."""

    status_code = 413


class BodyLimit:
    """ASGI middleware: answer 413 (JSON) to an HTTP request whose body is over `max_bytes` (default:
    `max_body_bytes()`); requests to the paths in `exempt` pass unchecked (a route with a limit of its own,
    such as the portal's streamed uploads)."""

    def __init__(self, app: ASGIApp, max_bytes: int | None = None, exempt: Iterable[str] = ()) -> None:
        self.app = app
        self.max_bytes = max_body_bytes() if max_bytes is None else max_bytes
        self.exempt = frozenset(exempt)

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in self.exempt:
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(send, declared)
            return
        received, over, started = 0, False, False

        async def counted() -> Message:
            nonlocal received, over
            if not over:
                message = await receive()
                if message["type"] != "http.request":
                    return message
                received += len(message.get("body", b""))
                over = received > self.max_bytes
                if not over:
                    return message
            raise BodyTooLarge(f"the request body is over {self.max_bytes:,} bytes")

        async def watched(message: Message) -> None:
            nonlocal started
            if over and not started:
                return  # the app's own answer to BodyTooLarge: the 413 below replaces it
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except Exception:  # BodyTooLarge, or whatever the app made of it
            if not over or started:
                raise
        if over and not started:
            await self._refuse(send, None)

    async def _refuse(self, send: Send, declared: int | None) -> None:
        size = f"of {declared:,} bytes " if declared is not None else ""
        body = json.dumps({
            "detail": f"the request body {size}is over the limit of {self.max_bytes:,} bytes "
                      f"({MAX_BODY_ENV} raises it)",
            "limit_bytes": self.max_bytes, "env": MAX_BODY_ENV}).encode("utf-8")
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def _content_length(scope: MutableMapping[str, Any]) -> int | None:
    """The request's declared body size (None when it sends none or one that is not a number)."""
    for name, value in scope.get("headers") or ():
        if name.lower() == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None
