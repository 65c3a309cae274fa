"""Checkpoint storage: an S3 bucket or a local directory, chosen by URL.

`open_checkpoint_store(settings)` returns a `CheckpointStore` for
CEREBROS_CHECKPOINT_URL. Every store keys checkpoints by job id and phase
(`JOB_ID/phase-N.keras`, or `JOB_ID/phase-N-partial.keras` for a phase
stopped early), verifies each upload, and raises `StorageError`
with a message that names the fix.
"""

from cerebros_trainer.errors import StorageError
from cerebros_trainer.storage.base import (
    CheckpointStore,
    StorageUnavailable,
    checkpoint_filename,
    validate_job_id,
)
from cerebros_trainer.storage.factory import open_checkpoint_store
from cerebros_trainer.storage.local import LocalCheckpointStore
from cerebros_trainer.storage.retry import UploadRetry, upload_with_retry
from cerebros_trainer.storage.s3 import S3CheckpointStore, make_s3_client
from cerebros_trainer.storage.urls import CheckpointLocation, parse_checkpoint_url

__all__ = [
    "CheckpointLocation",
    "CheckpointStore",
    "LocalCheckpointStore",
    "S3CheckpointStore",
    "StorageError",
    "StorageUnavailable",
    "UploadRetry",
    "checkpoint_filename",
    "make_s3_client",
    "open_checkpoint_store",
    "parse_checkpoint_url",
    "upload_with_retry",
    "validate_job_id",
]
