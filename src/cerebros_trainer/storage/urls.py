"""Parsing of checkpoint locations (`s3://bucket/prefix` and `file:///dir`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit
from urllib.request import url2pathname


@dataclass(frozen=True)
class CheckpointLocation:
    """A parsed checkpoint URL.

    For `s3` the bucket is set and the prefix has no leading or trailing
    slash (it may be empty). For `file` the path is an absolute directory.
    """

    scheme: Literal["s3", "file"]
    bucket: str = ""
    prefix: str = ""
    path: Path | None = None


def parse_checkpoint_url(url: str) -> CheckpointLocation:
    """Parse a checkpoint URL, raising ValueError that names the value and the fix."""
    parts = urlsplit(url.strip())
    if parts.scheme == "s3":
        return _parse_s3(url, parts.netloc, parts.path)

    if parts.scheme == "file":
        return _parse_file(url, parts.netloc, parts.path)

    raise ValueError(
        f"checkpoint URL {url!r} has an unsupported scheme {parts.scheme!r}: "
        "expected s3://BUCKET/PREFIX or file:///ABSOLUTE/DIR"
    )


def _parse_s3(url: str, bucket: str, path: str) -> CheckpointLocation:
    if not bucket:
        raise ValueError(
            f"checkpoint URL {url!r} names no bucket: expected s3://BUCKET/PREFIX"
        )

    return CheckpointLocation(scheme="s3", bucket=bucket, prefix=path.strip("/"))


def _parse_file(url: str, host: str, path: str) -> CheckpointLocation:
    # A relative path such as file://checkpoints parses with the directory
    # name as the host, so any host other than localhost is a mistake.
    if host not in ("", "localhost"):
        raise ValueError(
            f"checkpoint URL {url!r} has host {host!r}: expected an absolute "
            "local path such as file:///var/lib/cerebros/checkpoints"
        )

    if not path.startswith("/"):
        raise ValueError(
            f"checkpoint URL {url!r} has no absolute path: expected "
            "file:///ABSOLUTE/DIR"
        )

    return CheckpointLocation(scheme="file", path=Path(url2pathname(path)))


def s3_url(bucket: str, key: str) -> str:
    """Return the `s3://` URL of an object."""
    return f"s3://{bucket}/{key}"


def split_s3_url(url: str) -> tuple[str, str]:
    """Split `s3://bucket/key` into bucket and key, raising ValueError if either is missing."""
    parts = urlsplit(url)
    key = parts.path.lstrip("/")
    if parts.scheme != "s3" or not parts.netloc or not key:
        raise ValueError(f"invalid S3 object URL {url!r}: expected s3://BUCKET/KEY")

    return parts.netloc, key
