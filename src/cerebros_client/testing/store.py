"""SQLite storage for the stand-in coordinator.

Each record is one JSON document in a ``doc`` column, with the columns that
queries filter on (status, lease expiry, creation order) kept beside it.
Every change runs inside ``BEGIN IMMEDIATE``, which takes the database write
lock up front, so two claims (even from two processes sharing one file)
cannot read the same queued job and both take it.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

Clock = Callable[[], float]
Document = dict[str, Any]

MEMORY = ":memory:"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS datasets (
    id TEXT PRIMARY KEY,
    doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    status TEXT NOT NULL,
    lease_expires_at REAL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_status_seq ON jobs (status, seq);
CREATE TABLE IF NOT EXISTS idempotency_keys (
    job_id TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status_code INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (job_id, key)
);
CREATE TABLE IF NOT EXISTS services (
    id TEXT PRIMARY KEY,
    service_id TEXT NOT NULL UNIQUE,
    doc TEXT NOT NULL
);
"""


class StoredResponse:
    """First response recorded under an idempotency key."""

    def __init__(self, request_hash: str, status_code: int, body: Document):
        self.request_hash = request_hash
        self.status_code = status_code
        self.body = body


class Transaction:
    """Reads and writes that run inside one open SQLite transaction."""

    def __init__(self, connection: sqlite3.Connection):
        self._db = connection

    def get_dataset(self, dataset_id: str) -> Document | None:
        """Return the dataset with this id, or None."""
        row = self._db.execute(
            "SELECT doc FROM datasets WHERE id = ?", (dataset_id,)
        ).fetchone()
        return None if row is None else _load(row[0])

    def put_dataset(self, dataset: Document) -> None:
        """Insert or replace a dataset document."""
        self._db.execute(
            "INSERT OR REPLACE INTO datasets (id, doc) VALUES (?, ?)",
            (dataset["id"], json.dumps(dataset)),
        )

    def get_job(self, job_id: str) -> Document | None:
        """Return the job with this id, or None."""
        row = self._db.execute(
            "SELECT doc FROM jobs WHERE id = ?", (job_id,)
        ).fetchone()
        return None if row is None else _load(row[0])

    def insert_job(self, job: Document) -> None:
        """Insert a new job after every existing one in queue order."""
        row = self._db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM jobs").fetchone()
        self._db.execute(
            "INSERT INTO jobs (id, seq, status, lease_expires_at, doc)"
            " VALUES (?, ?, ?, ?, ?)",
            (
                job["id"],
                row[0],
                job["status"],
                job.get("lease_expires_ts"),
                json.dumps(job),
            ),
        )

    def update_job(self, job: Document) -> None:
        """Write back a job read in this transaction."""
        self._db.execute(
            "UPDATE jobs SET status = ?, lease_expires_at = ?, doc = ? WHERE id = ?",
            (job["status"], job.get("lease_expires_ts"), json.dumps(job), job["id"]),
        )

    def list_jobs(self, status: str | None = None) -> list[Document]:
        """Return jobs in creation order, optionally only those with ``status``."""
        if status is None:
            rows = self._db.execute("SELECT doc FROM jobs ORDER BY seq").fetchall()
        else:
            rows = self._db.execute(
                "SELECT doc FROM jobs WHERE status = ? ORDER BY seq", (status,)
            ).fetchall()
        return [_load(row[0]) for row in rows]

    def oldest_queued_job(self) -> Document | None:
        """Return the queued job created first, or None when the queue is empty."""
        row = self._db.execute(
            "SELECT doc FROM jobs WHERE status = 'queued' ORDER BY seq LIMIT 1"
        ).fetchone()
        return None if row is None else _load(row[0])

    def expired_leases(self, now: float) -> list[Document]:
        """Return running jobs whose lease expired at or before ``now``."""
        rows = self._db.execute(
            "SELECT doc FROM jobs WHERE status = 'running'"
            " AND lease_expires_at IS NOT NULL AND lease_expires_at <= ?",
            (now,),
        ).fetchall()
        return [_load(row[0]) for row in rows]

    def get_idempotent_response(self, job_id: str, key: str) -> StoredResponse | None:
        """Return the response first sent for this job and key, or None."""
        row = self._db.execute(
            "SELECT request_hash, status_code, body FROM idempotency_keys"
            " WHERE job_id = ? AND key = ?",
            (job_id, key),
        ).fetchone()
        if row is None:
            return None
        return StoredResponse(row[0], row[1], _load(row[2]))

    def put_idempotent_response(
        self, job_id: str, key: str, response: StoredResponse
    ) -> None:
        """Record the response sent for this job and key."""
        self._db.execute(
            "INSERT INTO idempotency_keys"
            " (job_id, key, request_hash, status_code, body) VALUES (?, ?, ?, ?, ?)",
            (
                job_id,
                key,
                response.request_hash,
                response.status_code,
                json.dumps(response.body),
            ),
        )

    def get_service(self, registration_id: str) -> Document | None:
        """Return the registered service with this id, or None."""
        row = self._db.execute(
            "SELECT doc FROM services WHERE id = ?", (registration_id,)
        ).fetchone()
        return None if row is None else _load(row[0])

    def find_service(self, service_id: str) -> Document | None:
        """Return the registration of the service named ``service_id``, or None."""
        row = self._db.execute(
            "SELECT doc FROM services WHERE service_id = ?", (service_id,)
        ).fetchone()
        return None if row is None else _load(row[0])

    def put_service(self, service: Document) -> None:
        """Insert or replace a service registration."""
        self._db.execute(
            "INSERT OR REPLACE INTO services (id, service_id, doc) VALUES (?, ?, ?)",
            (service["id"], service["service_id"], json.dumps(service)),
        )


class Store:
    """SQLite database of datasets, jobs, idempotency keys and services.

    ``path`` is a file (kept across restarts) or ``":memory:"``. One
    connection serves all threads, guarded by a lock, because an in-memory
    database exists only inside the connection that created it.
    """

    def __init__(self, path: str | Path = MEMORY, *, clock: Clock = time.time):
        self.path = str(path)
        self.clock = clock
        self._lock = threading.RLock()
        self._db = sqlite3.connect(
            self.path, check_same_thread=False, isolation_level=None, timeout=30.0
        )
        if self.path != MEMORY:
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        logger.debug("opened coordinator database %s", self.path)

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Run the body in one ``BEGIN IMMEDIATE`` transaction.

        The transaction commits when the body returns and rolls back when it
        raises, so a rejected request leaves no partial change behind.
        """
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield Transaction(self._db)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._db.close()


def _load(text: str) -> Document:
    document: Document = json.loads(text)
    return document
