"""Environment defaults that MLflow reads, applied before it is imported.

MLflow takes its HTTP timeout, retry count and telemetry switch from
environment variables only, and mlflow 3.x starts its usage telemetry
when `mlflow` is first imported. So these defaults are set before that
import. A variable the operator already set always wins.
"""

from __future__ import annotations

import os

# MLflow's own HTTP defaults (a 120 s timeout and 7 retries with
# exponential back-off, in mlflow 3.x) can hold one call for many minutes.
# The background sender retries on its own schedule, so each request fails
# fast. Telemetry is off because a training worker should contact no host
# that its operator did not configure.
MLFLOW_ENVIRONMENT_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    "MLFLOW_DISABLE_TELEMETRY": "true",
}


def apply_mlflow_environment_defaults() -> None:
    """Set each MLflow variable in `MLFLOW_ENVIRONMENT_DEFAULTS` that is unset."""
    for name, value in MLFLOW_ENVIRONMENT_DEFAULTS.items():
        os.environ.setdefault(name, value)
