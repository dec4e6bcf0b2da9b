"""What requests need from the configuration, built once per app: settings, SLA policy, Redis.

The app factory calls `install(app, build_resources(settings))`; views reach them through
`resources()` (or `web.db`'s `get_settings`, `get_redis`). This is the web side's one route for
configuration: domain functions get the policy or settings as arguments from here, never from
the environment.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import redis
from flask import Flask, current_app

from triage.config import Settings
from triage.redis_conn import connect_redis
from triage.sla import SlaPolicy, load_policy

__all__ = ["EXTENSION", "RedisFactory", "Resources", "build_resources", "install", "resources", "resources_of"]

EXTENSION = "triage"


class RedisFactory:
    """The app's one Redis client, made on first use (None when no REDIS_URL is configured).

    Lazy, so building an app (and tests that never touch Redis) does not need a Redis server.
    """

    def __init__(self, url: str | None) -> None:
        self.url = url
        self._client: redis.Redis | None = None
        self._lock = threading.Lock()

    def __call__(self) -> redis.Redis | None:
        if not self.url:
            return None
        with self._lock:
            if self._client is None:
                self._client = connect_redis(self.url)
            return self._client


@dataclass(frozen=True)
class Resources:
    settings: Settings
    policy: SlaPolicy  # TRIAGE_SLA_POLICY or the built-in one, in the settings' time zone
    redis: RedisFactory = field(repr=False)


def build_resources(settings: Settings) -> Resources:
    return Resources(
        settings=settings,
        policy=load_policy(settings.sla_policy_path, settings.timezone),
        redis=RedisFactory(settings.redis_url),
    )


def install(app: Flask, value: Resources) -> None:
    app.extensions[EXTENSION] = value


def resources_of(app: Flask) -> Resources:
    return app.extensions[EXTENSION]


def resources() -> Resources:
    """The current app's resources (inside a request or app context)."""
    return resources_of(current_app)
