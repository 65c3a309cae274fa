"""Fixtures for the experiment tracking integrations.

MLflow runs go to a file-based tracking store under the test's temporary
directory. MLflow 3 keeps that store only behind MLFLOW_ALLOW_FILE_STORE,
and it needs no server, so the tests set that variable.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Before any test module imports mlflow, which starts its telemetry then.
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"

from tests.fixtures_worker import s3_server, worker_stack  # noqa: F401

MLFLOW_VARIABLES = (
    "MLFLOW_TRACKING_URI",
    "MLFLOW_EXPERIMENT_NAME",
    "CEREBROS_TENSORBOARD_DIR",
)


@pytest.fixture(autouse=True)
def isolated_tracking_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clear tracking variables and undo the HTTP defaults the observer sets."""
    for name in MLFLOW_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    # Set through monkeypatch so the observer's os.environ.setdefault finds
    # them and they are restored after the test.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")


@pytest.fixture
def tracking_uri(tmp_path: Path) -> str:
    """A file-based MLflow tracking store in the test's directory."""
    return (tmp_path / "mlruns").as_uri()
