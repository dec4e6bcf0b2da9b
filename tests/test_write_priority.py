"""Requests go before the db worker at SQLite's write lock (`triage.write_priority`)."""

from __future__ import annotations

import threading

import pytest

from triage.db import connect, migrate, transaction
from triage.write_priority import WritePriority, for_database


@pytest.fixture()
def db_path(tmp_path):
    path = tmp_path / "t.db"
    migrate(connect(path))
    return path


def test_the_db_worker_waits_while_a_request_waits_or_writes(db_path):
    priority = WritePriority(db_path)
    priority.request_waiting()
    released = threading.Timer(0.1, priority.request_done)
    released.start()
    waited = priority.yield_to_requests(max_wait=5.0)
    released.join()
    assert 0.05 <= waited < 5.0


def test_the_db_worker_goes_at_once_when_no_request_waits(db_path):
    assert WritePriority(db_path).yield_to_requests(max_wait=5.0) < 0.5


def test_a_steady_stream_of_requests_holds_the_db_worker_off_only_so_long(db_path):
    priority = WritePriority(db_path)
    priority.request_waiting()
    try:
        assert 0.05 <= priority.yield_to_requests(max_wait=0.05) < 1.0
    finally:
        priority.request_done()


def test_a_request_s_transaction_counts_from_before_its_turn_until_it_ends(db_path):
    conn = connect(db_path)
    probe = WritePriority(db_path)  # the db worker's side, as another process would see it
    with transaction(conn):
        assert probe.yield_to_requests(max_wait=0.02) >= 0.02
    assert probe.yield_to_requests(max_wait=5.0) < 0.5
    with pytest.raises(RuntimeError), transaction(conn):
        raise RuntimeError("the request failed")
    assert probe.yield_to_requests(max_wait=5.0) < 0.5


def test_the_db_worker_s_own_transactions_do_not_count_as_requests(db_path):
    apply_conn = connect(db_path, role="apply")
    probe = WritePriority(db_path)
    with transaction(apply_conn):
        assert probe.yield_to_requests(max_wait=5.0) < 0.5


def test_one_priority_per_database_file_and_none_in_memory(db_path):
    assert for_database(db_path) is for_database(str(db_path))
    assert for_database(":memory:") is None
