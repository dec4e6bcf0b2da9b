"""A database locked by another writer beyond the busy timeout is 503 + Retry-After, never a 500."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from triage import db as triage_db
from triage.config import Settings
from triage.db import DatabaseBusy, connect, is_busy, open_db, transaction
from triage.errors import Busy
from triage.tokens import create_token

URL = "/api/v1/webhooks/reviews"
REVIEW = {"review_id": "r1", "text": "物流太慢了", "customer_id": "c1", "product_id": "p1"}


@pytest.fixture()
def quick_timeout(monkeypatch):
    """Connections made from now on give up on a lock after 50 ms instead of 10 s."""
    monkeypatch.setattr(triage_db, "BUSY_TIMEOUT_MS", 50)


@pytest.fixture()
def busy_settings(tmp_path: Path) -> Settings:
    env = {"TRIAGE_DB": str(tmp_path / "t.db"), "TRIAGE_WEBHOOK_SECRET": "s3cret", "TRIAGE_SECRET_KEY": "k"}
    settings = Settings.from_env(env, var_dir=tmp_path / "var")
    open_db(settings.db_path).close()
    return settings


@pytest.fixture()
def app_client(busy_settings):
    from web import create_app

    return create_app(busy_settings).test_client()


@pytest.fixture()
def writer(busy_settings):
    """Another process's writer, holding the write lock until released."""
    conn = sqlite3.connect(busy_settings.db_path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    yield conn
    if conn.in_transaction:
        conn.execute("ROLLBACK")
    conn.close()


def post(client, signed, payload=REVIEW):
    body, headers = signed(payload, secret="s3cret")
    return client.post(URL, data=body, headers=headers)


def stored(settings) -> int:
    conn = sqlite3.connect(settings.db_path)
    try:
        return conn.execute("SELECT count(*) FROM reviews").fetchone()[0]
    finally:
        conn.close()


def test_a_transaction_that_cannot_get_the_lock_raises_database_busy(busy_settings, writer, quick_timeout):
    conn = connect(busy_settings.db_path)
    with pytest.raises(DatabaseBusy) as caught:
        with transaction(conn):
            pass
    assert isinstance(caught.value, Busy) and isinstance(caught.value, sqlite3.OperationalError)
    assert not conn.in_transaction


def test_is_busy_tells_a_lock_timeout_from_other_operational_errors(busy_settings, writer, quick_timeout):
    conn = connect(busy_settings.db_path)
    with pytest.raises(sqlite3.OperationalError) as locked:
        conn.execute("BEGIN IMMEDIATE")
    with pytest.raises(sqlite3.OperationalError) as other:
        conn.execute("SELECT * FROM no_such_table")
    assert is_busy(locked.value) and not is_busy(other.value)


def test_the_webhook_answers_503_with_retry_after_while_another_writer_holds_the_lock(
    app_client, busy_settings, signed, writer, quick_timeout
):
    response = post(app_client, signed)
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    body = response.get_json()
    assert body["error"] == "busy" and "retry" in body["message"]
    writer.execute("ROLLBACK")
    assert stored(busy_settings) == 0


def test_the_same_delivery_succeeds_once_the_lock_is_released(app_client, busy_settings, signed, writer, quick_timeout):
    assert post(app_client, signed).status_code == 503
    writer.execute("ROLLBACK")
    response = post(app_client, signed)
    assert response.status_code == 202 and response.get_json()["accepted"] == 1
    assert stored(busy_settings) == 1


@pytest.mark.parametrize("path", ["/api/v1/stats", "/api/v1/reviews/default/r1", "/api/v1/cases"])
def test_read_endpoints_answer_503_with_retry_after_when_the_database_is_locked(
    app_client, busy_settings, path, quick_timeout
):
    conn = open_db(busy_settings.db_path)
    token = create_token(conn, "reader")[1]
    conn.close()
    locker = sqlite3.connect(busy_settings.db_path, isolation_level=None)
    locker.execute("PRAGMA locking_mode = EXCLUSIVE")
    locker.execute("BEGIN EXCLUSIVE")
    try:
        response = app_client.get(path, headers={"Authorization": f"Bearer {token}"})
    finally:
        locker.close()
    assert response.status_code == 503
    assert response.get_json()["error"] == "busy" and "Retry-After" in response.headers


def test_other_database_errors_stay_500(app_client, busy_settings, signed, monkeypatch):
    import triage.ingest

    def broken(*args, **kwargs):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(triage.ingest, "transaction", broken)
    app_client.application.testing = False
    response = post(app_client, signed)
    assert response.status_code == 500


@pytest.mark.parametrize("path", ["/api/v1/stats", "/api/v1/cases"])
def test_reads_keep_working_while_another_writer_holds_the_lock(app_client, busy_settings, quick_timeout, path):
    # WAL readers never wait for a writer; recording the token's use is skipped rather than waited for.
    conn = open_db(busy_settings.db_path)
    token = create_token(conn, "reader")[1]
    conn.close()
    locker = sqlite3.connect(busy_settings.db_path, isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")
    try:
        response = app_client.get(path, headers={"Authorization": f"Bearer {token}"})
    finally:
        locker.close()
    assert response.status_code == 200


def test_busy_timeout_waits_briefly_inside_and_restores_the_connections_own(busy_settings, writer):
    from triage.db import busy_timeout

    conn = connect(busy_settings.db_path)
    own = conn.execute("PRAGMA busy_timeout").fetchone()[0]
    with pytest.raises(sqlite3.OperationalError) as caught:
        with busy_timeout(conn, 10):
            conn.execute("BEGIN IMMEDIATE")
    assert is_busy(caught.value)
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == own == triage_db.BUSY_TIMEOUT_MS


def test_a_page_for_people_answers_a_503_page_in_chinese_when_the_database_is_locked(
    app_client, busy_settings, quick_timeout
):
    with app_client.session_transaction() as session:
        session["agent"] = "zhao"  # a signed-in agent: loading them reads the database
    locker = sqlite3.connect(busy_settings.db_path, isolation_level=None)
    locker.execute("PRAGMA locking_mode = EXCLUSIVE")
    locker.execute("BEGIN EXCLUSIVE")
    try:
        response = app_client.get("/queue")
    finally:
        locker.close()
    assert response.status_code == 503 and "Retry-After" in response.headers
    assert response.mimetype == "text/html" and "系统繁忙" in response.get_data(as_text=True)


def test_a_command_on_a_locked_database_says_so_and_exits_75(busy_settings, writer, quick_timeout, monkeypatch, capsys):
    from service.cli import EXIT_BUSY, main

    monkeypatch.setenv("TRIAGE_DB", str(busy_settings.db_path))
    monkeypatch.setenv("TRIAGE_SECRET_KEY", "k")
    monkeypatch.setenv("TRIAGE_WEBHOOK_SECRET", "s3cret")
    assert main(["token", "create", "ci"]) == EXIT_BUSY == 75
    assert "database is busy" in capsys.readouterr().err


@pytest.mark.slow
def test_a_writer_takes_the_gap_between_another_process_s_transactions(busy_settings):
    """Another process's writer holding the lock in 150 ms transactions with 20 ms gaps: a waiting
    writer gets in at the first gap (SQLite's busy handler, sleeping up to 100 ms, misses them)."""
    import threading
    import time

    other = sqlite3.connect(busy_settings.db_path, isolation_level=None, check_same_thread=False)  # not our lock
    cycles_done = []
    started = threading.Event()

    def hold() -> None:
        for cycle in range(6):
            other.execute("BEGIN IMMEDIATE")
            started.set()
            time.sleep(0.15)
            other.execute("COMMIT")
            cycles_done.append(cycle)
            time.sleep(0.02)

    holder = threading.Thread(target=hold)
    holder.start()
    started.wait()
    conn = connect(busy_settings.db_path)
    with transaction(conn):
        got_in_after = len(cycles_done)
    holder.join()
    assert got_in_after <= 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == triage_db.BUSY_TIMEOUT_MS  # restored


def test_a_writer_still_gives_up_after_the_busy_timeout(busy_settings, quick_timeout):
    other = sqlite3.connect(busy_settings.db_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    conn = connect(busy_settings.db_path)
    with pytest.raises(DatabaseBusy):
        with transaction(conn):
            pass
    other.execute("ROLLBACK")
    with transaction(conn):  # the lock of this process was released with the failure
        pass
