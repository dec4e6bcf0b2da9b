"""Logging for every long-running `triage` process: plain text lines on stderr.

No colour codes unless stderr is a terminal (rq colours some words of its own lines; a log file or
journald should get plain text), and rq's per-job INFO lines ("score: Job OK ...", one per job,
thousands a minute under load) are off unless `TRIAGE_RQ_JOB_LOGS=1` asks for them.
"""

from __future__ import annotations

import logging
import os
import sys

__all__ = ["FORMAT", "job_logs_wanted", "setup_logging"]

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def job_logs_wanted(environ: dict[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return (env.get("TRIAGE_RQ_JOB_LOGS") or "").strip().lower() in ("1", "true", "yes", "on")


def setup_logging(level: int = logging.INFO) -> None:
    """Configure the root logger once per process (idempotent)."""
    root = logging.getLogger()
    if not any(getattr(h, "_triage", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(FORMAT))
        handler._triage = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)
    if not sys.stderr.isatty():
        from rq import logutils

        logutils.colorizer.notty = True  # rq decides on stdout alone
    # rq logs every job at INFO under rq.worker; warnings and errors always get through.
    logging.getLogger("rq.worker").setLevel(logging.INFO if job_logs_wanted() else logging.WARNING)
