"""The aiohttp application: request log, concurrency, latency, rate limit, faults, auth, routing; and its thread."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from gitlab_emulator.auth import authenticate, find_credential
from gitlab_emulator.faults import FAULT_BODIES, ROUTE_LIMITED_BODY, FaultInjector, Outage, RateLimiter, RouteLimiter
from gitlab_emulator.handlers import resolve
from gitlab_emulator.handlers.common import Ctx, Reply
from gitlab_emulator.model import World
from gitlab_emulator.pagination import PageRequest
from gitlab_emulator.params import ApiError, Params

try:  # orjson ships with dlt; fall back to the standard library elsewhere
    import orjson

    def _dumps(value: Any) -> bytes:
        return orjson.dumps(value)
except ImportError:  # pragma: no cover
    def _dumps(value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()

logger = logging.getLogger(__name__)

_BASE_HEADERS = {
    "Cache-Control": "max-age=0, private, must-revalidate", "Vary": "Origin", "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN", "X-Gitlab-Meta": '{"correlation_id":"emulator","version":"1"}',
}


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request the emulator received: status 0 means the connection was dropped without a response."""

    method: str
    path: str
    query: dict[str, str]
    status: int
    token_kind: str | None


@dataclass
class Gathering:
    """Holds arriving requests until `size` are in flight at once, then lets them all go together, once.

    A client that keeps `size` requests in flight gets through at once however slow the machine is; one
    that keeps fewer is let go after `timeout_seconds`, and the emulator's peak counters show it.
    """

    size: int
    timeout_seconds: float
    done: bool = False
    _complete: asyncio.Event | None = None

    async def join(self, in_flight: int) -> None:
        """Waits (inside the server's loop) until the gathering is complete or has timed out."""
        if self.done:
            return
        if self._complete is None:
            self._complete = asyncio.Event()
        if in_flight < self.size:
            try:
                async with asyncio.timeout(self.timeout_seconds):
                    await self._complete.wait()
                return
            except TimeoutError:
                pass
        self.done = True
        self._complete.set()
        await asyncio.sleep(0)  # go on in the same loop turn as the requests just woken: no latency timer runs between


@dataclass
class ServerState:
    """Everything the request pipeline reads and writes; shared with the emulator facade.

    Args:
        world (World): The data.
        lock (threading.RLock): Guards the world against the test thread.
        latency_seconds (float): Added to every response.
        max_concurrency (int, optional): Requests handled at once; the rest wait.
        limiter (RateLimiter, optional): The rate limit.
        route_limiter (RouteLimiter, optional): Per-endpoint limits, answered without RateLimit-* headers.
        faults (FaultInjector, optional): Fault injection.
        outage (Outage, optional): Scripted failures, set and cleared by the facade.
        gathering (Gathering, optional): Holds arriving requests until enough are in flight.
    """

    world: World
    lock: threading.RLock
    latency_seconds: float = 0.0
    max_concurrency: int | None = None
    limiter: RateLimiter | None = None
    route_limiter: RouteLimiter | None = None
    faults: FaultInjector | None = None
    outage: Outage | None = None
    gathering: Gathering | None = None
    requests: list[RequestRecord] = field(default_factory=list)
    erased: set[int] = field(default_factory=set)
    in_flight: int = 0
    peak_in_flight: int = 0
    serving: int = 0
    peak_serving: int = 0
    _semaphore: asyncio.Semaphore | None = None

    def semaphore(self) -> asyncio.Semaphore | None:
        """The worker-pool semaphore, created lazily inside the server's loop."""
        if self.max_concurrency and self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.max_concurrency)
        return self._semaphore


_STATE = web.AppKey("state", ServerState)


def build_app(state: ServerState) -> web.Application:
    """Builds the aiohttp application serving every path through one pipeline."""
    app = web.Application(client_max_size=1024 * 1024)
    app[_STATE] = state
    app.router.add_route("*", "/{tail:.*}", _handle)
    return app


async def _handle(request: web.Request) -> web.StreamResponse:
    """Counts the request in flight (before any queueing), then serves it within the concurrency limit."""
    state = request.app[_STATE]
    state.in_flight += 1
    state.peak_in_flight = max(state.peak_in_flight, state.in_flight)
    try:
        if state.gathering is not None:
            await state.gathering.join(state.in_flight)
        semaphore = state.semaphore()
        if semaphore is None:
            return await _serve_counted(state, request)
        async with semaphore:
            return await _serve_counted(state, request)
    finally:
        state.in_flight -= 1


async def _serve_counted(state: ServerState, request: web.Request) -> web.StreamResponse:
    """Serves the request, counting it among those being served (past the concurrency limit)."""
    state.serving += 1
    state.peak_serving = max(state.peak_serving, state.serving)
    try:
        return await _serve(state, request)
    finally:
        state.serving -= 1


def _flat_query(query: MultiDictProxy[str]) -> dict[str, str]:
    """The query as a plain dict; repeated keys are joined with commas."""
    flat: dict[str, str] = {}
    for key, value in query.items():
        flat[key] = f"{flat[key]},{value}" if key in flat else value
    return flat


async def _serve(state: ServerState, request: web.Request) -> web.StreamResponse:
    """Latency, then rate limits, then outage and faults, then auth and the handler; every outcome is recorded."""
    if state.latency_seconds:
        await asyncio.sleep(state.latency_seconds)
    path = request.raw_path.split("?", 1)[0]
    query = request.query
    token, token_kind, channel = find_credential(request.headers, query)

    def record(status: int) -> None:
        state.requests.append(RequestRecord(request.method, path, _flat_query(query), status, token_kind))

    extra: dict[str, str] = {}
    if state.limiter is not None:
        decision = state.limiter.hit()
        extra = decision.headers
        if decision.limited:
            record(429)
            return web.Response(status=429, text="Retry later\n", headers={**_BASE_HEADERS, **extra})
    if state.route_limiter is not None and state.route_limiter.limited(path):
        record(429)
        return web.Response(status=429, text=ROUTE_LIMITED_BODY, content_type="application/json",
                            headers=_BASE_HEADERS)
    outage = state.outage
    if outage is not None and outage.strikes(path):
        status, body, content_type, headers = outage.answer()
        record(status)
        return web.Response(status=status, text=body, content_type=content_type,
                            headers={**_BASE_HEADERS, **extra, **headers})
    fault = state.faults.draw(path) if state.faults is not None else None
    if fault == "drop":
        record(0)
        if request.transport is not None:
            request.transport.close()
        raise asyncio.CancelledError("connection dropped by fault injection")
    if fault is not None:
        record(int(fault))
        body, content_type = FAULT_BODIES[fault]
        return web.Response(status=int(fault), text=body, content_type=content_type,
                            headers={**_BASE_HEADERS, **extra})
    response = _dispatch(state, request, path, token, channel)
    for key, value in extra.items():
        response.headers[key] = value
    record(response.status)
    return response


def _json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON response with GitLab's usual headers."""
    return web.Response(status=status, body=_dumps(body), content_type="application/json",
                        headers={**_BASE_HEADERS, **(headers or {})})


def _dispatch(state: ServerState, request: web.Request, path: str, token: str | None,
              channel: str | None) -> web.Response:
    """Routes, authenticates and runs the handler under the world lock; renders text after releasing it."""
    found = resolve(request.method, path)
    if found == "not_found":
        return _json_response(404, {"error": "404 Not Found"})
    if found == "method_not_allowed":
        return _json_response(405, {"error": "405 Not Allowed"})
    assert not isinstance(found, str)
    principal = authenticate(token, channel)
    if principal is None:
        return _json_response(401, {"message": "401 Unauthorized"})
    handler, match = found
    page = PageRequest(f"{request.scheme}://{request.host}", path, tuple(request.query.items()))
    try:
        with state.lock:
            ctx = Ctx(state.world, principal, Params(request.query), match, page, state.erased)
            reply: Reply = handler(ctx)
    except ApiError as error:
        return _json_response(error.status, error.body)
    except Exception:
        logger.exception("emulator handler failed on %s %s", request.method, path)
        return _json_response(500, {"message": "500 Internal Server Error"})
    if reply.text_factory is not None or reply.text is not None:
        text = reply.text if reply.text is not None else reply.text_factory()  # type: ignore[misc]
        headers = {**_BASE_HEADERS, **reply.headers}
        return web.Response(status=reply.status, body=text.encode("utf-8"), headers=headers)
    return _json_response(reply.status, reply.json, reply.headers)


class ServerThread:
    """Runs an aiohttp application on its own event loop in a daemon thread.

    Args:
        app (web.Application): The application.
        host (str): Interface to bind.
        port (int): Port to bind; 0 picks a free one (read it back from `port`).
    """

    def __init__(self, app: web.Application, host: str, port: int) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def start(self) -> int:
        """Starts the loop thread and returns the bound port once the socket listens."""
        self._thread = threading.Thread(target=self._run, name="gitlab-emulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout=30):
            raise RuntimeError("the GitLab emulator did not start within 30 s")
        if self._error is not None:
            raise RuntimeError(f"the GitLab emulator could not bind {self.host}:{self.port}: {self._error}")
        return self.port

    def _run(self) -> None:
        """Thread body: bind, signal readiness, serve until stopped, clean up."""
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        try:
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, self.host, self.port, backlog=1024, reuse_address=True)
            loop.run_until_complete(site.start())
            self.port = runner.addresses[0][1]
        except BaseException as error:  # reported to the starting thread
            self._error = error
            self._ready.set()
            loop.run_until_complete(runner.cleanup())
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(runner.cleanup())
            loop.close()

    def stop(self) -> None:
        """Stops serving, closes connections and joins the thread."""
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)
        self._thread = None
        self._loop = None
