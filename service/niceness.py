"""CPU priority of the worker processes: requests get the CPU first.

On a machine that runs the web server beside its workers (`triage serve`, or a database host with
its db worker), every process competes for the same cores. A webhook's 202 waits for its own CPU
work (parsing, validation, the INSERT) and for SQLite's write lock, so while the workers have a
backlog, a request that shares a core with them equally waits for their time slices as well.
Workers started with a niceness above the web server's yield the CPU to it whenever it has work,
and take everything it leaves; their throughput is what the web server does not use.

Linux with autogroup scheduling (`/proc/sys/kernel/sched_autogroup_enabled`, on by default on
desktop and many server kernels) shares the CPU first between *sessions*, and a niceness counts
only inside its own session. `triage serve` starts each worker in a session of its own, so a plain
`os.nice` there would change nothing against the web server: a worker that leads its session also
sets its session's autogroup niceness (`/proc/self/autogroup`), which only it belongs to. A worker
that does not lead its session (started from a shell) leaves the shell's group alone.

Scoring is niced more than the db worker: the db worker holds the write lock that requests wait
for, and a db worker starved by scoring while it holds it would make the requests wait longer.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import time
from pathlib import Path

__all__ = ["DEFAULT_NICE", "lower_priority", "niceness"]

log = logging.getLogger(__name__)

# What `triage serve` adds to the niceness of the workers it starts (bench: docs/benchmarks.md,
# issue 15, "Requests first"). `triage worker` alone changes nothing unless asked (`--nice`).
DEFAULT_NICE = {"score": 10, "db": 5}


def niceness(value: str) -> int:
    """argparse type: a niceness increment, 0-19 (an unprivileged process may only lower its priority)."""
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if not 0 <= n <= 19:
        raise argparse.ArgumentTypeError(f"{n} is outside 0-19")
    return n


AUTOGROUP = Path("/proc/self/autogroup")


def lower_priority(increment: int) -> int:
    """Add `increment` to this process's niceness (threads and children it starts later inherit
    it), and to its autogroup's when it leads its session (module docstring); returns the
    niceness now. 0 changes nothing."""
    if increment <= 0:
        return os.nice(0)
    now = os.nice(increment)
    if os.getsid(0) == os.getpid() and AUTOGROUP.exists():
        _set_autogroup_niceness(now)
    log.info("niceness %d (CPU goes to the web server first)", now)
    return now


# Without CAP_SYS_ADMIN the kernel takes one autogroup write per 100 ms across the whole machine and
# refuses the others with EAGAIN; `triage serve` starts all its workers at once, so they take turns.
AUTOGROUP_TRIES = 30
AUTOGROUP_WAIT_SECONDS = (0.1, 0.2)


def _set_autogroup_niceness(value: int) -> None:
    for attempt in range(AUTOGROUP_TRIES):
        try:
            AUTOGROUP.write_text(str(value))
            return
        except BlockingIOError:
            if attempt + 1 < AUTOGROUP_TRIES:
                time.sleep(random.uniform(*AUTOGROUP_WAIT_SECONDS))
        except OSError as exc:  # a kernel that refuses it: the process niceness still holds in-session
            log.warning("could not set the autogroup niceness (%s); niceness %d counts within the session only",
                        exc, value)
            return
    log.warning("the kernel kept refusing the autogroup niceness (EAGAIN, %d tries); niceness %d counts within"
                " the session only", AUTOGROUP_TRIES, value)
