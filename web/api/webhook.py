"""POST /api/v1/webhooks/reviews — the connectors' signed review delivery.

Checks run cheapest-first and in the contract's order: media type (415), size (413, before the
signature, because verifying needs the whole body and an unauthenticated caller must not make us
buffer more than 1 MiB), signature and timestamp (401), JSON (400), review count (413), review
validation (422). A batch is atomic: one invalid review and nothing is stored. 202 is sent only
after the commit; enqueueing for scoring afterwards may fail without losing anything.
"""

from __future__ import annotations

import codecs
import sys
from typing import Any

from flask import jsonify, request

from triage.errors import InvalidJson, TooLarge, UnsupportedMediaType
from triage.ingest import enqueue_after_commit, ingest
from triage.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from triage.timeutil import utcnow
from triage.validation import loads_json, reviews_from_body
from web.api.auth import public
from web.api.blueprint import bp
from web.db import get_db, get_redis, get_settings

MAX_BODY_BYTES = 1024 * 1024


def _read_body() -> bytes:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise TooLarge(f"body is {request.content_length} bytes; at most {MAX_BODY_BYTES}")
    # The header may be absent (chunked), so the read itself is bounded too. A stream may return
    # short reads, hence the loop.
    stream = request.stream
    chunks: list[bytes] = []
    size = 0
    while size <= MAX_BODY_BYTES:
        chunk = stream.read(MAX_BODY_BYTES + 1 - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > MAX_BODY_BYTES:
        raise TooLarge(f"body is over {MAX_BODY_BYTES} bytes")
    return b"".join(chunks)


def _parse_json(body: bytes) -> Any:
    if body.startswith(codecs.BOM_UTF8):
        # RFC 8259 forbids senders to add one; say so rather than "Unexpected UTF-8 BOM".
        raise InvalidJson("body starts with a UTF-8 byte order mark; send JSON without one")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidJson(f"body is not UTF-8 (invalid byte at offset {exc.start})") from exc
    try:
        return loads_json(text)
    except RecursionError as exc:
        raise InvalidJson("body is not valid JSON: nested too deeply") from exc
    except ValueError as exc:
        if "integer string conversion" in str(exc):
            # Python's own message advises sys.set_int_max_str_digits(), which means nothing to a sender.
            raise InvalidJson(f"body is not valid JSON: a number has more than {sys.get_int_max_str_digits()} digits") from exc
        raise InvalidJson(f"body is not valid JSON: {exc}") from exc


@bp.post("/webhooks/reviews")
@public  # authenticated by its HMAC signature, not a token
def webhook():
    received_at = utcnow()
    if request.mimetype != "application/json":
        raise UnsupportedMediaType()
    body = _read_body()
    verify(
        body,
        request.headers.get(TIMESTAMP_HEADER),
        request.headers.get(SIGNATURE_HEADER),
        get_settings().webhook_secrets,
    )
    reviews = reviews_from_body(_parse_json(body), now=received_at)
    conn = get_db()
    redis = get_redis()
    # One write transaction: new and updated reviews are stored already claimed for scoring.
    result = ingest(conn, reviews, received_at, claim=redis is not None)
    if result.to_score:
        enqueue_after_commit(conn, redis, result)
    return jsonify(result.to_json()), 202
