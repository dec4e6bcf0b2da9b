"""`triage serve`: the web app plus what it needs on this machine, supervised.

* ``REDIS_URL`` unset (one machine, `make run`): an embedded Redis under var/, N scoring workers,
  one db worker and the web server, each a child process.
* ``REDIS_URL`` set (production, the database host): the web server and the one db worker;
  scoring workers (`triage worker`) run on other machines against the same Redis (docs/deploy.md).

`serve` itself only supervises: it opens the listening socket (so a restarted web process takes
over the same port without a gap in which connections are refused), starts the children, and
restarts whichever dies — the embedded Redis included, on the same socket and data files. The
web server is waitress (`service.httpd`) in every mode.

At start it refuses, with a message naming the file, to run on a read-only database, and to run
beside another `triage serve` on the same database or var/ (an exclusive `fcntl` lock on
``<database>.lock`` and ``var/serve.lock``, released by the kernel however `serve` ends). It makes
var/ 0700 and the files in it 0600 (a umask for everything it and its children create, and a
chmod for files left looser by an older version).

Ctrl-C or SIGTERM stops the web server first (it drains: requests already received are answered),
then the workers (SIGTERM to each worker's process group, so its rq scheduler goes too and
releases its locks; SIGKILL after a grace period), then the embedded Redis: nothing is left
running. Further Ctrl-C or SIGTERM during that clean-up are ignored.
"""

from __future__ import annotations

import dataclasses
import fcntl
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from service.niceness import DEFAULT_NICE
from triage.config import Settings

__all__ = ["ServeRefused", "Supervisor", "serve"]

log = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 10.0
RESTART_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
# A child that ran this long before dying starts again from the shortest delay.
HEALTHY_RUN_SECONDS = 60.0
SECRET_FILES = ("webhook_secret", "secret_key", "demo_login")


class ServeRefused(Exception):
    """`serve` cannot start; the message says why and names the file."""


class _Child:
    def __init__(self, name: str, argv: Sequence[str], pass_fds: Sequence[int] = ()) -> None:
        self.name = name
        self.argv = list(argv)
        self.pass_fds = tuple(pass_fds)
        self.proc: subprocess.Popen | None = None
        self.started_at = 0.0
        self.restarts = 0
        self.failures = 0  # consecutive short runs, for the restart delay


class Supervisor:
    """Child processes started, restarted if they die, and stopped with their process groups.

    `watch` is called from the monitor thread every second (the embedded Redis's check).
    """

    def __init__(self, children: Sequence[tuple[str, Sequence[str], Sequence[int]]], env: Mapping[str, str],
                 watch: Callable[[], None] | None = None) -> None:
        self.children = [_Child(name, argv, fds) for name, argv, fds in children]
        self.env = dict(env)
        self.watch = watch
        self._stopping = threading.Event()
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._monitor = threading.Thread(target=self._watch, name="triage-supervisor", daemon=True)

    def _spawn(self, child: _Child) -> None:
        # Own session: the worker and the scheduler it forks form a group we can stop together,
        # and a Ctrl-C in the terminal reaches only `serve`, which then stops them in order.
        child.proc = subprocess.Popen(
            [sys.executable, "-m", "triage", *child.argv],
            env=self.env,
            start_new_session=True,
            pass_fds=child.pass_fds,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        child.started_at = time.monotonic()

    def start(self) -> None:
        # Spawned from the monitor thread alone: Linux's parent-death signal follows the thread
        # that forked a child, so every child must come from the thread that lives longest.
        self._monitor.start()

    def pids(self) -> dict[str, int]:
        with self._lock:
            return {c.name: c.proc.pid for c in self.children if c.proc is not None}

    def _watch(self) -> None:
        with self._lock:
            for child in self.children:
                self._spawn(child)
        while not self._stopping.wait(0.25):
            if self.watch is not None:
                try:
                    self.watch()
                except Exception:
                    log.exception("supervisor check failed")
            with self._lock:
                for child in self.children:
                    proc = child.proc
                    if self._stopping.is_set() or proc is None or proc.poll() is None:
                        continue
                    ran = time.monotonic() - child.started_at
                    child.failures = 0 if ran >= HEALTHY_RUN_SECONDS else child.failures + 1
                    delay = RESTART_DELAYS[min(max(child.failures - 1, 0), len(RESTART_DELAYS) - 1)]
                    log.warning("%s exited with %s after %.0f s; restarting in %.1f s",
                                child.name, proc.returncode, ran, delay)
                    # Its rq scheduler may have outlived it: SIGTERM lets it release its locks.
                    _stop_group(proc, grace=2.0)
                    if self._stopping.wait(delay):
                        break
                    child.restarts += 1
                    self._spawn(child)
        self._stopped.wait()  # keep this thread (the children's parent-death anchor) until they are gone

    def stop(self, grace: float = STOP_GRACE_SECONDS, first: str | None = None, first_grace: float = 30.0) -> None:
        """Stop every child: `first` (the web server, to drain) before the others."""
        self._stopping.set()
        with self._lock:
            children = [c for c in self.children if c.proc is not None]
        ordered = [c for c in children if c.name == first], [c for c in children if c.name != first]
        for group, wait in zip(ordered, (first_grace, grace), strict=True):
            for child in group:
                _kill_group(child.proc, signal.SIGTERM)
            deadline = time.monotonic() + wait
            for child in group:
                try:
                    child.proc.wait(max(deadline - time.monotonic(), 0.1))
                except subprocess.TimeoutExpired:
                    pass
                _kill_group(child.proc, signal.SIGKILL)  # stragglers, and schedulers whose worker is gone
                child.proc.wait()
        self._stopped.set()


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to SIGTERM it when `serve` dies, even by SIGKILL,
    so a crashed supervisor never leaves children running against its Redis."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _kill_group(proc: subprocess.Popen, sig: signal.Signals) -> None:
    try:
        os.killpg(proc.pid, sig)  # pgid == pid: the child leads its own session
    except (ProcessLookupError, PermissionError):
        pass


def _stop_group(proc: subprocess.Popen, grace: float) -> None:
    """SIGTERM what is left of a dead child's group (its scheduler), SIGKILL after `grace`."""
    _kill_group(proc, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.05)
    _kill_group(proc, signal.SIGKILL)


def _child_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env["TRIAGE_DB"] = str(Path(settings.db_path).resolve())
    env["TRIAGE_VAR_DIR"] = str(Path(settings.var_dir).resolve())
    if settings.redis_url:
        env["REDIS_URL"] = settings.redis_url
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


# --- start-up checks ------------------------------------------------------------------------------


def _lock(path: Path, what: str):
    """Hold an exclusive lock on `path` for the life of this process (the kernel drops it on exit)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise ServeRefused(f"another `triage serve` (pid {holder}) is already running on {what}; "
                           f"stop it first (lock file {path})") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def _check_writable(db_path: Path) -> None:
    """Refuse a database that cannot be written (the webhook would fail on every request)."""
    if db_path.exists():
        if not db_path.stat().st_mode & 0o200 or not os.access(db_path, os.W_OK):
            raise ServeRefused(f"the database file {db_path} is read-only; make it writable "
                               f"(e.g. chmod 600 {db_path}) or point TRIAGE_DB at another file")
    folder = db_path.parent
    if folder.exists() and not os.access(folder, os.W_OK | os.X_OK):
        raise ServeRefused(f"the database folder {folder} is not writable (SQLite keeps its -wal and -shm "
                           "files beside the database)")


def _tighten(settings: Settings, db_path: Path) -> None:
    from triage.redis_conn import private_dir, private_file

    private_dir(Path(settings.var_dir))
    for suffix in ("", "-wal", "-shm", "-writers", ".lock"):
        private_file(Path(f"{db_path}{suffix}"))
    for name in (*SECRET_FILES, "redis.rdb", "redis.aof", "redis.log", "serve.lock"):
        private_file(Path(settings.var_dir) / name)


def prepare(settings: Settings) -> list[int]:
    """Checks and locks before anything starts; the lock descriptors (kept open while serving)."""
    db_path = Path(settings.db_path).resolve()
    os.umask(0o077)  # var/, triage.db, redis.rdb and secrets: private from the moment they exist
    _check_writable(db_path)
    from triage.redis_conn import private_dir

    private_dir(Path(settings.var_dir))
    db_path.parent.mkdir(parents=True, exist_ok=True)
    fds = [_lock(Path(f"{db_path}.lock"), f"the database {db_path}")]
    var_lock = (Path(settings.var_dir) / "serve.lock").resolve()
    if var_lock != Path(f"{db_path}.lock"):
        try:
            fds.append(_lock(var_lock, f"the folder {var_lock.parent}"))
        except ServeRefused:
            os.close(fds[0])
            raise
    _tighten(settings, db_path)
    return fds


# --- serve ----------------------------------------------------------------------------------------


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 5000, workers: int = 1,
          demo: bool = False, nice: Mapping[str, int] | None = None) -> int:
    """Run until Ctrl-C or SIGTERM; returns the exit status. `nice`: the niceness each worker role
    adds at start (`service.niceness.DEFAULT_NICE` when not given)."""
    import sqlite3

    from service.httpd import WebLimits, listen
    from service.logs import setup_logging
    from triage.config import ConfigError
    from triage.db import open_db
    from triage.redis_conn import EmbeddedRedis, connect_redis

    setup_logging()
    try:
        WebLimits.from_env()
        lock_fds = prepare(settings)
    except (ServeRefused, ConfigError) as exc:
        print(f"triage: {exc}", file=sys.stderr)
        return 1
    embedded = None
    supervisor = None
    sock = None
    stop = threading.Event()
    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    for sig in previous:
        signal.signal(sig, lambda *_: stop.set())
    try:
        if not settings.redis_url:
            embedded = EmbeddedRedis(Path(settings.var_dir))
            settings = dataclasses.replace(settings, redis_url=embedded.url)
        try:
            conn = open_db(settings.db_path)
            try:
                login = None
                if demo:
                    from service.demo import load_demo
                    from triage.sla import load_policy

                    print("triage: a fresh database gets the demo shop (a few seconds) ...", flush=True)
                    login = load_demo(conn, policy=load_policy(settings.sla_policy_path, settings.timezone),
                                      progress=lambda line: print(f"triage: {line}", flush=True))
                from triage.pipeline import enqueue_pending

                enqueue_pending(conn, connect_redis(settings.redis_url))
            finally:
                conn.close()
        except sqlite3.OperationalError as exc:
            print(f"triage: cannot use the database {Path(settings.db_path).resolve()}: {exc}", file=sys.stderr)
            return 1
        _tighten(settings, Path(settings.db_path).resolve())
        try:
            sock = listen(host, port)
        except OSError as exc:
            print(f"triage: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
            return 1
        roles = ["score"] * max(workers, 0) + ["db"] if embedded else ["db"]
        children = [("web", ["web", "--fd", str(sock.fileno())], [sock.fileno()])]
        children += [(f"{role} worker", worker_argv(role, nice), []) for role in roles]

        def check_redis() -> None:
            # healthy, not just alive: a server whose socket vanished runs on, reachable by no one.
            if embedded is not None and not stop.is_set() and not embedded.healthy():
                log.warning("embedded Redis %s; restarting it", "is unreachable" if embedded.alive() else "exited")
                embedded.restart()

        supervisor = Supervisor(children, _child_env(settings), watch=check_redis)
        supervisor.start()
        _banner(settings, host, sock.getsockname()[1], embedded is not None, roles, login)
        while not stop.wait(0.5):
            pass
    finally:
        # A second Ctrl-C or SIGTERM (an impatient user, a service manager repeating itself) must
        # not cut the clean-up short: that would orphan the workers and the embedded Redis.
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        try:
            if stop.is_set():
                print("\ntriage: stopping ...", flush=True)
            if supervisor is not None:
                supervisor.stop(first="web", first_grace=WebLimits.from_env().drain + 5.0)
            if sock is not None:
                sock.close()
            if embedded is not None:
                embedded.stop()  # whoever is still connected; waits for the process to exit
        finally:
            for fd in lock_fds:
                os.close(fd)
    # The handlers stay ignored: a late signal must not turn this clean exit into a kill.
    return 0


def worker_argv(role: str, nice: Mapping[str, int] | None = None) -> list[str]:
    """The `triage` arguments of a worker `serve` starts: its role, niced below the web server
    (`service.niceness`) unless `nice` says 0 for the role."""
    increment = (DEFAULT_NICE if nice is None else nice).get(role, 0)
    return ["worker", "--role", role, *(["--nice", str(increment)] if increment else [])]


def _banner(settings: Settings, host: str, port: int, embedded: bool, roles: Sequence[str], login) -> None:
    lines = [f"triage: serving on http://{host}:{port}"]
    if settings.webhook_secret_generated:
        lines.append(f"  webhook secret (generated, kept in {Path(settings.var_dir) / 'webhook_secret'}): "
                     f"{settings.webhook_secrets[0]}")
    if embedded:
        scorers = sum(1 for r in roles if r == "score")
        lines.append(f"  Redis: embedded ({settings.redis_url}); workers: {scorers} scoring + 1 db")
    else:
        lines.append("  Redis: REDIS_URL; workers here: 1 db (run `triage worker` for scoring)")
    if login is not None:
        lines.append("  demo logins (shown this once; passwords are stored only hashed):")
        for one in login:
            lines.append(f"    {one.username} / {one.password} ({'主管 supervisor' if one.role == 'supervisor' else '客服 agent'})")
    lines.append("  Ctrl-C stops everything.")
    print("\n".join(lines), flush=True)
