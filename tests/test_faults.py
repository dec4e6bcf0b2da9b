"""Fault tests (slow): SIGKILL one process of a running `triage serve` during a load of a few
thousand reviews; once it is back, every accepted review is scored within 90 s, exactly once,
with one active case per customer.

Kinds: the web process, the scoring worker, the db worker, the embedded Redis (each restarted by
serve), and serve itself (everything dies with it; serve is started again by hand).
"""

from __future__ import annotations

import contextlib
import threading
import time

import pytest
import requests

from tests.serve_support import Serve, reviews, running_serve

pytestmark = pytest.mark.slow

TOTAL = 3000
BATCH = 100
RECOVERY_SECONDS = 90


class Loader:
    """Posts TOTAL reviews in batches from a thread, retrying a batch until it gets its 202 (a
    redelivery of what was stored is a duplicate, never a second review)."""

    def __init__(self, serve: Serve, prefix: str) -> None:
        self.serve = serve
        self.batches = [reviews(f"{prefix}-{i}", BATCH, customers=300) for i in range(TOTAL // BATCH)]
        self.sent = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        for batch in self.batches:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if self.serve.post(batch, timeout=30).status_code == 202:
                        break
                except requests.RequestException:
                    pass
                assert time.monotonic() < deadline, "a batch was refused for two minutes"
                time.sleep(0.2)
            self.sent += 1


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def assert_scored_exactly_once(serve: Serve) -> None:
    with contextlib.closing(serve.db()) as conn:
        assert conn.execute("SELECT COUNT(*) FROM reviews").fetchone()[0] == TOTAL
        twice = conn.execute(
            "SELECT json_extract(detail, '$.review_pk') AS pk FROM case_events WHERE kind IN ('opened', 'review_added')"
            " GROUP BY pk HAVING COUNT(*) > 1").fetchall()
        assert twice == []
        in_cases = conn.execute("SELECT COUNT(*) FROM reviews WHERE case_id IS NOT NULL").fetchone()[0]
        events = conn.execute("SELECT COUNT(*) FROM case_events WHERE kind IN ('opened', 'review_added')").fetchone()[0]
        assert events == in_cases > 0
        doubled = conn.execute("SELECT customer_id FROM cases WHERE status NOT IN ('resolved', 'closed')"
                               " GROUP BY customer_id HAVING COUNT(*) > 1").fetchall()
        assert doubled == []


@pytest.mark.parametrize("kind", ["web", "score", "db", "redis"])
def test_a_killed_process_is_restarted_and_every_review_is_scored_once(tmp_path, kind):
    with running_serve(tmp_path) as serve:
        victim = serve.wait_for_children()[kind]
        loader = Loader(serve, kind)
        loader.thread.start()
        wait_until(lambda: loader.sent >= len(loader.batches) // 3, 120, "a third of the load")
        victim.kill()
        wait_until(lambda: (serve.children().get(kind) is not None
                            and serve.children()[kind].pid != victim.pid), 60, f"{kind} to come back")
        back = time.monotonic()
        loader.thread.join(240)
        assert not loader.thread.is_alive()
        serve.wait_scored(TOTAL, timeout=RECOVERY_SECONDS - (time.monotonic() - back))
        print(f"{kind}: all {TOTAL} scored {time.monotonic() - back:.1f} s after it came back")
        assert_scored_exactly_once(serve)


def test_serve_killed_mid_load_and_started_again_scores_everything_once(tmp_path):
    with running_serve(tmp_path) as serve:
        serve.wait_for_children()
        loader = Loader(serve, "serve")
        loader.thread.start()
        wait_until(lambda: loader.sent >= len(loader.batches) // 2, 120, "half the load")
        serve.proc.kill()  # no clean-up: the children die by their parent-death signal
        loader.thread.join(0)
        serve.proc.wait()
    time.sleep(1)
    with running_serve(tmp_path) as serve:
        back = time.monotonic()
        serve.wait_for_children()
        loader.serve = serve
        loader.thread.join(240)
        assert not loader.thread.is_alive()
        serve.wait_scored(TOTAL, timeout=RECOVERY_SECONDS - (time.monotonic() - back))
        print(f"serve: all {TOTAL} scored {time.monotonic() - back:.1f} s after the restart")
        assert_scored_exactly_once(serve)
