"""Who goes first at SQLite's write lock: requests before the db worker.

SQLite's write lock has no queue: after a COMMIT, whoever asks first gets it. The db worker asks
all the time (an apply batch after another, each transaction long: a hundred reviews with their
cases) and a webhook's 202 waits for its commit, so without an order a burst of scores kept the
webhook out for seconds at a time. Here requests go first:

* while any "ingest"-role writer of a process (web requests, imports, CLI commands) waits for the
  write lock or holds it, the process holds a shared `flock` on the file ``<database>-writers``;
* an "apply"-role writer (the db worker) first waits until it could take that file's exclusive
  lock, i.e. no request anywhere is waiting or writing, asking every millisecond for at most
  `APPLY_YIELD_SECONDS`, lets go of it at once and then asks SQLite as before.

So an apply starts only when no request is waiting, and a request waits at most for the apply
already running. The bound keeps a steady stream of requests from holding the db worker off for
good: scores must be stored too. A process that dies lets go of its flock with it; where a
filesystem has no flock, writers go back to SQLite's order (none).
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from pathlib import Path

__all__ = ["APPLY_YIELD_SECONDS", "WritePriority", "for_database"]

log = logging.getLogger(__name__)

# How long a db-worker writer defers to waiting requests before it asks for the lock regardless.
APPLY_YIELD_SECONDS = 0.5
_POLL_SECONDS = 0.001


class WritePriority:
    """The writers file of one database, as one process uses it (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = f"{path}-writers"
        self._mutex = threading.Lock()
        self._requests = 0
        # One descriptor per role: flock belongs to the open file, so a process that both serves
        # requests and applies (tests, a single-process setup) must not convert its own lock.
        self._fds: dict[str, tuple[int, int]] = {}
        self._broken = False
        self._request_seen_at = float("-inf")  # monotonic; when an apply writer last found a request

    def _fd(self, role: str) -> int | None:
        if self._broken:
            return None
        held = self._fds.get(role)
        if held is not None and held[1] == os.getpid():
            return held[0]
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            self._give_up(exc)
            return None
        self._fds[role] = (fd, os.getpid())  # a forked child opens its own
        return fd

    def _give_up(self, exc: OSError) -> None:
        if not self._broken:
            log.warning("write priority unavailable (%s: %s); writers take SQLite's lock in no order", self.path, exc)
        self._broken = True

    def request_waiting(self) -> None:
        """A request's writer starts waiting for the write lock (pair with `request_done`)."""
        with self._mutex:
            self._requests += 1
            if self._requests == 1:
                fd = self._fd("ingest")
                if fd is not None:
                    try:
                        # Blocks only while a db-worker writer holds the exclusive lock: the few
                        # microseconds of its check.
                        fcntl.flock(fd, fcntl.LOCK_SH)
                    except OSError as exc:
                        self._give_up(exc)

    def request_done(self) -> None:
        with self._mutex:
            self._requests -= 1
            if self._requests == 0:
                held = self._fds.get("ingest")
                if held is not None and held[1] == os.getpid() and not self._broken:
                    try:
                        fcntl.flock(held[0], fcntl.LOCK_UN)
                    except OSError as exc:
                        self._give_up(exc)

    def yield_to_requests(self, max_wait: float = APPLY_YIELD_SECONDS) -> float:
        """Wait until no request is waiting or writing, for at most `max_wait`; seconds waited."""
        fd = self._fd("apply")
        if fd is None:
            return 0.0
        start = time.monotonic()
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self._request_seen_at = time.monotonic()
                waited = self._request_seen_at - start
                if waited >= max_wait:
                    return waited
                time.sleep(_POLL_SECONDS)
                continue
            except OSError as exc:
                self._give_up(exc)
                return 0.0
            fcntl.flock(fd, fcntl.LOCK_UN)
            return time.monotonic() - start


    def requests_seen(self, within: float) -> bool:
        """Has a request (of any process) waited for or held the write lock now or in the last
        `within` seconds, as far as this process's apply writers have looked? True where unknown."""
        fd = self._fd("apply")
        if fd is None:
            return True
        now = time.monotonic()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._request_seen_at = now
        except OSError as exc:
            self._give_up(exc)
            return True
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
        return now - self._request_seen_at <= within


_registry: dict[str, WritePriority] = {}
_registry_guard = threading.Lock()


def for_database(path: Path | str) -> WritePriority | None:
    """The process's `WritePriority` for the database at `path` (None for an in-memory one)."""
    if str(path) in ("", ":memory:") or str(path).startswith("file:"):
        return None
    key = str(Path(path).resolve())
    with _registry_guard:
        priority = _registry.get(key)
        if priority is None:
            priority = _registry[key] = WritePriority(Path(key))
        return priority
