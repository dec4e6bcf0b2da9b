"""The web server: the Flask app under waitress, in every mode (`triage serve`, `triage web`).

Why waitress and not werkzeug's development server or gunicorn: a connector or an attacker that
opens a connection and never finishes its request body must not hold a thread. werkzeug gives
every connection a thread (400 stalled clients: 400 threads, 575 MB); gunicorn's sync and gthread
workers read the body inside the worker thread too, so a few stalled bodies block every thread of
a worker unless a buffering proxy sits in front. Waitress reads each request completely in its
event loop (bodies past 64 KiB spool to a temporary file) and hands it to a thread only when it is
whole, so threads serve only complete requests, and it caps connections and times out idle ones.

Limits (environment variables, read at start):

| variable | meaning | default |
|---|---|---|
| `TRIAGE_WEB_THREADS` | threads running requests | 8 |
| `TRIAGE_WEB_CONNECTIONS` | open connections at most; past it new ones wait in the listen backlog | 1000 |
| `TRIAGE_WEB_TIMEOUT` | seconds a connection may send nothing before it is closed | 30 |
| `TRIAGE_WEB_DRAIN` | seconds SIGTERM waits for requests already received to be answered | 25 |

SIGTERM or SIGINT drains: no new connection is accepted, every request already received is run
to its end and its response flushed (a webhook that committed gets its 202), then the process
exits. Connections still sending a request are dropped: nothing of theirs was stored.
"""

from __future__ import annotations

import logging
import os
import resource
import signal
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

from triage.config import ConfigError, Settings

__all__ = ["WebLimits", "listen", "run_web"]

log = logging.getLogger(__name__)

# Bodies over this get waitress's own 413 before the app sees them; the webhook's own 1 MiB limit
# (with the contract's JSON error) applies below it.
MAX_BODY_BYTES = 4 * 1024 * 1024


def _int(env: Mapping[str, str], name: str, default: int, low: int) -> int:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: a whole number, please") from None
    if value < low:
        raise ConfigError(f"{name}={raw!r}: at least {low}")
    return value


@dataclass(frozen=True)
class WebLimits:
    threads: int = 8
    connections: int = 1000
    timeout: int = 30
    drain: int = 25

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WebLimits:
        env = os.environ if environ is None else environ
        return cls(
            threads=_int(env, "TRIAGE_WEB_THREADS", cls.threads, 1),
            connections=_int(env, "TRIAGE_WEB_CONNECTIONS", cls.connections, 10),
            timeout=_int(env, "TRIAGE_WEB_TIMEOUT", cls.timeout, 1),
            drain=_int(env, "TRIAGE_WEB_DRAIN", cls.drain, 0),
        )


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket (inheritable, so a supervised web process can be handed it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def _raise_fd_limit(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def _busy(server_map: dict, dispatcher) -> bool:
    """Whether any received request is still queued, running, or writing its response."""
    from waitress.channel import HTTPChannel

    if dispatcher.queue:
        return True
    for channel in list(server_map.values()):
        if isinstance(channel, HTTPChannel) and (channel.requests or channel.total_outbufs_len):
            return True
    return False


def run_web(settings: Settings, sock: socket.socket, limits: WebLimits | None = None,
            stop: threading.Event | None = None) -> int:
    """Serve the app on `sock` until SIGTERM/SIGINT (or `stop` is set), then drain; exit status."""
    from waitress import wasyncore
    from waitress.server import create_server

    from web import create_app

    limits = limits or WebLimits.from_env()
    stop = stop or threading.Event()
    _raise_fd_limit(limits.connections + 64)
    app = create_app(settings)
    server_map: dict = {}
    server = create_server(
        app,
        map=server_map,
        sockets=[sock],
        threads=limits.threads,
        connection_limit=limits.connections,
        channel_timeout=limits.timeout,
        cleanup_interval=max(1, min(limits.timeout // 3, 10)),
        max_request_body_size=MAX_BODY_BYTES,
        inbuf_overflow=64 * 1024,
        asyncore_use_poll=True,  # select() stops at 1024 descriptors
        ident="",  # no Server banner
        expose_tracebacks=False,
        clear_untrusted_proxy_headers=True,
    )
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    log.info("web: listening on %s:%s (%d threads, %d connections, %d s timeout)",
             *sock.getsockname()[:2], limits.threads, limits.connections, limits.timeout)
    while not stop.is_set():
        wasyncore.loop(timeout=0.2, map=server_map, use_poll=True, count=1)
    # Drain: take no new connection; finish and flush what was received.
    server.accepting = False
    deadline = time.monotonic() + limits.drain
    while _busy(server_map, server.task_dispatcher) and time.monotonic() < deadline:
        wasyncore.loop(timeout=0.05, map=server_map, use_poll=True, count=1)
    if _busy(server_map, server.task_dispatcher):
        log.warning("web: stopping with requests still running after %d s", limits.drain)
    server.task_dispatcher.shutdown(cancel_pending=True, timeout=1)
    wasyncore.close_all(server_map)
    return 0
