"""A throwaway PostgreSQL server that tests start and remove themselves.

`PostgresServer` runs the real server binaries (``initdb``, ``pg_ctl``, ``postgres``) on a fresh
cluster in a temporary directory: password auth only (scram-sha-256, over TCP on 127.0.0.1 and
over a Unix socket inside that directory), a free port, durability switched off for speed. Stopping
it shuts the server down and deletes the directory, so nothing outlives the test session.

Binaries are looked up on PATH, then in Debian's ``/usr/lib/postgresql/<version>/bin``, newest
first. When none are found it raises `PostgresNotInstalledError`, which names
``.ci/install-postgres.sh``: tests that need PostgreSQL fail rather than skip. PostgreSQL refuses
to run as root, so when the tests run as root (as CI does) the cluster belongs to a system user
``pgtest``, created on first use, and the server commands run through ``runuser``.

Example::

    with PostgresServer() as server:
        server.create_role("loader", "secret")
        server.create_database("gitlab", owner="loader")
        dsn = server.dsn("gitlab", user="loader", password="secret")
"""

from __future__ import annotations

import glob
import logging
import os
import pwd
import re
import secrets
import shlex
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from types import TracebackType
from typing import Any, Dict, List, Optional, Sequence, Tuple, Type
from urllib.parse import quote

import psycopg2
from psycopg2 import sql

logger = logging.getLogger(__name__)

INSTALL_SCRIPT = ".ci/install-postgres.sh"
DEBIAN_BIN_GLOB = "/usr/lib/postgresql/*/bin"
SERVER_BINARIES = ("initdb", "pg_ctl", "postgres")
HOST = "127.0.0.1"
SUPERUSER = "postgres"
SYSTEM_USER = "pgtest"  # owns the cluster when the tests run as root
START_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 30
START_ATTEMPTS = 3  # a free port can be taken by someone else before the server binds it
LOG_TAIL_CHARS = 2000

# Appended to postgresql.conf: throwaway data, so durability is traded for speed.
SERVER_SETTINGS = {
    "listen_addresses": HOST,
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "50",
    "shared_buffers": "32MB",
    "max_wal_size": "1GB",
    "checkpoint_timeout": "1h",
    "log_min_messages": "warning",
    "log_connections": "off",
}


class PostgresNotInstalledError(RuntimeError):
    """The PostgreSQL server binaries are not installed where `find_server_binaries` looks."""


class PostgresServerError(RuntimeError):
    """The throwaway cluster could not be created, started or stopped."""


def find_server_binaries() -> Dict[str, str]:
    """Find ``initdb``, ``pg_ctl`` and ``postgres`` in one directory.

    Looks on PATH first, then in Debian's ``/usr/lib/postgresql/<version>/bin`` (not on PATH by
    default), newest version first.

    Returns:
        Dict[str, str]: Absolute path of each binary, keyed by its name.

    Raises:
        PostgresNotInstalledError: No directory holds all three; says to run the install script.
    """
    path_dirs = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d]
    debian_dirs = sorted(glob.glob(DEBIAN_BIN_GLOB), key=_debian_version_key, reverse=True)
    for directory in path_dirs + debian_dirs:
        paths = {name: os.path.join(directory, name) for name in SERVER_BINARIES}
        if all(os.path.isfile(p) and os.access(p, os.X_OK) for p in paths.values()):
            return {name: os.path.realpath(p) for name, p in paths.items()}
    raise PostgresNotInstalledError(
        f"PostgreSQL server binaries ({', '.join(SERVER_BINARIES)}) not found on PATH or in "
        f"{DEBIAN_BIN_GLOB}: run `bash {INSTALL_SCRIPT}` (as root) to install them"
    )


class PostgresServer:
    """A throwaway PostgreSQL cluster on a free port of 127.0.0.1, used as a context manager.

    Entering creates and starts the cluster; leaving stops it and removes its directory. The
    superuser is `SUPERUSER` with a random password, and every connection must give a password.

    Args:
        binaries (Dict[str, str], optional): Paths of the server binaries. Defaults to what
            `find_server_binaries` finds.
    """

    def __init__(self, binaries: Optional[Dict[str, str]] = None) -> None:
        self._binaries = binaries
        self.host = HOST
        self.port = 0
        self.user = SUPERUSER
        self.password = secrets.token_urlsafe(18)
        self.version = ""
        self.base_dir: Optional[str] = None
        self._run_as: Optional[str] = None
        self._started = False

    def __enter__(self) -> "PostgresServer":
        self.start()
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.stop()

    @property
    def data_dir(self) -> str:
        """Path of the cluster's data directory, inside `base_dir`."""
        if self.base_dir is None:
            raise PostgresServerError("the server has not been started")
        return os.path.join(self.base_dir, "data")

    @property
    def log_file(self) -> str:
        """Path of the server log, inside `base_dir`."""
        if self.base_dir is None:
            raise PostgresServerError("the server has not been started")
        return os.path.join(self.base_dir, "server.log")

    def start(self) -> None:
        """Create the cluster with ``initdb``, start it with ``pg_ctl`` and wait until it is ready.

        Raises:
            PostgresNotInstalledError: The server binaries are missing.
            PostgresServerError: ``initdb`` or ``pg_ctl`` failed; the message carries their output.
        """
        if self._started:
            return
        began = time.monotonic()
        if self._binaries is None:
            self._binaries = find_server_binaries()
        self.version = _server_version(self._binaries["postgres"])
        self._run_as = _ensure_system_user() if os.geteuid() == 0 else None
        self.base_dir = tempfile.mkdtemp(prefix="pgtest-", dir=self._temp_parent())
        try:
            if self._run_as is not None:
                pw = pwd.getpwnam(self._run_as)
                os.chown(self.base_dir, pw.pw_uid, pw.pw_gid)
            self._initdb()
            self._configure()
            self._start_server()
        except BaseException:
            self._remove_base_dir()
            raise
        self._started = True
        logger.debug(
            "PostgreSQL %s started on %s:%s in %.2fs (%s)",
            self.version,
            self.host,
            self.port,
            time.monotonic() - began,
            self.base_dir,
        )

    def stop(self) -> None:
        """Stop the server and remove its directory; does nothing when it is not running."""
        if self.base_dir is None:
            return
        try:
            if self._started and not self._pg_ctl_stop("fast"):
                self._pg_ctl_stop("immediate")
        finally:
            self._started = False
            self._remove_base_dir()

    def dsn(self, database: str, user: Optional[str] = None, password: Optional[str] = None) -> str:
        """Build a connection URL, as psycopg2 and dlt's postgres destination accept it.

        Args:
            database (str): Database to connect to.
            user (str, optional): Role to log in as. Defaults to the superuser.
            password (str, optional): Its password. Defaults to the superuser's when `user` is
                omitted.

        Returns:
            str: ``postgresql://user:password@127.0.0.1:port/database``.
        """
        if user is None:
            user = self.user
            password = self.password if password is None else password
        credentials = quote(user, safe="")
        if password is not None:
            credentials += ":" + quote(password, safe="")
        return f"postgresql://{credentials}@{self.host}:{self.port}/{quote(database)}"

    def execute(
        self, statement: Any, params: Optional[Sequence[Any]] = None, database: str = "postgres"
    ) -> List[Tuple[Any, ...]]:
        """Run one statement as the superuser, in autocommit mode, for test setup.

        Args:
            statement (str | psycopg2.sql.Composable): SQL with ``%s`` placeholders.
            params (Sequence, optional): Values for the placeholders. Defaults to none.
            database (str, optional): Database to run it in. Defaults to ``postgres``.

        Returns:
            List[Tuple]: The rows it returned, or an empty list.
        """
        conn = psycopg2.connect(self.dsn(database))
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(statement, params)
                return list(cur.fetchall()) if cur.description is not None else []
        finally:
            conn.close()

    def create_role(self, name: str, password: str, login: bool = True) -> None:
        """Create a role with no privileges beyond logging in (no superuser, createdb, createrole).

        Args:
            name (str): Role name.
            password (str): Its password, stored as a scram-sha-256 verifier.
            login (bool, optional): Whether it may log in. Defaults to True.
        """
        statement = sql.SQL(
            "CREATE ROLE {} WITH {} NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD %s"
        ).format(sql.Identifier(name), sql.SQL("LOGIN" if login else "NOLOGIN"))
        self.execute(statement, (password,))

    def trust_role(self, name: str) -> None:
        """Let a role log in over TCP without a password, as trust or IAM auth (AlloyDB Auth Proxy) do.

        Args:
            name (str): Role name; only this role is trusted, every other still needs its password.
        """
        hba = os.path.join(self.data_dir, "pg_hba.conf")
        with open(hba) as f:
            rules = f.read()
        with open(hba, "w") as f:
            f.write(f'host all "{name}" {self.host}/32 trust\n' + rules)
        self.execute("SELECT pg_reload_conf()")

    def create_database(self, name: str, owner: Optional[str] = None) -> None:
        """Create a database.

        Args:
            name (str): Database name.
            owner (str, optional): Role that owns it (and so may create schemas in it). Defaults
                to the superuser.
        """
        statement = sql.SQL("CREATE DATABASE {} OWNER {}").format(
            sql.Identifier(name), sql.Identifier(owner or self.user)
        )
        self.execute(statement)

    def _temp_parent(self) -> Optional[str]:
        """Pick the cluster directory's parent: the temp dir, unless `_run_as` cannot reach it."""
        parent = tempfile.gettempdir()
        if self._run_as is None or _world_searchable(parent):
            return parent
        return "/tmp"

    def _initdb(self) -> None:
        assert self.base_dir is not None and self._binaries is not None
        password_file = os.path.join(self.base_dir, "superuser.pw")
        fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self.password + "\n")
        if self._run_as is not None:
            pw = pwd.getpwnam(self._run_as)
            os.chown(password_file, pw.pw_uid, pw.pw_gid)
        try:
            self._run(
                "initdb",
                [
                    self._binaries["initdb"],
                    "--pgdata",
                    self.data_dir,
                    "--username",
                    self.user,
                    "--pwfile",
                    password_file,
                    "--auth",
                    "scram-sha-256" if _major(self.version) >= 10 else "md5",
                    "--encoding",
                    "UTF8",
                    "--locale",
                    "C",
                    "--no-sync",
                ],
            )
        finally:
            os.unlink(password_file)

    def _configure(self) -> None:
        assert self.base_dir is not None
        settings = dict(SERVER_SETTINGS, unix_socket_directories=self.base_dir)
        lines = ["", "# throwaway test cluster: tests/postgres_server.py"]
        lines += [f"{key} = '{_quoted(value)}'" for key, value in settings.items()]
        with open(os.path.join(self.data_dir, "postgresql.conf"), "a") as f:
            f.write("\n".join(lines) + "\n")

    def _start_server(self) -> None:
        assert self._binaries is not None
        for attempt in range(1, START_ATTEMPTS + 1):
            self.port = _free_port()
            command = [
                self._binaries["pg_ctl"],
                "start",
                "--pgdata",
                self.data_dir,
                "--log",
                self.log_file,
                "--options",
                f"-p {self.port}",
                "--wait",
                "--timeout",
                str(START_TIMEOUT_SECONDS),
                "--silent",
            ]
            result = self._run("pg_ctl start", command, check=False)
            if result.returncode == 0:
                return
            log = self._log_tail()
            if attempt < START_ATTEMPTS and "could not bind" in log:
                logger.debug("port %s was taken before PostgreSQL bound it, retrying", self.port)
                continue
            raise PostgresServerError(
                f"pg_ctl start failed on port {self.port} (exit {result.returncode}): "
                f"{result.stderr.strip()}\nserver log:\n{log}"
            )

    def _pg_ctl_stop(self, mode: str) -> bool:
        assert self._binaries is not None
        command = [
            self._binaries["pg_ctl"],
            "stop",
            "--pgdata",
            self.data_dir,
            "--mode",
            mode,
            "--wait",
            "--timeout",
            str(STOP_TIMEOUT_SECONDS),
            "--silent",
        ]
        result = self._run("pg_ctl stop", command, check=False)
        if result.returncode != 0:
            logger.warning("pg_ctl stop -m %s failed: %s", mode, result.stderr.strip())
        return result.returncode == 0

    def _run(
        self, what: str, command: List[str], check: bool = True
    ) -> "subprocess.CompletedProcess[str]":
        """Run a server command, as `_run_as` when set, from inside `base_dir`."""
        if self._run_as is not None:
            command = _as_user(self._run_as, command)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        # pg_ctl hands its stdout/stderr to the daemon unless --log is given; it always is, so
        # capturing the output cannot block on a pipe the server keeps open.
        result = subprocess.run(
            command,
            cwd=self.base_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT_SECONDS + 30,
        )
        if check and result.returncode != 0:
            raise PostgresServerError(
                f"{what} failed (exit {result.returncode}): "
                f"{result.stdout.strip()} {result.stderr.strip()}"
            )
        return result

    def _log_tail(self) -> str:
        try:
            with open(self.log_file, errors="replace") as f:
                return f.read()[-LOG_TAIL_CHARS:]
        except OSError:
            return "(no server log)"

    def _remove_base_dir(self) -> None:
        if self.base_dir is not None:
            shutil.rmtree(self.base_dir, ignore_errors=True)
            self.base_dir = None


def _debian_version_key(bin_dir: str) -> Tuple[int, ...]:
    """Sort key for ``/usr/lib/postgresql/<version>/bin``: ``9.6`` -> (9, 6), ``15`` -> (15,)."""
    version = os.path.basename(os.path.dirname(bin_dir))
    return tuple(int(part) for part in re.findall(r"\d+", version)) or (0,)


def _server_version(postgres: str) -> str:
    """Read the version, e.g. ``15.18``, from ``postgres --version``."""
    output = subprocess.run(
        [postgres, "--version"], capture_output=True, text=True, check=True
    ).stdout
    match = re.search(r"\(PostgreSQL\)\s+(\S+)", output)
    if match is None:
        raise PostgresServerError(f"cannot read the version from {output.strip()!r}")
    return match.group(1)


def _major(version: str) -> int:
    """Major version number: ``15.18`` -> 15, ``9.6.24`` -> 9."""
    return int(re.match(r"\d+", version).group(0))  # type: ignore[union-attr]


def _free_port() -> int:
    """Ask the kernel for a port on `HOST` that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _world_searchable(path: str) -> bool:
    """Tell whether every directory from ``/`` down to `path` lets other users pass through."""
    path = os.path.realpath(path)
    while True:
        if not os.stat(path).st_mode & stat.S_IXOTH:
            return False
        parent = os.path.dirname(path)
        if parent == path:
            return True
        path = parent


def _ensure_system_user() -> str:
    """Create the unprivileged `SYSTEM_USER` unless it exists; returns its name."""
    try:
        pwd.getpwnam(SYSTEM_USER)
        return SYSTEM_USER
    except KeyError:
        pass
    useradd = _which_sbin("useradd")
    result = subprocess.run(
        [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SYSTEM_USER],
        capture_output=True,
        text=True,
    )
    try:
        pwd.getpwnam(SYSTEM_USER)  # also fine if a parallel test process created it first
    except KeyError:
        raise PostgresServerError(
            f"cannot create system user {SYSTEM_USER} to run PostgreSQL as (it refuses to run "
            f"as root): {result.stderr.strip()}"
        ) from None
    logger.info("created system user %s to run the test PostgreSQL server", SYSTEM_USER)
    return SYSTEM_USER


def _as_user(user: str, command: List[str]) -> List[str]:
    """Wrap a command so it runs as `user`: ``runuser`` where it exists, else ``su``."""
    try:
        return [_which_sbin("runuser"), "-u", user, "--"] + command
    except PostgresServerError:
        return [_which_sbin("su"), "-s", "/bin/sh", "-c", shlex.join(command), user]


def _which_sbin(name: str) -> str:
    """Find a system tool, also in the sbin directories a non-login PATH may lack."""
    search_path = os.pathsep.join(
        [os.environ.get("PATH", ""), "/usr/sbin", "/sbin", "/usr/bin", "/bin"]
    )
    found = shutil.which(name, path=search_path)
    if found is None:
        raise PostgresServerError(
            f"{name} not found; it is needed to run PostgreSQL as {SYSTEM_USER}"
        )
    return found


def _quoted(value: str) -> str:
    """Escape a postgresql.conf string value for single quotes."""
    return value.replace("'", "''")
