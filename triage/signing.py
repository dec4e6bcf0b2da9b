"""HMAC-SHA256 request signatures, as the contract defines them for webhooks (both directions).

    X-Triage-Timestamp: <unix seconds>
    X-Triage-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + raw body bytes)>

The signature is checked before the timestamp: a caller without a secret learns only
"bad_signature", and "stale_timestamp" is reserved for genuine but old (replayed) or
clock-skewed requests. Pure functions; the clock is a parameter.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Sequence

from triage.errors import BadSignature, StaleTimestamp

__all__ = [
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "TOLERANCE_SECONDS",
    "compute_signature",
    "sign",
    "verify",
]

TIMESTAMP_HEADER = "X-Triage-Timestamp"
SIGNATURE_HEADER = "X-Triage-Signature"
TOLERANCE_SECONDS = 300

_PREFIX = "sha256="
# Digits only: "1.5", "+1", " 1" or "1e9" would each be a second spelling of a signed timestamp.
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{64}")


def compute_signature(body: bytes, secret: str, timestamp: int | str) -> str:
    """The header value `sha256=<hex>` for `body` signed with `secret` at `timestamp`."""
    message = str(timestamp).encode("ascii") + b"." + body
    return _PREFIX + hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def sign(body: bytes, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """Headers for an outgoing signed request (e.g. the escalation webhook)."""
    ts = int(time.time()) if timestamp is None else int(timestamp)
    return {TIMESTAMP_HEADER: str(ts), SIGNATURE_HEADER: compute_signature(body, secret, ts)}


def verify(
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    secrets: Sequence[str],
    *,
    now: float | None = None,
    tolerance: int = TOLERANCE_SECONDS,
) -> int:
    """Check a request's headers against every accepted secret (several during rotation).

    Returns the verified timestamp. Raises BadSignature (missing or malformed headers, no secret
    matches) or StaleTimestamp (signed correctly, but more than `tolerance` seconds away from
    `now`, in either direction)."""
    if not timestamp or not signature:
        raise BadSignature("missing signature headers")
    timestamp = timestamp.strip()
    signature = signature.strip()
    if not _TIMESTAMP.fullmatch(timestamp):
        raise BadSignature("malformed timestamp header")
    if not signature.lower().startswith(_PREFIX) or not _HEX_DIGEST.fullmatch(signature[len(_PREFIX):]):
        raise BadSignature("malformed signature header")
    given = (_PREFIX + signature[len(_PREFIX):].lower()).encode("ascii")
    matched = False
    # Every secret is tried (no early exit), so timing does not reveal which one matched.
    for secret in secrets:
        expected = compute_signature(body, secret, timestamp).encode("ascii")
        matched |= hmac.compare_digest(expected, given)
    if not matched:
        raise BadSignature()
    ts = int(timestamp)
    current = time.time() if now is None else now
    if abs(current - ts) > tolerance:
        raise StaleTimestamp()
    return ts
