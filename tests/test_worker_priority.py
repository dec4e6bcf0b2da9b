"""Workers give the CPU to requests first: `triage serve` starts its scoring workers and its db
worker at a lower priority than the web server (scoring lowest), and `triage worker --nice N`
does the same for workers started by hand or by a service manager."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from service.cli import _parser
from service.niceness import DEFAULT_NICE
from service.serve import worker_argv
from service.worker import apply_hold_seconds
from tests.serve_support import running_serve


def test_serve_starts_scoring_workers_lower_than_the_db_worker():
    assert worker_argv("score") == ["worker", "--role", "score", "--nice", str(DEFAULT_NICE["score"])]
    assert worker_argv("db") == ["worker", "--role", "db", "--nice", str(DEFAULT_NICE["db"])]
    assert DEFAULT_NICE["score"] > DEFAULT_NICE["db"] > 0


def test_a_zero_niceness_starts_workers_as_before():
    assert worker_argv("score", {"score": 0, "db": 0}) == ["worker", "--role", "score"]


def test_serve_takes_the_niceness_of_each_role():
    args = _parser().parse_args(["serve", "--score-nice", "15", "--db-nice", "0"])
    assert (args.score_nice, args.db_nice) == (15, 0)
    assert _parser().parse_args(["serve"]).score_nice == DEFAULT_NICE["score"]


def test_a_worker_by_hand_keeps_its_priority_unless_asked():
    assert _parser().parse_args(["worker"]).nice == 0
    assert _parser().parse_args(["worker", "--role", "db", "--nice", "3"]).nice == 3


@pytest.mark.parametrize("value", ["-1", "20", "low"])
def test_a_niceness_outside_0_to_19_is_refused(value, capsys):
    with pytest.raises(SystemExit):
        _parser().parse_args(["worker", "--nice", value])
    assert "--nice" in capsys.readouterr().err


@pytest.mark.parametrize(("raw", "seconds"), [("", None), ("0", 0.0), ("25", 0.025)])
def test_the_apply_hold_budget_is_read_in_milliseconds(raw, seconds):
    assert apply_hold_seconds({"TRIAGE_APPLY_HOLD_MS": raw}) == seconds


@pytest.mark.parametrize("raw", ["-5", "fast", "2.5"])
def test_a_bad_apply_hold_budget_is_refused_by_name(raw):
    with pytest.raises(ValueError, match="TRIAGE_APPLY_HOLD_MS"):
        apply_hold_seconds({"TRIAGE_APPLY_HOLD_MS": raw})


def autogroup_nice(pid: int) -> int | None:
    """The niceness of the process's autogroup (None where the kernel has none)."""
    path = Path(f"/proc/{pid}/autogroup")
    if not path.exists() or Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip() != "1":
        return None
    return int(path.read_text().split("nice")[1])


@pytest.mark.slow  # a real `triage serve` with its workers
def test_serve_runs_its_workers_below_the_web_server(tmp_path):
    expected = {"web": 0, "redis": 0, "score": DEFAULT_NICE["score"], "db": DEFAULT_NICE["db"]}
    with running_serve(tmp_path, "--workers", "1") as serve:
        children = serve.wait_for_children()
        deadline = time.monotonic() + 60
        # A worker lowers its priority as it starts, a moment after its process appears.
        while (nice := {kind: proc.nice() for kind, proc in children.items()}) != expected:
            assert time.monotonic() < deadline, nice
            time.sleep(0.1)
        # Each child leads its own session, so its autogroup carries the niceness too (else the
        # kernel would share the CPU between the sessions equally, whatever each process's niceness).
        groups = {kind: autogroup_nice(proc.pid) for kind, proc in children.items()}
        if groups["web"] is not None:
            assert groups == nice


class RefusingFile:
    """An autogroup file the kernel refuses `refusals` times with EAGAIN (its 100 ms rate limit)."""

    def __init__(self, refusals: int) -> None:
        self.refusals = refusals
        self.written: list[str] = []

    def write_text(self, text: str) -> None:
        if self.refusals:
            self.refusals -= 1
            raise BlockingIOError(11, "Resource temporarily unavailable")
        self.written.append(text)


def test_workers_started_together_take_turns_at_the_rate_limited_autogroup_write(monkeypatch):
    from service import niceness

    refusing = RefusingFile(refusals=3)
    monkeypatch.setattr(niceness, "AUTOGROUP", refusing)
    monkeypatch.setattr(niceness.time, "sleep", lambda seconds: None)
    niceness._set_autogroup_niceness(10)
    assert refusing.written == ["10"]


def test_a_kernel_that_never_takes_the_autogroup_write_leaves_a_warning(monkeypatch, caplog):
    from service import niceness

    monkeypatch.setattr(niceness, "AUTOGROUP", RefusingFile(refusals=10**6))
    monkeypatch.setattr(niceness.time, "sleep", lambda seconds: None)
    niceness._set_autogroup_niceness(10)
    assert "kept refusing" in caplog.text
