"""Is an rq worker or scheduler really alive? Answers from Redis, checked against the process table
when the process runs on this machine.

rq records workers (`rq:worker:<name>`) and schedulers (`rq:scheduler:<name>`) as hashes with a
host name, a pid and a heartbeat, but their keys outlive a SIGKILL by a minute or more, and a
scheduler's lock (`rq:scheduler-lock:<queue>`) stays held until its TTL runs out: a worker
restarted in that window runs without a scheduler until rq's next maintenance pass (10 minutes
by default), and retries and SLA timers wait that long. This module tells the dead from the
living quickly:

* on this host, a holder whose pid is gone is dead at once;
* elsewhere, a holder whose heartbeat is older than a bound is dead (schedulers beat every
  second, workers at least every `WORKER_TTL` - 15 seconds while idle).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from redis import Redis

__all__ = [
    "SCHEDULER_STALE_AFTER",
    "WORKER_STALE_AFTER",
    "WORKER_TTL",
    "live_workers",
    "pid_alive",
    "release_stale_scheduler_locks",
    "worker_alive",
]

# rq workers are started with this worker_ttl: idle, they beat every WORKER_TTL - 15 s.
WORKER_TTL = 35
WORKER_STALE_AFTER = timedelta(seconds=WORKER_TTL + 25)
# A scheduler beats every second (rq's interval); 15 s of silence means it is gone or wedged.
SCHEDULER_STALE_AFTER = timedelta(seconds=15)
# rq sets a scheduler lock with a TTL of interval + 60 s; a lock with more TTL left than this was
# taken in the last few seconds, before its holder could write its own hash: never steal it.
_FRESH_LOCK_TTL = 55

_RELEASE_IF_HELD_BY = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (killed, not yet reaped by its parent) is dead
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def _text(value: bytes | str | None) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else value


def _parse_time(raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _holder_alive(fields: dict, now: datetime, stale_after: timedelta) -> bool:
    """Whether the process a worker or scheduler hash describes is alive."""
    if not fields or b"death" in fields:
        return False
    host = _text(fields.get(b"hostname"))
    pid = _text(fields.get(b"pid"))
    if host == socket.gethostname() and pid and pid.isdigit():
        return pid_alive(int(pid))
    beat = _parse_time(_text(fields.get(b"last_heartbeat")))
    return beat is not None and now - beat < stale_after


def worker_alive(redis: Redis, worker_name: str | None, *, now: datetime | None = None,
                 stale_after: timedelta = WORKER_STALE_AFTER) -> bool:
    """Whether the rq worker `worker_name` is alive (see the module docstring)."""
    if not worker_name:
        return False
    now = now or datetime.now(UTC)
    return _holder_alive(redis.hgetall(f"rq:worker:{worker_name}"), now, stale_after)


def live_workers(redis: Redis, *, now: datetime | None = None,
                 stale_after: timedelta = WORKER_STALE_AFTER) -> dict[str, int]:
    """Live rq workers per role: `score` (serves the score queue), `db` (serves the apply queue)."""
    from triage.jobs.enqueue import APPLY_QUEUE, SCORE_QUEUE

    now = now or datetime.now(UTC)
    counts = {"score": 0, "db": 0}
    names = [_text(n) for n in redis.smembers("rq:workers")]
    for name in sorted(n for n in names if n):
        # rq lists each worker in rq:workers by its full key (rq:worker:<name>); accept a bare name too.
        key = name if name.startswith("rq:worker:") else f"rq:worker:{name}"
        fields = redis.hgetall(key)
        if not _holder_alive(fields, now, stale_after):
            continue
        queues = set((_text(fields.get(b"queues")) or "").split(","))
        if SCORE_QUEUE in queues:
            counts["score"] += 1
        if APPLY_QUEUE in queues:
            counts["db"] += 1
    return counts


def release_stale_scheduler_locks(redis: Redis, queues: Iterable[str], *, now: datetime | None = None,
                                  stale_after: timedelta = SCHEDULER_STALE_AFTER) -> list[str]:
    """Release the scheduler locks of `queues` whose holder is dead; the queues freed.

    Compare-and-delete on the holder's name, so a lock that changed hands meanwhile is left alone.
    """
    now = now or datetime.now(UTC)
    release = redis.register_script(_RELEASE_IF_HELD_BY)
    freed = []
    for queue in queues:
        key = f"rq:scheduler-lock:{queue}"
        holder = _text(redis.get(key))
        if holder is None:
            continue
        if redis.ttl(key) > _FRESH_LOCK_TTL:
            continue
        if _holder_alive(redis.hgetall(f"rq:scheduler:{holder}"), now, stale_after):
            continue
        if release(keys=[key], args=[holder]):
            freed.append(queue)
    return freed
