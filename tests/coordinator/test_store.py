"""SQLite storage: transactions roll back, and jobs survive a restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from cerebros_client.testing import CoordinatorServer, Store

from .support import call, running_job


def test_rollback_on_error(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite3")
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.put_dataset({"id": "d1", "name": "x"})
        raise RuntimeError("abort")

    with store.transaction() as tx:
        assert tx.get_dataset("d1") is None
    store.close()


def test_restart_keeps_jobs(tmp_path: Path, corpus_file: Path) -> None:
    db = tmp_path / "coordinator.sqlite3"
    server = CoordinatorServer(db=db).start()
    job_id = running_job(server, corpus_file)
    call(
        server,
        "POST",
        f"/api/jobs/{job_id}/checkpoints",
        json={"checkpoint_url": "s3://b/phase-1.keras", "phase": 1},
        headers={"Idempotency-Key": "k1"},
    )
    queued_id = server.seed(corpus_file)["job_id"]
    server.stop()

    server.start()
    try:
        job = server.admin.get_job(job_id)
        replay = call(
            server,
            "POST",
            f"/api/jobs/{job_id}/checkpoints",
            json={"checkpoint_url": "s3://b/phase-1.keras", "phase": 1},
            headers={"Idempotency-Key": "k1"},
        )
        polled = call(server, "GET", "/api/jobs/poll").json()
    finally:
        server.stop()

    assert job["status"] == "running"
    assert job["checkpoint_urls"] == ["s3://b/phase-1.keras"]
    assert replay.headers["Idempotency-Key-Honored"] == "true"
    assert polled["id"] == queued_id


def test_new_server_reads_same_file(tmp_path: Path, corpus_file: Path) -> None:
    db = tmp_path / "coordinator.sqlite3"
    with CoordinatorServer(db=db, profile="thunderline-compat") as first:
        job_id = first.seed(corpus_file)["job_id"]

    with CoordinatorServer(db=db) as second:
        jobs = second.admin.list_jobs()

    assert [job["id"] for job in jobs] == [job_id]


def test_two_stores_share_claims(tmp_path: Path, corpus_file: Path) -> None:
    db = tmp_path / "coordinator.sqlite3"
    with CoordinatorServer(db=db) as first, CoordinatorServer(db=db) as second:
        first.seed(corpus_file)
        claims = [
            call(server, "POST", "/api/jobs/claim", json={"worker_id": name})
            for server, name in ((first, "a"), (second, "b"))
        ]

    assert [response.status_code for response in claims] == [200, 204]
