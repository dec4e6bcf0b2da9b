"""The workers' rq Job class writes a finished job's payload back as it was read, instead of
compressing it again (`triage.jobs.kept_payload`)."""

from __future__ import annotations

import pytest
import rq.job
from rq import Queue, SimpleWorker
from rq.job import Job, JobStatus

from triage.jobs.kept_payload import KeptPayloadJob

PAYLOAD = [{"pk": i, "stored": {"terms": "质量太差了" * 20}} for i in range(100)]


def run_one(redis_conn, monkeypatch) -> tuple[Job, list[int]]:
    job = Queue("kept", connection=redis_conn).enqueue("builtins.len", PAYLOAD, job_id="kept-1")
    compressed: list[int] = []
    real = rq.job.zlib.compress

    def counting(data, *args):
        compressed.append(len(data))
        return real(data, *args)

    monkeypatch.setattr(rq.job.zlib, "compress", counting)
    SimpleWorker(["kept"], connection=redis_conn, job_class=KeptPayloadJob).work(burst=True)
    monkeypatch.setattr(rq.job.zlib, "compress", real)
    return job, compressed


def test_a_finished_job_keeps_the_payload_bytes_it_was_enqueued_with(redis_conn, monkeypatch):
    job, _ = run_one(redis_conn, monkeypatch)
    stored = redis_conn.hget(job.key, "data")
    done = Job.fetch(job.id, connection=redis_conn)
    assert done.get_status() == JobStatus.FINISHED
    assert done.return_value() == len(PAYLOAD)
    assert done.args == (PAYLOAD,)
    assert stored == job.to_dict()["data"]


@pytest.mark.slow
def test_the_worker_does_not_compress_the_payload_again(redis_conn, monkeypatch):
    _, compressed = run_one(redis_conn, monkeypatch)
    assert all(size < 1000 for size in compressed), compressed  # only small fields, never the payload
