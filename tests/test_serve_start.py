"""What `triage serve` checks before it starts anything (service.serve.prepare): one serve per
database, a writable database, private files."""

from __future__ import annotations

import os
import stat

import pytest

from service.serve import ServeRefused, prepare
from triage.config import Settings
from triage.db import open_db


@pytest.fixture()
def serve_settings(tmp_path):
    var = tmp_path / "var"
    env = {"TRIAGE_DB": str(var / "triage.db"), "TRIAGE_WEBHOOK_SECRET": "s", "TRIAGE_SECRET_KEY": "k"}
    old = os.umask(0o022)
    try:
        yield Settings.from_env(env, var_dir=var)
    finally:
        os.umask(old)  # prepare() sets the process umask to 077


def release(fds):
    for fd in fds:
        os.close(fd)


def test_a_second_serve_on_the_same_database_is_refused_naming_the_first(serve_settings):
    first = prepare(serve_settings)
    try:
        with pytest.raises(ServeRefused, match=rf"another `triage serve` \(pid {os.getpid()}\).*triage\.db"):
            prepare(serve_settings)
    finally:
        release(first)
    release(prepare(serve_settings))  # the lock goes with the process that held it


def test_a_read_only_database_is_refused_naming_the_file(serve_settings):
    open_db(serve_settings.db_path).close()
    serve_settings.db_path.chmod(0o444)
    with pytest.raises(ServeRefused, match=rf"{serve_settings.db_path}.*read-only"):
        prepare(serve_settings)


def test_var_and_its_files_are_made_private(serve_settings):
    var = serve_settings.var_dir
    var.mkdir(mode=0o755)
    var.chmod(0o755)
    open_db(serve_settings.db_path).close()
    for path in (serve_settings.db_path, var / "webhook_secret", var / "secret_key"):
        path.touch()
        path.chmod(0o644)
    release(prepare(serve_settings))
    assert stat.S_IMODE(var.stat().st_mode) == 0o700
    for path in (serve_settings.db_path, var / "secret_key", var / "webhook_secret"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert os.umask(0o077) == 0o077  # and whatever serve creates from now on is private too
