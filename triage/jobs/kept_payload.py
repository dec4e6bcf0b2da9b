"""An rq Job that writes its payload back as the bytes it was read as.

rq saves a job again when it finishes (status, times), and each save compresses the job's payload
anew, although the payload never changes after enqueueing. For the db worker's `apply_scores`
jobs (100 score results, ~90 KB pickled) that second `zlib.compress` is ~4 ms of CPU per job, some
5 % of the single writer's time. This class keeps the compressed bytes a job was fetched with and
writes those back while the payload is the one it fetched.
"""

from __future__ import annotations

from typing import Any

from rq.job import Job

__all__ = ["KeptPayloadJob"]


class KeptPayloadJob(Job):
    _fetched: tuple[bytes, bytes] | None = None  # (payload as read, its stored compressed form)

    def restore(self, raw_data: Any) -> Any:
        out = super().restore(raw_data)
        stored = raw_data.get(b"data") if hasattr(raw_data, "get") else None
        self._fetched = (self._data, stored) if isinstance(stored, bytes) and isinstance(self._data, bytes) else None
        return out

    def to_dict(self, include_meta: bool = True, include_result: bool = True) -> dict:
        fetched = self._fetched
        if fetched is None or self._data is not fetched[0]:
            return super().to_dict(include_meta=include_meta, include_result=include_result)
        payload = self._data
        self._data = b""  # the one field rq compresses; put back below
        try:
            out = super().to_dict(include_meta=include_meta, include_result=include_result)
        finally:
            self._data = payload
        out["data"] = fetched[1]
        return out
