"""Commands that work on an existing database never create one in whatever folder they run in."""

from __future__ import annotations

import subprocess
import sys

import pytest

from service.cli import main


@pytest.fixture()
def elsewhere(tmp_path, monkeypatch):
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    monkeypatch.chdir(folder)
    for name in ("TRIAGE_DB", "TRIAGE_VAR_DIR", "TRIAGE_WEBHOOK_SECRET", "TRIAGE_SECRET_KEY", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    return folder


@pytest.mark.parametrize("argv", [
    ["token", "create", "ops"],
    ["import", "reviews.jsonl"],
    ["report", "weekly", "--format", "json"],
    ["agent", "unlock", "li.na"],
])
def test_an_admin_command_in_a_folder_without_a_database_refuses_naming_the_path(elsewhere, argv, capsys):
    (elsewhere / "reviews.jsonl").write_text('{"review_id": "r1"}\n')
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert str(elsewhere / "var" / "triage.db") in err and "TRIAGE_DB" in err
    assert not (elsewhere / "var").exists()  # no database, no generated secrets


@pytest.mark.slow  # a real process: Redis server, rq worker or CLI subprocess
def test_agent_add_reads_no_password_before_refusing(elsewhere):
    run = subprocess.run([sys.executable, "-m", "triage", "agent", "add", "li.na", "--role", "agent"],
                         input="pw\n", capture_output=True, text=True, cwd=elsewhere)
    assert run.returncode == 2 and "no database at" in run.stderr
    assert not (elsewhere / "var").exists()


def test_an_explicit_triage_db_that_exists_is_used_from_anywhere(elsewhere, db, settings, monkeypatch, capsys):
    monkeypatch.setenv("TRIAGE_DB", str(settings.db_path))
    assert main(["token", "create", "ops"]) == 0
    assert db.execute("SELECT COUNT(*) FROM api_tokens").fetchone()[0] == 1
    assert not (elsewhere / "var").exists()
