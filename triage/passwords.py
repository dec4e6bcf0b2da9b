"""Salted password hashes in Werkzeug's stored format, with the standard library alone.

`triage/` stays free of Werkzeug (a web-layer library), yet hashes written before this module
existed, by `werkzeug.security.generate_password_hash`, must keep verifying: so the format is
Werkzeug's own, ``<method>$<salt>$<hex digest>`` with method ``scrypt:N:r:p`` or
``pbkdf2:<hash>:<iterations>``, and a test checks both directions against Werkzeug.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
import threading

__all__ = ["HashingBusy", "check_password_hash", "generate_password_hash"]

# scrypt with Werkzeug's cost takes ~32 MiB and ~0.1 s of a core per check: sixteen concurrent
# guesses would take half a gigabyte. At most this many run at once per process; the rest wait
# up to HASH_WAIT_SECONDS, then get HashingBusy (a 503 to the caller) instead of piling up.
MAX_CONCURRENT_HASHES = 2
HASH_WAIT_SECONDS = 10.0
_hashing = threading.BoundedSemaphore(MAX_CONCURRENT_HASHES)


class HashingBusy(RuntimeError):
    """Too many password checks are running; try again shortly."""

SALT_CHARS = string.ascii_letters + string.digits
SALT_LENGTH = 16
_SCRYPT_DEFAULT = (2**15, 8, 1)
_PBKDF2_DEFAULT_ITERATIONS = 1_000_000


def _derive(method: str, salt: str, password: str) -> tuple[str, str]:
    """(hex digest, the method spelled out in full) — raises ValueError for an unknown method,
    HashingBusy when the concurrency bound has been full for HASH_WAIT_SECONDS."""
    if not _hashing.acquire(timeout=HASH_WAIT_SECONDS):
        raise HashingBusy("too many password checks at once")
    try:
        return _derive_now(method, salt, password)
    finally:
        _hashing.release()


def _derive_now(method: str, salt: str, password: str) -> tuple[str, str]:
    name, *args = method.split(":")
    if name == "scrypt":
        try:
            n, r, p = map(int, args) if args else _SCRYPT_DEFAULT
        except ValueError:
            raise ValueError("'scrypt' takes 3 arguments") from None
        # OpenSSL needs a little more than 128*n*r*p bytes.
        digest = hashlib.scrypt(password.encode(), salt=salt.encode(), n=n, r=r, p=p, maxmem=132 * n * r * p)
        return digest.hex(), f"scrypt:{n}:{r}:{p}"
    if name == "pbkdf2":
        if len(args) > 2:
            raise ValueError("'pbkdf2' takes 2 arguments")
        hash_name = args[0] if args else "sha256"
        iterations = int(args[1]) if len(args) == 2 else _PBKDF2_DEFAULT_ITERATIONS
        digest = hashlib.pbkdf2_hmac(hash_name, password.encode(), salt.encode(), iterations)
        return digest.hex(), f"pbkdf2:{hash_name}:{iterations}"
    raise ValueError(f"unknown password hash method {name!r}")


def generate_password_hash(password: str, method: str = "scrypt") -> str:
    """``<method>$<salt>$<digest>`` for storage; `method` as in Werkzeug (`scrypt`, `pbkdf2:sha256:1000`)."""
    salt = "".join(secrets.choice(SALT_CHARS) for _ in range(SALT_LENGTH))
    digest, full_method = _derive(method, salt, password)
    return f"{full_method}${salt}${digest}"


def check_password_hash(pwhash: str, password: str) -> bool:
    """Whether `password` matches the stored hash (compared in constant time)."""
    try:
        method, salt, digest = pwhash.split("$", 2)
    except ValueError:
        return False
    return hmac.compare_digest(_derive(method, salt, password)[0], digest)
