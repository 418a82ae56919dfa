"""Runs the emulator in the foreground: `python -m gitlab_emulator --port 0 --latency-ms 50 --jobs 20000`.

With `--request-log PATH` it appends one line per request it answered, `METHOD ROUTE STATUS` (e.g.
`GET /projects/:id/jobs/:job_id/trace 200`), every half second: how the benchmark counts requests per route.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from gitlab_emulator.emulator import GitLabEmulator
from gitlab_emulator.handlers import route_of
from gitlab_emulator.seed import seed_tiny_world, seed_world


def _rate_limit(text: str) -> tuple[int, float]:
    """Parses "N/SECONDS" (e.g. "600/60") into (max_requests, window_seconds)."""
    try:
        count, window = text.split("/", 1)
        return int(count), float(window)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--rate-limit takes N/SECONDS such as 600/60, got {text!r}") from None


def _route_limit(text: str) -> tuple[str, int, float]:
    """Parses "REGEX=N/SECONDS" (e.g. "/members$=200/60") into (path_regex, max_requests, window_seconds)."""
    pattern, _, limit = text.rpartition("=")
    if not pattern:
        raise argparse.ArgumentTypeError(
            f"--route-limit takes REGEX=N/SECONDS such as '/members$=200/60', got {text!r}"
        )
    return (pattern, *_rate_limit(limit))


def build_parser() -> argparse.ArgumentParser:
    """The command line of the standalone emulator."""
    parser = argparse.ArgumentParser(prog="python -m gitlab_emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one (default)")
    parser.add_argument("--seed", type=int, default=7, help="world seed (default 7)")
    parser.add_argument("--jobs", type=int, default=None, help="add an acme/perf subgroup with about N finished jobs")
    parser.add_argument("--tiny", action="store_true", help="serve the tiny world (one project, acme/app) instead")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="latency added to every response")
    parser.add_argument("--max-concurrency", type=int, default=None, help="requests served at once; others queue")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="probability of a 5xx or dropped connection")
    parser.add_argument("--fault-path-pattern", default=None, help="regex; faults only hit matching paths")
    parser.add_argument("--rate-limit", type=_rate_limit, default=None, help="fixed window N/SECONDS, e.g. 600/60")
    parser.add_argument("--request-log", type=Path, default=None,
                        help="append `METHOD ROUTE STATUS` per request to this file, every half second")
    parser.add_argument("--route-limit", type=_route_limit, action="append", default=None, metavar="REGEX=N/SECONDS",
                        help="per-endpoint limit whose 429 has no RateLimit-* headers (repeatable)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Starts the emulator, prints `GITLAB_EMULATOR_URL=...` and serves until SIGTERM or SIGINT.

    Args:
        argv (list[str], optional): Arguments without the program name. Defaults to sys.argv[1:].
    Returns:
        int: The exit code.
    """
    args = build_parser().parse_args(argv)
    stopping = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    world = seed_tiny_world(seed=args.seed) if args.tiny else seed_world(seed=args.seed, jobs=args.jobs)
    emulator = GitLabEmulator(
        world=world, latency_seconds=args.latency_ms / 1000.0,
        max_concurrency=args.max_concurrency, fault_rate=args.fault_rate,
        fault_path_pattern=args.fault_path_pattern, rate_limit=args.rate_limit, route_limits=args.route_limit,
        host=args.host, port=args.port,
    )
    url = emulator.start()
    sys.stdout.write(f"GITLAB_EMULATOR_URL={url}\n")
    sys.stdout.flush()
    logged = 0
    try:
        while not stopping.wait(0.5):
            if args.request_log is not None:
                logged = _append_requests(emulator, args.request_log, logged)
    finally:
        emulator.stop()
        if args.request_log is not None:
            _append_requests(emulator, args.request_log, logged)
    return 0


def _append_requests(emulator: GitLabEmulator, path: Path, logged: int) -> int:
    """Appends the requests answered since the first `logged` ones; returns how many are logged now."""
    fresh = emulator.requests[logged:]
    if fresh:
        with path.open("a", encoding="utf-8") as log:
            log.writelines(f"{route_of(r.method, r.path)} {r.status}\n" for r in fresh)
    return logged + len(fresh)


if __name__ == "__main__":
    sys.exit(main())
