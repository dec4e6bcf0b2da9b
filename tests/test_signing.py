"""Specification of triage.signing: the contract's HMAC-SHA256 webhook signatures."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from triage.errors import BadSignature, StaleTimestamp
from triage.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, compute_signature, sign, verify

BODY = b'{"review_id": "r1"}'
SECRET = "s3cret"
NOW = 1_790_000_000


def test_signature_is_hmac_sha256_of_timestamp_dot_body():
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert compute_signature(BODY, SECRET, NOW) == f"sha256={expected}"


def test_sign_returns_both_headers():
    headers = sign(BODY, SECRET, NOW)
    assert headers == {TIMESTAMP_HEADER: str(NOW), SIGNATURE_HEADER: compute_signature(BODY, SECRET, NOW)}


def test_valid_signature_returns_the_timestamp():
    headers = sign(BODY, SECRET, NOW)
    assert verify(BODY, headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER], [SECRET], now=NOW) == NOW


def test_uppercase_hex_digest_is_accepted():
    signature = compute_signature(BODY, SECRET, NOW)
    assert verify(BODY, str(NOW), "sha256=" + signature[7:].upper(), [SECRET], now=NOW) == NOW


def test_any_of_several_secrets_verifies_during_rotation():
    headers = sign(BODY, "old-secret", NOW)
    secrets = ["new-secret", "old-secret"]
    assert verify(BODY, headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER], secrets, now=NOW) == NOW


def test_a_retired_secret_is_refused():
    headers = sign(BODY, "old-secret", NOW)
    with pytest.raises(BadSignature):
        verify(BODY, headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER], ["new-secret"], now=NOW)


def test_a_changed_body_is_refused():
    headers = sign(BODY, SECRET, NOW)
    with pytest.raises(BadSignature):
        verify(BODY + b" ", headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER], [SECRET], now=NOW)


def test_a_changed_timestamp_is_refused():
    headers = sign(BODY, SECRET, NOW)
    with pytest.raises(BadSignature):
        verify(BODY, str(NOW + 1), headers[SIGNATURE_HEADER], [SECRET], now=NOW)


@pytest.mark.parametrize(
    ("timestamp", "signature"),
    [
        (None, compute_signature(BODY, SECRET, NOW)),
        (str(NOW), None),
        ("", compute_signature(BODY, SECRET, NOW)),
        (str(NOW), ""),
        ("1.5e9", compute_signature(BODY, SECRET, "1.5e9")),
        ("-5", compute_signature(BODY, SECRET, "-5")),
        (str(NOW), compute_signature(BODY, SECRET, NOW)[7:]),  # no "sha256=" prefix
        (str(NOW), "sha1=" + compute_signature(BODY, SECRET, NOW)[7:]),
        (str(NOW), "sha256=xyz"),
    ],
    ids=["no-ts", "no-sig", "empty-ts", "empty-sig", "float-ts", "negative-ts", "no-prefix", "sha1", "not-hex"],
)
def test_missing_or_malformed_headers_are_bad_signatures(timestamp, signature):
    with pytest.raises(BadSignature):
        verify(BODY, timestamp, signature, [SECRET], now=NOW)


@pytest.mark.parametrize("offset", [-300, 300])
def test_timestamps_exactly_300_seconds_away_are_accepted(offset):
    headers = sign(BODY, SECRET, NOW + offset)
    assert verify(BODY, headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER], [SECRET], now=NOW) == NOW + offset


@pytest.mark.parametrize("offset", [-301, 301], ids=["past", "future"])
def test_timestamps_more_than_300_seconds_away_are_stale(offset):
    headers = sign(BODY, SECRET, NOW + offset)
    with pytest.raises(StaleTimestamp):
        verify(BODY, headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER], [SECRET], now=NOW)


def test_the_signature_is_checked_before_the_timestamp():
    # A forger must learn nothing about the clock: a stale and forged request is a bad signature.
    headers = sign(BODY, "forged", NOW - 3600)
    with pytest.raises(BadSignature):
        verify(BODY, headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER], [SECRET], now=NOW)


def test_the_body_is_signed_as_raw_bytes():
    body = "差评 物流太慢".encode()
    headers = sign(body, SECRET, NOW)
    assert verify(body, headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER], [SECRET], now=NOW) == NOW
