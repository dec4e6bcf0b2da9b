"""The migration list: append-only, named once, applied in order, and idempotent."""

from __future__ import annotations

from triage.db import MIGRATIONS, connect, migrate


def test_every_migration_has_its_own_name():
    names = [name for name, _ in MIGRATIONS]
    assert len(names) == len(set(names))


def test_migrations_are_listed_in_the_order_of_their_numbers():
    numbers = [name.split("_", 1)[0] for name, _ in MIGRATIONS]
    assert numbers == sorted(numbers)


def test_a_fresh_database_records_every_migration_once_and_a_second_run_applies_nothing(tmp_path):
    conn = connect(tmp_path / "t.db")
    # `migrate` as imported here is the real one (conftest gives other tests' new files the template).
    assert migrate(conn) == [name for name, _ in MIGRATIONS]
    recorded = [row[0] for row in conn.execute("SELECT name FROM _migrations ORDER BY rowid")]
    assert recorded == [name for name, _ in MIGRATIONS]
    assert migrate(conn) == []
