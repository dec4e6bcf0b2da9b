"""`triage web`: the web app alone under waitress (`service.httpd`), on a port or on a listening
socket handed over by `triage serve` (`--fd`)."""

from __future__ import annotations

import os
import socket
import sys

from triage.config import ConfigError, Settings

__all__ = ["run"]


def run(settings: Settings, host: str = "127.0.0.1", port: int = 8000, fd: int | None = None) -> int:
    from service.httpd import WebLimits, listen, run_web
    from service.logs import setup_logging

    setup_logging()
    os.umask(0o077)
    try:
        limits = WebLimits.from_env()
    except ConfigError as exc:
        print(f"triage: configuration error: {exc}", file=sys.stderr)
        return 2
    if fd is not None:
        sock = socket.socket(fileno=fd)
    else:
        try:
            sock = listen(host, port)
        except OSError as exc:
            print(f"triage: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
            return 1
    return run_web(settings, sock, limits)
