"""`GitLabEmulator`: the public facade that serves a world over HTTP and answers questions about it."""

from __future__ import annotations

import re
import threading
from contextlib import contextmanager
from datetime import datetime
from types import TracebackType
from typing import Any, Iterator

from gitlab_emulator import drift, timetravel, truth
from gitlab_emulator.auth import user_id_of
from gitlab_emulator.clock import ManualClock
from gitlab_emulator.faults import FaultInjector, Outage, RateLimiter, RouteLimiter
from gitlab_emulator.leaks import PlantedSecret
from gitlab_emulator.model import World
from gitlab_emulator.seed import seed_world
from gitlab_emulator.server import Gathering, RequestRecord, ServerState, ServerThread, build_app
from gitlab_emulator.traces import render_trace, trace_context


class GitLabEmulator:
    """A GitLab REST v4 emulator on 127.0.0.1, served from a background thread with its own event loop.

    Args:
        world (World, optional): The data to serve. Defaults to `seed_world()`.
        latency_seconds (float): Added to every response (asyncio.sleep). Defaults to 0.
        max_concurrency (int, optional): Requests handled at once; more are queued, like puma workers.
        fault_rate (float): Probability a request gets a 500/502/503 or a dropped connection. Defaults to 0.
        fault_path_pattern (str, optional): Regex searched in the path; faults only hit matching paths.
        rate_limit (tuple[int, float], optional): (max_requests, window_seconds) fixed window; beyond it 429.
        rate_limit_clock (ManualClock, optional): Moves the rate limit's window instead of the real clock.
        route_limits (list[tuple[str, int, float]], optional): (path_regex, max_requests, window_seconds) per
            endpoint, like GitLab's application rate limits: beyond one, 429 without RateLimit-* or Retry-After.
        host (str): Interface to bind. Defaults to "127.0.0.1".
        port (int): Port to bind; 0 (default) picks a free one.
    """

    def __init__(
        self, world: World | None = None, latency_seconds: float = 0.0, max_concurrency: int | None = None,
        fault_rate: float = 0.0, fault_path_pattern: str | None = None,
        rate_limit: tuple[int, float] | None = None, rate_limit_clock: ManualClock | None = None,
        route_limits: list[tuple[str, int, float]] | None = None,
        host: str = "127.0.0.1", port: int = 0,
    ) -> None:
        self.world = world if world is not None else seed_world()
        self._lock = threading.RLock()
        self._state = ServerState(
            world=self.world, lock=self._lock, latency_seconds=latency_seconds, max_concurrency=max_concurrency,
            limiter=_rate_limiter(rate_limit, rate_limit_clock) if rate_limit else None,
            route_limiter=RouteLimiter(route_limits) if route_limits else None,
            faults=FaultInjector(fault_rate, fault_path_pattern, self.world.seed) if fault_rate else None,
        )
        self._host = host
        self._port = port
        self._server: ServerThread | None = None
        self._planted_cache: tuple[int, list[PlantedSecret]] | None = None
        self.base_url: str | None = None

    # ----- life cycle -----

    def start(self) -> str:
        """Starts serving and returns the base URL ("http://127.0.0.1:PORT", without /api/v4)."""
        if self._server is None:
            server = ServerThread(build_app(self._state), self._host, self._port)
            port = server.start()
            self._server = server
            self.base_url = f"http://{self._host}:{port}"
        assert self.base_url is not None
        return self.base_url

    def stop(self) -> None:
        """Stops serving and joins the server thread (idempotent)."""
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> GitLabEmulator:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    def set_faults(self, fault_rate: float, fault_path_pattern: str | None = None) -> None:
        """Changes fault injection while serving (0 turns it off), e.g. to end a storm between two runs."""
        self._state.faults = FaultInjector(fault_rate, fault_path_pattern, self.world.seed) if fault_rate else None

    # ----- world changes -----

    def advance(self, hours: float = 24) -> None:
        """Moves the clock forward and makes deterministic changes inside the new interval (see timetravel)."""
        with self._lock:
            timetravel.advance(self.world, hours)

    def apply_schema_drift(self) -> None:
        """Adds `imported_from` and `runner_manager`, turns issue `weight` into a string, bumps a few rows."""
        with self._lock:
            drift.apply_schema_drift(self.world)

    def revoke_project_access(self, token_name: str, project_path: str) -> None:
        """Removes the user of `TOKENS[token_name]` from a private project: its tokens then get 404 there.

        Truth stays the maintainer's view, so revoke from other tokens (e.g. "reporter") to keep it.
        """
        with self._lock:
            self.world.project_by_path[project_path.lower()].hidden_from_user_ids.add(user_id_of(token_name))
            self.world.touch()

    def delete_pipeline(self, pipeline_id: int) -> None:
        """Deletes a pipeline with its jobs, as a user can in GitLab; their URLs then answer 404."""
        with self._lock:
            self.world.remove_pipeline(self.world.pipelines[pipeline_id])
            self.world.touch()

    # ----- scripted misbehaviour -----

    @contextmanager
    def outage(self, path_regex: str, after: int = 0, count: int | None = None, status: int = 500,
               retry_after_seconds: int = 1) -> Iterator[Outage]:
        """Inside the block, after `after` requests matching `path_regex`, the next `count` (None = all) fail.

        Counted in requests, not time (see faults.Outage); the yielded Outage counts what it matched and failed.
        """
        outage = Outage(path_regex, after, count, status, retry_after_seconds)
        self._state.outage = outage
        try:
            yield outage
        finally:
            self._state.outage = None

    def hold_until_in_flight(self, count: int, timeout_seconds: float = 10.0) -> None:
        """Holds the next requests until `count` are in flight at once, then serves them together (once).

        Proves with counters, on any machine, that a client keeps `count` requests in flight: if it does,
        `peak_in_flight` reaches `count` at once; if not, the requests go on after `timeout_seconds`.
        """
        self._state.gathering = Gathering(count, timeout_seconds)

    # ----- truth -----

    def truth(self, table: str, groups: tuple[str, ...] = ("acme",), include_subgroups: bool = True,
              include_archived: bool = False, projects: tuple[str | int, ...] = ()) -> set[tuple[Any, ...]]:
        """The primary-key tuples a correct load of `table` contains (see truth.TABLE_KEYS and truth.Scope)."""
        scope = truth.Scope(tuple(groups), include_subgroups, include_archived, tuple(str(p) for p in projects))
        with self._lock:
            return truth.truth_keys(self.world, table, scope)

    def truth_rows(self, table: str, groups: tuple[str, ...] = ("acme",), include_subgroups: bool = True,
                   include_archived: bool = False, projects: tuple[str | int, ...] = ()) -> list[dict[str, Any]]:
        """The JSON objects a correct load of `table` contains, as the API serves them now."""
        scope = truth.Scope(tuple(groups), include_subgroups, include_archived, tuple(str(p) for p in projects))
        with self._lock:
            return truth.truth_rows(self.world, table, scope)

    def changed_since(self, table: str, since: datetime, groups: tuple[str, ...] = ("acme",),
                      include_subgroups: bool = True, include_archived: bool = False,
                      projects: tuple[str | int, ...] = ()) -> set[Any]:
        """Ids of rows in scope updated at or after `since` ((project_id, iid) for issues and merge requests)."""
        scope = truth.Scope(tuple(groups), include_subgroups, include_archived, tuple(str(p) for p in projects))
        with self._lock:
            return truth.changed_since(self.world, table, since, scope)

    # ----- observations -----

    @property
    def now(self) -> datetime:
        """The emulator's clock (aware UTC)."""
        with self._lock:
            return self.world.now

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request received so far, in arrival order (a copy)."""
        return list(self._state.requests)

    def request_count(self, path_regex: str, method: str | None = "GET") -> int:
        """Counts requests whose path (no query, "/api/v4/...") matches `path_regex` (re.search; anchor it
        with ^...$ for a full match), for one method or any method when None."""
        pattern = re.compile(path_regex)
        return sum(1 for r in self.requests if (method is None or r.method == method) and pattern.search(r.path))

    @property
    def peak_in_flight(self) -> int:
        """The most requests handled at once, counted on arrival (before max_concurrency queueing)."""
        return self._state.peak_in_flight

    @property
    def peak_serving(self) -> int:
        """The most requests served at once, past the max_concurrency queue."""
        return self._state.peak_serving

    def reset_counters(self) -> None:
        """Clears the request log and the in-flight and serving peaks."""
        self._state.requests.clear()
        self._state.peak_in_flight = self._state.in_flight
        self._state.peak_serving = self._state.serving

    @property
    def erased_job_ids(self) -> set[int]:
        """Ids of jobs erased through `POST .../erase`."""
        with self._lock:
            return set(self._state.erased)

    @property
    def planted_secrets(self) -> list[PlantedSecret]:
        """Secrets the job traces print now (erased traces print none), with 1-based line numbers."""
        with self._lock:
            version = self.world.version
            if self._planted_cache is not None and self._planted_cache[0] == version:
                return list(self._planted_cache[1])
            contexts = [(job, trace_context(self.world, job)) for job in self.world.jobs.values()
                        if job.leaks and job.erased_at is None]
            found: list[PlantedSecret] = []
            for job, ctx in contexts:
                for kind, value, line in render_trace(ctx).planted:
                    found.append(PlantedSecret(job.id, job.project_id, job.pipeline_id, kind, value, line))
            self._planted_cache = (version, found)
            return list(found)

    def trace_text(self, job_id: int) -> str:
        """The trace of a job exactly as `GET .../jobs/:job_id/trace` serves it now (for tests)."""
        with self._lock:
            ctx = trace_context(self.world, self.world.jobs[job_id])
        return render_trace(ctx).text


def _rate_limiter(rate_limit: tuple[int, float], clock: ManualClock | None) -> RateLimiter:
    """The fixed-window limiter, on the real clock or on a test's manual one."""
    if clock is None:
        return RateLimiter(*rate_limit)
    return RateLimiter(*rate_limit, monotonic=clock.monotonic, wall=clock.time)
