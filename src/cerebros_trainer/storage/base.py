"""The checkpoint store interface and the checks shared by its implementations."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

from cerebros_trainer.errors import StorageError

CHUNK_SIZE = 1024 * 1024
MAX_JOB_ID_LENGTH = 200

# Only characters that are safe in both an S3 key and a file name, so a job
# id can never add a path segment or climb out of the store's prefix.
_JOB_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]+")


class StorageUnavailable(StorageError):
    """The store could not be reached or asked for a pause: a later retry may work.

    Raised for connection failures, timeouts, throttling (SlowDown) and 5xx
    responses that remain after the client's own retries.
    """


@runtime_checkable
class CheckpointStore(Protocol):
    """Storage for the `.keras` checkpoint written after each training phase.

    Every method raises `StorageError` with a message that names the fix.
    Uploading the same job, phase and `partial` flag again replaces the
    stored checkpoint. A partial checkpoint (`phase-N-partial.keras`) holds
    a phase that a shutdown stopped early and never replaces a finished one.
    """

    def preflight(self) -> None:
        """Check that the store is reachable and writable before any job runs."""
        ...

    def upload(
        self, local_path: Path, *, job_id: str, phase: int, partial: bool = False
    ) -> str:
        """Store a checkpoint file, verify the stored copy and return its URL."""
        ...

    def download(self, url: str, dest: Path) -> Path:
        """Copy the checkpoint at `url` to `dest`, verify it and return `dest`."""
        ...

    def exists(self, url: str) -> bool:
        """Return whether a checkpoint is stored at `url`."""
        ...


def validate_job_id(job_id: str) -> str:
    """Return the job id unchanged, or raise StorageError if it is unsafe as a key."""
    valid = (
        isinstance(job_id, str)
        and 0 < len(job_id) <= MAX_JOB_ID_LENGTH
        and _JOB_ID_PATTERN.fullmatch(job_id) is not None
        and ".." not in job_id
        and job_id != "."
    )
    if not valid:
        raise StorageError(
            f"invalid job id {job_id!r} for a checkpoint name: expected 1 to "
            f"{MAX_JOB_ID_LENGTH} characters from A-Z, a-z, 0-9, '.', '_' and "
            "'-', without '..'"
        )

    return job_id


def validate_phase(phase: int) -> int:
    """Return the phase unchanged, or raise StorageError if it is not an integer >= 0."""
    if isinstance(phase, bool) or not isinstance(phase, int) or phase < 0:
        raise StorageError(
            f"invalid phase {phase!r} for a checkpoint name: expected an "
            "integer of 0 or more"
        )

    return phase


def checkpoint_filename(phase: int, *, partial: bool = False) -> str:
    """Return a checkpoint's file name: `phase-2.keras` or `phase-2-partial.keras`."""
    suffix = "-partial" if partial else ""
    return f"phase-{validate_phase(phase)}{suffix}.keras"


def sha256_file(path: Path) -> tuple[str, int]:
    """Return the hex SHA-256 digest and the size in bytes of a file."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as source:
        for chunk in iter(lambda: source.read(CHUNK_SIZE), b""):
            digest.update(chunk)
            size += len(chunk)

    return digest.hexdigest(), size


def copy_with_sha256(source: BinaryIO, target: BinaryIO) -> tuple[str, int]:
    """Copy a stream, fsync the target, and return the hex SHA-256 and size copied."""
    digest = hashlib.sha256()
    size = 0
    for chunk in iter(lambda: source.read(CHUNK_SIZE), b""):
        digest.update(chunk)
        target.write(chunk)
        size += len(chunk)

    target.flush()
    os.fsync(target.fileno())
    return digest.hexdigest(), size


def require_file(path: Path) -> int:
    """Return the size of a checkpoint file, or raise StorageError if it is missing."""
    try:
        stat = path.stat()
    except OSError as error:
        raise StorageError(
            f"failed to read checkpoint file {path}: {error.strerror or error}. "
            "Check that the checkpoint was saved before the upload."
        ) from error

    if not path.is_file():
        raise StorageError(f"checkpoint path {path} is not a regular file")

    return stat.st_size
