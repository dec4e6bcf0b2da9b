"""triage.passwords writes and reads Werkzeug's password-hash format, so stored hashes keep working."""

from __future__ import annotations

import pytest
from werkzeug.security import check_password_hash as werkzeug_check
from werkzeug.security import generate_password_hash as werkzeug_generate

from triage.passwords import check_password_hash, generate_password_hash

# Cheap parameters: the format is under test, not the cost.
METHODS = ["scrypt:1024:8:1", "pbkdf2:sha256:1000"]


@pytest.mark.parametrize("method", METHODS)
def test_a_hash_werkzeug_wrote_verifies(method):
    stored = werkzeug_generate("密码 s3cret", method=method)
    assert check_password_hash(stored, "密码 s3cret") and not check_password_hash(stored, "wrong")


@pytest.mark.parametrize("method", METHODS)
def test_werkzeug_verifies_a_hash_written_here(method):
    stored = generate_password_hash("密码 s3cret", method=method)
    assert stored.startswith(method + "$")
    assert werkzeug_check(stored, "密码 s3cret") and not werkzeug_check(stored, "wrong")


def test_the_default_is_salted_scrypt():
    first, second = generate_password_hash("same"), generate_password_hash("same")
    assert first.startswith("scrypt:32768:8:1$") and first != second


def test_a_malformed_hash_never_matches():
    assert not check_password_hash("not a hash", "")


def test_an_unknown_method_is_refused():
    with pytest.raises(ValueError):
        generate_password_hash("x", method="md5")
