"""Open corpus locations: local paths, file://, s3:// and http(s):// URLs.

A location names one file or a directory (an s3 prefix ending in "/" is a
directory). Each file becomes a `CorpusFile` whose `open()` returns a binary
stream, so the format readers never see where the bytes come from.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import unquote, urlsplit

import requests

from cerebros_trainer.errors import CorpusError

logger = logging.getLogger(__name__)

SUPPORTED_SCHEMES = ("file", "s3", "http", "https")

# Suffixes read as corpus files; ".gz" may follow any of them.
FORMAT_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".txt": "txt", ".csv": "csv"}

HTTP_CONNECT_TIMEOUT_S = 10.0
HTTP_READ_TIMEOUT_S = 60.0
STREAM_BUFFER_BYTES = 1024 * 1024


@dataclass(frozen=True)
class CorpusFile:
    """One file of a corpus: a display name, its format and a stream opener."""

    name: str
    format: str
    compressed: bool
    open: Callable[[], IO[bytes]]


class ReadableBody(Protocol):
    """A response body with `read(amt)` (urllib3 responses, botocore bodies)."""

    def read(self, amt: int | None = ...) -> bytes: ...


class _BodyReader(io.RawIOBase):
    """A raw stream over a body object that only offers `read(amt)`."""

    def __init__(self, body: ReadableBody, close: Callable[[], None]) -> None:
        self._body = body
        self._close = close

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._close()
        super().close()


def detect_format(name: str) -> tuple[str, bool] | None:
    """Return (format, compressed) for a file name, or None if unsupported."""
    lowered = name.lower()
    compressed = lowered.endswith(".gz")
    if compressed:
        lowered = lowered[: -len(".gz")]

    for suffix, fmt in FORMAT_SUFFIXES.items():
        if lowered.endswith(suffix):
            return fmt, compressed
    return None


def list_corpus_files(
    location: str,
    *,
    allowed_roots: Sequence[Path] = (),
    s3_client: Any = None,
) -> list[CorpusFile]:
    """Resolve `location` to the corpus files it names, sorted by name.

    Raises `CorpusError` when the location does not exist, lies outside
    `allowed_roots`, uses another scheme, or names no supported file.
    """
    parts = urlsplit(location)
    scheme = parts.scheme.lower()
    if location.startswith("/") or not scheme:
        return _local_files(location, allowed_roots)
    if scheme not in SUPPORTED_SCHEMES:
        raise CorpusError(
            f"corpus location {location!r} uses the unsupported scheme "
            f"{scheme!r}: expected an absolute path or a file://, s3://, "
            "http:// or https:// URL"
        )

    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise CorpusError(
                f"corpus location {location!r} names the host {parts.netloc!r}: "
                "file:// URLs must point at this worker's disk, as file:///path"
            )
        return _local_files(unquote(parts.path), allowed_roots)
    if scheme == "s3":
        return _s3_files(location, parts.netloc, parts.path.lstrip("/"), s3_client)
    return [_http_file(location)]


def _local_files(raw_path: str, allowed_roots: Sequence[Path]) -> list[CorpusFile]:
    if not raw_path.startswith("/"):
        raise CorpusError(
            f"corpus path {raw_path!r} is relative: expected an absolute path "
            "on the worker's disk or a file://, s3:// or http(s):// URL"
        )

    path = Path(os.path.realpath(raw_path))
    _check_allowed(raw_path, path, allowed_roots)
    if not path.exists():
        raise CorpusError(
            f"corpus path {raw_path} does not exist on this worker. The corpus "
            "path is read from the worker's own disk, so it must be on a "
            "filesystem shared with the server, or the dataset's corpus path "
            "must be a URL (s3://bucket/key or https://...)"
        )

    if path.is_dir():
        files = [
            _local_file(child, child.relative_to(path).as_posix())
            for child in sorted(path.rglob("*"))
            if child.is_file() and detect_format(child.name) is not None
        ]
        return _require_files(raw_path, files)
    return [_local_file(path, path.name)]


def _check_allowed(raw_path: str, path: Path, allowed_roots: Sequence[Path]) -> None:
    if not allowed_roots:
        return

    roots = [Path(os.path.realpath(root)) for root in allowed_roots]
    if any(path == root or root in path.parents for root in roots):
        return
    listed = ", ".join(str(root) for root in roots)
    raise CorpusError(
        f"corpus path {raw_path} is outside the allowed corpus roots ({listed}): "
        "move the corpus under one of them or add its directory to the "
        "worker's corpus_roots setting"
    )


def _local_file(path: Path, name: str) -> CorpusFile:
    detected = detect_format(path.name)
    if detected is None:
        raise _unsupported_file(str(path))

    def open_file() -> IO[bytes]:
        return open(path, "rb", buffering=STREAM_BUFFER_BYTES)

    return CorpusFile(name, detected[0], detected[1], open_file)


def _unsupported_file(location: str) -> CorpusError:
    return CorpusError(
        f"corpus file {location} has an unsupported format: expected a name "
        "ending in .jsonl, .ndjson, .txt or .csv (optionally followed by .gz), "
        "or a directory of such files"
    )


def _require_files(location: str, files: list[CorpusFile]) -> list[CorpusFile]:
    if files:
        return files
    raise CorpusError(
        f"corpus directory {location} contains no .jsonl, .ndjson, .txt or .csv "
        "files (optionally .gz): write the corpus there or point the dataset "
        "at the right directory"
    )


def _http_file(url: str) -> CorpusFile:
    path = urlsplit(url).path
    detected = detect_format(path)
    if detected is None:
        raise _unsupported_file(url)
    name = path.rsplit("/", 1)[-1] or url

    def open_url() -> IO[bytes]:
        return _open_url(url)

    return CorpusFile(name, detected[0], detected[1], open_url)


def _open_url(url: str) -> IO[bytes]:
    try:
        response = requests.get(
            url,
            stream=True,
            timeout=(HTTP_CONNECT_TIMEOUT_S, HTTP_READ_TIMEOUT_S),
        )
    except requests.RequestException as exc:
        raise CorpusError(
            f"corpus download from {url} failed: {exc}. Check that the URL is "
            "reachable from this worker"
        ) from exc

    if response.status_code != 200:
        response.close()
        raise CorpusError(
            f"corpus download from {url} failed: HTTP {response.status_code}, "
            "expected 200. Check the dataset's corpus URL"
        )

    # Undo a Content-Encoding (gzip on the wire) but not a .gz file's own
    # compression, which the format reader handles.
    response.raw.decode_content = True
    raw = _BodyReader(response.raw, response.close)
    return io.BufferedReader(raw, buffer_size=STREAM_BUFFER_BYTES)


def _s3_files(location: str, bucket: str, key: str, s3_client: Any) -> list[CorpusFile]:
    if not bucket:
        raise CorpusError(
            f"corpus location {location!r} names no bucket: expected s3://bucket/key"
        )

    client = s3_client if s3_client is not None else _default_s3_client()
    if key == "" or key.endswith("/"):
        return _require_files(location, _s3_prefix_files(client, bucket, key))
    if _s3_object_exists(client, location, bucket, key):
        if detect_format(key) is None:
            raise _unsupported_file(location)
        return [_s3_file(client, bucket, key, key.rsplit("/", 1)[-1])]

    # A key without the trailing slash may still name a "directory".
    files = _s3_prefix_files(client, bucket, key + "/")
    if files:
        return files
    raise CorpusError(
        f"corpus object {location} does not exist: check the bucket and key, "
        "and end a directory prefix with '/'"
    )


def _default_s3_client() -> Any:
    import boto3

    # boto3 reads credentials, region and AWS_ENDPOINT_URL from the environment.
    return boto3.client("s3")


def _s3_object_exists(client: Any, location: str, bucket: str, key: str) -> bool:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        client.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchKey", "NotFound"):
            return False
        raise CorpusError(f"corpus object {location} could not be read: {exc}") from exc
    except BotoCoreError as exc:
        raise CorpusError(f"corpus object {location} could not be read: {exc}") from exc
    return True


def _s3_prefix_files(client: Any, bucket: str, prefix: str) -> list[CorpusFile]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        keys = sorted(_iter_s3_keys(client, bucket, prefix))
    except (BotoCoreError, ClientError) as exc:
        raise CorpusError(
            f"listing corpus prefix s3://{bucket}/{prefix} failed: {exc}"
        ) from exc

    return [
        _s3_file(client, bucket, key, key[len(prefix) :])
        for key in keys
        if detect_format(key) is not None
    ]


def _iter_s3_keys(client: Any, bucket: str, prefix: str) -> Iterator[str]:
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            yield str(item["Key"])


def _s3_file(client: Any, bucket: str, key: str, name: str) -> CorpusFile:
    fmt, compressed = detect_format(key) or ("jsonl", False)

    def open_object() -> IO[bytes]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            body = client.get_object(Bucket=bucket, Key=key)["Body"]
        except (BotoCoreError, ClientError) as exc:
            raise CorpusError(
                f"corpus object s3://{bucket}/{key} could not be read: {exc}"
            ) from exc
        raw = _BodyReader(body, body.close)
        return io.BufferedReader(raw, buffer_size=STREAM_BUFFER_BYTES)

    return CorpusFile(name, fmt, compressed, open_object)
