"""Helpers of the browser tests: servers started as their own process group, and full-page screenshots."""

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import IO, Dict, List, Optional

import pytest
from playwright.sync_api import Page

from tests.utils import REPO, Workspace

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
# Chromium on a machine without network: no first-run, sync, component or QUIC traffic that would hang it
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
# the README's screenshots are refreshed only on request, so a test run leaves the working tree clean
SCREENSHOTS = REPO / "docs" / "screenshots" if os.environ.get("UPDATE_SCREENSHOTS") else REPO / "tests" / "app" / "out"
VIEWPORT = {"width": 1400, "height": 1000}
START_TIMEOUT_SECONDS = 90.0
STOP_TIMEOUT_SECONDS = 10.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """A process started for a test in its own session, so it and its children stop together.

    Its output goes to a reader thread: `wait_for_line` returns the first line matching a pattern.
    """

    def __init__(self, args: List[str], cwd: Path, env: Dict[str, str], log: Path) -> None:
        self.log = log
        self.lines: "queue.Queue[Optional[str]]" = queue.Queue()
        self.proc = subprocess.Popen(
            args, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True)
        self._reader.start()

    def _read(self, stream: IO[str]) -> None:
        with self.log.open("w") as copy:
            for line in stream:
                copy.write(line)
                copy.flush()
                self.lines.put(line)
        self.lines.put(None)

    def output(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def wait_for_line(self, pattern: str, timeout: float = START_TIMEOUT_SECONDS) -> "re.Match[str]":
        """The first output line matching `pattern`; fails with the output when the process ends or time runs out."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pytest.fail(f"no line matching {pattern!r} within {timeout:.0f} s; output:\n{self.output()}")
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                pytest.fail(f"the process ended ({self.proc.wait()}) before printing {pattern!r}:\n{self.output()}")
            match = re.search(pattern, line)
            if match:
                return match

    def wait_until_healthy(self, url: str, timeout: float = START_TIMEOUT_SECONDS) -> None:
        """Polls `url` until it answers 200, failing early when the process has ended."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"the server ended ({self.proc.returncode}) before answering {url}:\n{self.output()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)  # the poll interval, not a synchronisation
        pytest.fail(f"{url} did not answer within {timeout:.0f} s; output:\n{self.output()}")

    def stop(self) -> None:
        """SIGTERM to the process group this server leads, then SIGKILL if it lingers."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._reader.join(timeout=STOP_TIMEOUT_SECONDS)


class DemoData:
    """The demo load of a workspace, and the secrets the emulator's job logs print."""

    def __init__(self, ws: Workspace, planted_secrets: List[str]) -> None:
        self.ws = ws
        self.planted_secrets = planted_secrets


# Folders of this machine a page may show (the erase command names the venv's Python and the CLI), and what the
# pictures show instead: the command as it reads in the repository, where the README runs the dashboard
_VENV = Path(sys.executable).parent.parent
MACHINE_PATHS = {f"{path}/": stand_in for paths, stand_in in (((_VENV, _VENV.resolve(), Path(sys.prefix)), ".venv/"),
                                                             ((REPO, REPO.resolve()), "")) for path in paths}
_REPLACE_TEXT = """stand_ins => {
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const ordered = Object.entries(stand_ins).sort(([a], [b]) => b.length - a.length);
    for (let node = walker.nextNode(); node; node = walker.nextNode())
        for (const [path, stand_in] of ordered) node.nodeValue = node.nodeValue.split(path).join(stand_in);
}"""


def hide_machine_paths(page: Page) -> None:
    """Replaces this machine's repository and venv folders in the page's text by what a user's checkout shows, and
    fails if a path of the machine (or its temporary folder) is still in the text: a picture must not show them."""
    page.evaluate(_REPLACE_TEXT, MACHINE_PATHS)
    text = page.inner_text("body")
    left = [path for path in (*MACHINE_PATHS, f"{tempfile.gettempdir()}/") if path in text]
    assert not left, f"the page shows this machine's folders {left}"


def save_screenshot(page: Page, name: str, scroller: Optional[str] = None) -> Path:
    """A PNG of the whole page, as wide as the window, in SCREENSHOTS, without this machine's folders; `scroller`
    is the element whose content overflows the window (the window grows to its height for the picture, then
    shrinks back)."""
    hide_machine_paths(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    window = page.viewport_size or VIEWPORT
    if scroller:
        height = page.evaluate(f"() => document.querySelector('{scroller}').scrollHeight")
        page.set_viewport_size({"width": window["width"], "height": max(window["height"], int(height))})
        # the resize makes tables and charts lay out again: wait for two frames, then for the tables' grids
        page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
        page.wait_for_function(
            "() => [...document.querySelectorAll('[data-testid=stDataFrame] canvas')]"
            ".every(grid => grid.getBoundingClientRect().width > 100)"
        )
    page.screenshot(path=str(path))
    page.set_viewport_size(window)
    return path
