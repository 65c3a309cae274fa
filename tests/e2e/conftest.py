"""End-to-end tests: a real worker against the stand-in coordinator and moto S3."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tests.fixtures_worker import s3_server, worker_stack  # noqa: F401
