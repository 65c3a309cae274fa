"""Checkpoint storage in a local (or network-mounted) directory."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from cerebros_trainer.errors import StorageError
from cerebros_trainer.storage.base import (
    checkpoint_filename,
    copy_with_sha256,
    require_file,
    sha256_file,
    validate_job_id,
)
from cerebros_trainer.storage.urls import parse_checkpoint_url

logger = logging.getLogger(__name__)

SIDECAR_SUFFIX = ".sha256"


class LocalCheckpointStore:
    """Checkpoints stored as `ROOT/JOB_ID/phase-N[-partial].keras` with a sidecar.

    Files are written under a temporary name and renamed into place, so a
    reader never sees a partly written checkpoint. The `.sha256` sidecar
    contains the digest in `sha256sum` format.
    """

    def __init__(self, root: Path) -> None:
        self.root = root.expanduser().resolve()

    def path_for(self, job_id: str, phase: int, *, partial: bool = False) -> Path:
        """Return the path of a phase's checkpoint, rejecting unsafe job ids."""
        filename = checkpoint_filename(phase, partial=partial)
        return self.root / validate_job_id(job_id) / filename

    def preflight(self) -> None:
        """Create the root directory if needed and check that it is writable."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.root, prefix=".preflight-"):
                pass
        except OSError as error:
            raise StorageError(
                f"checkpoint directory {self.root} is not writable: "
                f"{error.strerror or error}. Fix its permissions or point "
                "CEREBROS_CHECKPOINT_URL at a writable file:// directory."
            ) from error

        logger.info("checkpoint directory %s is writable", self.root)

    def upload(
        self, local_path: Path, *, job_id: str, phase: int, partial: bool = False
    ) -> str:
        """Copy a checkpoint into the store, verify the copy and return its URL."""
        target = self.path_for(job_id, phase, partial=partial)
        require_file(local_path)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            digest, size = _copy_atomically(local_path, target)
            _write_atomically(
                _sidecar(target), f"{digest}  {target.name}\n".encode("ascii")
            )
        except OSError as error:
            raise StorageError(
                f"failed to store checkpoint {local_path} as {target}: "
                f"{error.strerror or error}. Check free space and permissions."
            ) from error

        _verify(target, digest, size)
        url = target.as_uri()
        logger.info("stored checkpoint %s (%d bytes, sha256 %s)", url, size, digest)
        return url

    def download(self, url: str, dest: Path) -> Path:
        """Copy a stored checkpoint to `dest`, check its sidecar digest, return `dest`.

        A checkpoint without a sidecar is copied without the check.
        """
        source = _path_of(url)
        expected = _read_sidecar(source)
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            digest, _ = _copy_atomically(source, dest, expected=expected)
        except OSError as error:
            raise StorageError(
                f"failed to copy checkpoint {url} to {dest}: {error.strerror or error}"
            ) from error

        logger.info("copied checkpoint %s to %s (sha256 %s)", url, dest, digest)
        return dest

    def exists(self, url: str) -> bool:
        """Return whether a checkpoint file exists at the `file://` URL."""
        return _path_of(url).is_file()


def _copy_atomically(
    source: Path, target: Path, *, expected: str | None = None
) -> tuple[str, int]:
    """Copy through a temporary file beside the target, then rename it into place.

    When `expected` is set, a copy with another digest is deleted and
    StorageError is raised, leaving any existing target untouched.
    """
    handle, temporary_name = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".part"
    )
    temporary = Path(temporary_name)
    try:
        with os.fdopen(handle, "wb") as writer, source.open("rb") as reader:
            digest, size = copy_with_sha256(reader, writer)

        if expected is not None and digest != expected:
            raise StorageError(
                f"checkpoint {source} is corrupt: sha256 {digest}, expected "
                f"{expected} from {_sidecar(source).name}. Upload it again."
            )

        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)

    return digest, size


def _write_atomically(target: Path, data: bytes) -> None:
    handle, temporary_name = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".part"
    )
    temporary = Path(temporary_name)
    try:
        with os.fdopen(handle, "wb") as writer:
            writer.write(data)
            writer.flush()
            os.fsync(writer.fileno())

        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def _verify(target: Path, digest: str, size: int) -> None:
    """Re-read the stored checkpoint and compare it with what was written."""
    stored_digest, stored_size = sha256_file(target)
    if stored_size != size or stored_digest != digest:
        raise StorageError(
            f"stored checkpoint {target} failed verification: {stored_size} "
            f"bytes with sha256 {stored_digest}, expected {size} bytes with "
            f"sha256 {digest}. Check the disk and upload again."
        )

    if _read_sidecar(target) != digest:
        raise StorageError(
            f"checksum file {_sidecar(target)} does not match checkpoint "
            f"{target}: another process may be writing the same job and phase"
        )


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + SIDECAR_SUFFIX)


def _read_sidecar(path: Path) -> str | None:
    try:
        text = _sidecar(path).read_text(encoding="ascii")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise StorageError(
            f"failed to read checksum file {_sidecar(path)}: {error}"
        ) from error

    fields = text.split()
    return fields[0] if fields else None


def _path_of(url: str) -> Path:
    try:
        location = parse_checkpoint_url(url)
    except ValueError as error:
        raise StorageError(str(error)) from error

    if location.path is None:
        raise StorageError(
            f"checkpoint URL {url!r} is not a file:// URL, but the checkpoint "
            "store is a local directory: set CEREBROS_CHECKPOINT_URL to match"
        )

    return location.path
