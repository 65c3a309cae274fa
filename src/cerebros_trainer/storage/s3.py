"""Checkpoint storage in an S3 bucket (AWS, MinIO or another S3-compatible store)."""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from cerebros_trainer.errors import StorageError
from cerebros_trainer.storage.base import (
    StorageUnavailable,
    checkpoint_filename,
    require_file,
    sha256_file,
    validate_job_id,
)
from cerebros_trainer.storage.urls import s3_url, split_s3_url

if TYPE_CHECKING:
    from cerebros_trainer.settings import WorkerSettings

logger = logging.getLogger(__name__)

# boto3 ships no type information, so clients are typed as Any.
S3Client = Any

# boto3's own default: more, smaller parts upload in parallel, which was
# faster for a 105 MB checkpoint than 64 MiB parts (benchmarks/checkpoint_upload.py).
DEFAULT_MULTIPART_THRESHOLD = 8 * 1024 * 1024
DEFAULT_MAX_CONCURRENCY = 4
SHA256_METADATA_KEY = "sha256"

_MISSING_CODES = {"404", "NoSuchBucket", "NoSuchKey", "NotFound"}
_DENIED_CODES = {
    "403",
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AllAccessDisabled",
}
_UNAVAILABLE_CODES = {
    "500",
    "502",
    "503",
    "504",
    "SlowDown",
    "InternalError",
    "ServiceUnavailable",
    "RequestTimeout",
}
_CONNECTION_ERRORS = (
    EndpointConnectionError,
    ConnectionClosedError,
    ConnectTimeoutError,
    ReadTimeoutError,
)


def make_s3_client(settings: WorkerSettings) -> S3Client:
    """Build an S3 client from the worker settings.

    Retries use botocore's standard mode, which retries throttling
    (SlowDown), 5xx and connection errors with jittered exponential backoff.
    Checksums are only sent where S3 requires them, because some
    S3-compatible stores reject the newer default checksum headers.
    """
    style = settings.s3_addressing_style
    if style == "auto" and settings.aws_endpoint_url:
        # MinIO, moto and most self-hosted stores need path-style requests unless
        # they are set up with a wildcard DNS domain.
        style = "path"

    config = Config(
        region_name=settings.aws_region,
        signature_version="s3v4",
        s3={"addressing_style": style},
        # total_max_attempts counts the first request, unlike max_attempts.
        retries={"mode": "standard", "total_max_attempts": settings.s3_max_attempts},
        connect_timeout=settings.s3_connect_timeout,
        read_timeout=settings.s3_read_timeout,
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    # A session per client, because boto3's default session is not thread-safe.
    session = boto3.session.Session()
    return session.client("s3", endpoint_url=settings.aws_endpoint_url, config=config)


class S3CheckpointStore:
    """Checkpoints stored as `PREFIX/JOB_ID/phase-N[-partial].keras` in one bucket.

    Each object carries the file's SHA-256 in its `sha256` user metadata,
    which `upload` checks after writing and `download` checks after reading.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        client: S3Client,
        multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = client
        self.transfer_config = TransferConfig(
            multipart_threshold=multipart_threshold,
            multipart_chunksize=multipart_threshold,
            max_concurrency=max_concurrency,
        )

    @property
    def endpoint_url(self) -> str:
        """The endpoint the client sends requests to."""
        return str(self.client.meta.endpoint_url)

    def key_for(self, job_id: str, phase: int, *, partial: bool = False) -> str:
        """Return the object key of a phase's checkpoint, rejecting unsafe job ids."""
        filename = checkpoint_filename(phase, partial=partial)
        name = f"{validate_job_id(job_id)}/{filename}"
        return f"{self.prefix}/{name}" if self.prefix else name

    def preflight(self) -> None:
        """Check credentials, the endpoint and the bucket with one HeadBucket request.

        HeadBucket needs only s3:ListBucket, so missing write permission
        shows up on the first upload instead.
        """
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as error:
            raise StorageError(
                "checkpoint store preflight failed: "
                + _explain(_root_cause(error), self.bucket, self.endpoint_url)
            ) from error

        logger.info(
            "checkpoint bucket %s is reachable at %s", self.bucket, self.endpoint_url
        )

    def upload(
        self, local_path: Path, *, job_id: str, phase: int, partial: bool = False
    ) -> str:
        """Upload a checkpoint, verify its size and SHA-256, and return its URL."""
        key = self.key_for(job_id, phase, partial=partial)
        size = require_file(local_path)
        # The digest goes into the object's metadata, which S3 takes with the
        # first request, so the file is hashed in a pass before the upload.
        digest, _ = sha256_file(local_path)
        started = time.monotonic()
        try:
            self.client.upload_file(
                str(local_path),
                self.bucket,
                key,
                ExtraArgs={
                    "Metadata": {SHA256_METADATA_KEY: digest},
                    "ContentType": "application/octet-stream",
                },
                Config=self.transfer_config,
            )
        except (
            BotoCoreError,
            ClientError,
            boto3.exceptions.S3UploadFailedError,
        ) as error:
            raise self._error("failed to upload checkpoint to", key, error) from error

        self._verify(key, size, digest)
        url = s3_url(self.bucket, key)
        logger.info(
            "uploaded checkpoint %s (%d bytes, sha256 %s) in %.1f s",
            url,
            size,
            digest,
            time.monotonic() - started,
        )
        return url

    def download(self, url: str, dest: Path) -> Path:
        """Download a checkpoint to `dest`, check its SHA-256 and return `dest`.

        An object without `sha256` metadata, such as one written by another
        tool, is downloaded without the check.
        """
        bucket, key = self._split(url)
        expected = (
            self._head(bucket, key, "failed to read checkpoint")
            .get("Metadata", {})
            .get(SHA256_METADATA_KEY)
        )
        dest.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary_name = tempfile.mkstemp(
            dir=dest.parent, prefix=f".{dest.name}.", suffix=".part"
        )
        os.close(handle)
        temporary = Path(temporary_name)
        try:
            self._download_verified(bucket, key, temporary, expected)
            os.replace(temporary, dest)
        finally:
            temporary.unlink(missing_ok=True)

        logger.info("downloaded checkpoint %s to %s", url, dest)
        return dest

    def exists(self, url: str) -> bool:
        """Return whether an object exists at the `s3://` URL."""
        bucket, key = self._split(url)
        try:
            self.client.head_object(Bucket=bucket, Key=key)
        except ClientError as error:
            if _error_code(error) in _MISSING_CODES:
                return False

            raise self._error("failed to check", key, error, bucket=bucket) from error
        except BotoCoreError as error:
            raise self._error("failed to check", key, error, bucket=bucket) from error

        return True

    def _download_verified(
        self, bucket: str, key: str, target: Path, expected: str | None
    ) -> None:
        try:
            self.client.download_file(
                bucket, key, str(target), Config=self.transfer_config
            )
        except (BotoCoreError, ClientError) as error:
            raise self._error(
                "failed to download checkpoint", key, error, bucket=bucket
            ) from error

        if expected is None:
            return

        actual, _ = sha256_file(target)
        if actual != expected:
            raise StorageError(
                f"downloaded checkpoint {s3_url(bucket, key)} is corrupt: sha256 "
                f"{actual}, expected {expected} from the object metadata. "
                "Upload the checkpoint again."
            )

    def _verify(self, key: str, size: int, digest: str) -> None:
        """Compare the stored object's size and sha256 metadata with the local file.

        NOTE: this proves the object is complete and carries this file's
        digest, but it does not re-read the stored bytes.
        """
        head = self._head(self.bucket, key, "failed to verify uploaded checkpoint")
        stored_size = head.get("ContentLength")
        stored_digest = head.get("Metadata", {}).get(SHA256_METADATA_KEY)
        url = s3_url(self.bucket, key)
        if stored_size != size:
            raise StorageError(
                f"uploaded checkpoint {url} failed verification: the object has "
                f"{stored_size} bytes, expected {size}. The file may have changed "
                "during the upload; save the checkpoint again and retry."
            )

        if stored_digest != digest:
            raise StorageError(
                f"uploaded checkpoint {url} failed verification: metadata "
                f"sha256 is {stored_digest!r}, expected {digest!r}. Check that "
                "the S3 store keeps user metadata (x-amz-meta-sha256), then retry."
            )

    def _head(self, bucket: str, key: str, action: str) -> dict[str, Any]:
        try:
            head: dict[str, Any] = self.client.head_object(Bucket=bucket, Key=key)
        except (BotoCoreError, ClientError) as error:
            raise self._error(action, key, error, bucket=bucket) from error

        return head

    def _split(self, url: str) -> tuple[str, str]:
        try:
            return split_s3_url(url)
        except ValueError as error:
            raise StorageError(str(error)) from error

    def _error(
        self,
        action: str,
        key: str,
        error: BaseException,
        *,
        bucket: str | None = None,
    ) -> StorageError:
        """Translate a boto3 error into a StorageError that names the fix."""
        bucket = bucket or self.bucket
        cause = _root_cause(error)
        explanation = _explain(cause, bucket, self.endpoint_url)
        message = f"{action} {s3_url(bucket, key)}: {explanation}"
        if _is_transient(cause):
            return StorageUnavailable(message)
        return StorageError(message)


def _root_cause(error: BaseException) -> BaseException:
    """Return the botocore error behind boto3's S3UploadFailedError, if any."""
    current: BaseException | None = error
    while current is not None and not isinstance(current, (BotoCoreError, ClientError)):
        current = current.__cause__ or current.__context__

    return current if current is not None else error


def _is_transient(error: BaseException) -> bool:
    """Return whether an S3 failure may go away without a change of settings."""
    if isinstance(error, _CONNECTION_ERRORS):
        return True
    return isinstance(error, ClientError) and _error_code(error) in _UNAVAILABLE_CODES


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _explain(error: BaseException, bucket: str, endpoint: str) -> str:
    """Return what went wrong and what to do about it."""
    if isinstance(error, NoCredentialsError):
        return (
            "no AWS credentials found: set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY (or a profile with AWS_PROFILE)"
        )

    if isinstance(error, _CONNECTION_ERRORS):
        return (
            f"S3 endpoint {endpoint} is unreachable ({error}): check "
            "AWS_ENDPOINT_URL and that the server is running"
        )

    if isinstance(error, ClientError):
        return _explain_client_error(error, bucket, endpoint)

    return f"{type(error).__name__}: {error} (bucket {bucket} at {endpoint})"


def _explain_client_error(error: ClientError, bucket: str, endpoint: str) -> str:
    code = _error_code(error)
    if code in ("404", "NoSuchBucket") and _is_bucket_error(error):
        return (
            f"bucket {bucket} does not exist at endpoint {endpoint}: create it "
            "or fix CEREBROS_CHECKPOINT_URL"
        )

    if code in _MISSING_CODES:
        return (
            f"no such object in bucket {bucket} at endpoint {endpoint}: check "
            "the checkpoint URL"
        )

    if code in _DENIED_CODES:
        return (
            f"access to bucket {bucket} at endpoint {endpoint} was denied "
            f"({code}): check that the credentials are valid and allow "
            "s3:ListBucket, s3:GetObject and s3:PutObject on it"
        )

    if code in _UNAVAILABLE_CODES:
        return (
            f"{error}. The S3 store at {endpoint} kept failing after every "
            "retry: try again later or raise CEREBROS_S3_MAX_ATTEMPTS"
        )

    return f"{error} (bucket {bucket} at endpoint {endpoint})"


def _is_bucket_error(error: ClientError) -> bool:
    operation = getattr(error, "operation_name", "")
    return operation == "HeadBucket" or _error_code(error) == "NoSuchBucket"
