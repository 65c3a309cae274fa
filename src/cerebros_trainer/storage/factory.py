"""Choice of checkpoint store from CEREBROS_CHECKPOINT_URL."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cerebros_trainer.errors import StorageError
from cerebros_trainer.storage.base import CheckpointStore
from cerebros_trainer.storage.local import LocalCheckpointStore
from cerebros_trainer.storage.s3 import S3CheckpointStore, S3Client, make_s3_client
from cerebros_trainer.storage.urls import parse_checkpoint_url

if TYPE_CHECKING:
    from cerebros_trainer.settings import WorkerSettings


def open_checkpoint_store(
    settings: WorkerSettings, *, s3_client: S3Client | None = None
) -> CheckpointStore:
    """Return the store for `settings.checkpoint_url` (s3:// or file://).

    `s3_client` replaces the client that `make_s3_client` would build.
    Nothing is contacted here; call `preflight()` to check the store.
    """
    try:
        location = parse_checkpoint_url(settings.checkpoint_url)
    except ValueError as error:
        raise StorageError(f"CEREBROS_CHECKPOINT_URL is invalid: {error}") from error

    if location.path is not None:
        return LocalCheckpointStore(location.path)

    return S3CheckpointStore(
        location.bucket,
        location.prefix,
        client=s3_client if s3_client is not None else make_s3_client(settings),
        multipart_threshold=settings.s3_multipart_threshold,
    )
