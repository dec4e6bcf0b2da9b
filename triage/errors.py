"""Domain exceptions. Each carries the contract's machine-readable `code`; HTTP statuses live in
`web/errors.py`, so `triage` stays free of the web layer while the mapping sits in one place."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = [
    "BadRequest",
    "BadSignature",
    "Busy",
    "Conflict",
    "Forbidden",
    "InvalidJson",
    "NotFound",
    "StaleTimestamp",
    "TooLarge",
    "TriageError",
    "Unauthorized",
    "UnsupportedMediaType",
    "ValidationFailed",
]


class TriageError(Exception):
    """Base of the errors a caller can act on. `to_dict()` is the JSON error body."""

    code = "error"
    default_message: str | None = None

    def __init__(self, message: str | None = None) -> None:
        self.message = message if message is not None else self.default_message
        super().__init__(self.message or self.code)

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code}
        if self.message:
            body["message"] = self.message
        return body


class ValidationFailed(TriageError):
    """Input broke the rules; `items` lists every problem as {"index", "field", "message"}.

    `code` defaults to the webhook's "invalid_reviews"; other inputs may name their own."""

    code = "invalid_reviews"

    def __init__(
        self, items: Sequence[dict[str, Any]], message: str | None = None, *, code: str | None = None
    ) -> None:
        self.items = list(items)
        if code is not None:
            self.code = code
        super().__init__(message)

    def __str__(self) -> str:
        parts = [f"{i.get('field')}: {i.get('message')}" for i in self.items]
        return "; ".join(parts) or (self.message or self.code)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "items": self.items}


class BadRequest(TriageError):
    """A malformed request that is neither JSON nor review validation (e.g. a bad query parameter)."""

    code = "bad_request"


class InvalidJson(TriageError):
    code = "invalid_json"
    default_message = "body is not valid JSON"


class UnsupportedMediaType(TriageError):
    code = "unsupported_media_type"
    default_message = "Content-Type must be application/json"


class TooLarge(TriageError):
    code = "too_large"


class Unauthorized(TriageError):
    code = "unauthorized"

    def to_dict(self) -> dict[str, Any]:
        # The contract's body is exactly {"error": ...}: say nothing that helps a guesser.
        return {"error": self.code}


class BadSignature(Unauthorized):
    code = "bad_signature"


class StaleTimestamp(Unauthorized):
    code = "stale_timestamp"


class Forbidden(TriageError):
    code = "forbidden"


class NotFound(TriageError):
    code = "not_found"


class Conflict(TriageError):
    """The request clashes with the current state (an existing name, a changed version).

    Subclasses keep the contract's ``{"error": "conflict", "message"}`` and name their kind in an
    extra ``reason`` field (e.g. ``stale_version``, ``claimed``), for clients that branch on it."""

    code = "conflict"
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        body = super().to_dict()
        if self.reason:
            body["reason"] = self.reason
        return body


class Busy(TriageError):
    """A shared resource stayed busy beyond its wait (e.g. the database locked by another writer).

    Nothing was changed; the same request may simply be sent again after `retry_after` seconds."""

    code = "busy"
    default_message = "the service is busy; nothing was changed, retry shortly"
    retry_after = 5

    def __init__(self, message: str | None = None, *, retry_after: int | None = None) -> None:
        if retry_after is not None:
            self.retry_after = retry_after
        super().__init__(message)
