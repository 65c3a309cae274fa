"""A moto S3 server on 127.0.0.1 for tests that talk to S3 over real HTTP.

Use it from a conftest or test module with
`from tests.fixtures_s3 import s3_server`, or list "tests.fixtures_s3" in
the root conftest's `pytest_plugins`.
"""

from __future__ import annotations

import atexit
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto.server import ThreadedMotoServer

REGION = "us-east-1"
DEFAULT_BUCKET = "cerebros-checkpoints"

# Variables that could point boto3 at real credentials, profiles or hosts.
_AWS_VARIABLES_TO_CLEAR = (
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
)


@dataclass
class S3Server:
    """A running moto server and helpers to reach it."""

    endpoint_url: str

    def make_client(self, config: Config | None = None) -> Any:
        """Return a path-style boto3 S3 client for this server."""
        config = Config(s3={"addressing_style": "path"}).merge(config or Config())
        return boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint_url, region_name=REGION, config=config
        )

    def create_bucket(self, name: str = DEFAULT_BUCKET) -> str:
        """Create a bucket and return its name."""
        self.make_client().create_bucket(Bucket=name)
        return name

    def reset(self) -> None:
        """Delete every bucket and object that moto stores in this process."""
        request = urllib.request.Request(
            f"{self.endpoint_url}/moto-api/reset", method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()


def use_fake_aws_environment(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    """Point boto3 at fake credentials and away from metadata services and profiles."""
    for name in _AWS_VARIABLES_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing-access-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret-key")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / "config"))
    monkeypatch.setenv("BOTO_CONFIG", str(home / "boto.cfg"))


_server: ThreadedMotoServer | None = None


def _shared_server() -> ThreadedMotoServer:
    """Start one moto server for the whole test run on first use.

    Stopping a server takes half a second (werkzeug's poll interval), so
    tests share one and reset its state instead.
    """
    global _server
    if _server is None:
        _server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        _server.start()
        atexit.register(_server.stop)

    return _server


@pytest.fixture
def s3_server(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> S3Server:
    """Return moto's S3 server on a free loopback port, empty, with fake credentials."""
    use_fake_aws_environment(monkeypatch, tmp_path_factory.mktemp("aws-home"))
    host, port = _shared_server().get_host_and_port()
    s3 = S3Server(endpoint_url=f"http://{host}:{port}")
    # moto keeps its state per process, so clear what earlier tests left.
    s3.reset()
    return s3
