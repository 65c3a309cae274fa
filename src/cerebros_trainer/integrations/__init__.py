"""Optional experiment tracking integrations, each a job observer.

MLflow is switched on by `mlflow_tracking_uri` (MLFLOW_TRACKING_URI) and
needs the `mlflow` extra. TensorBoard event files are switched on by
`tensorboard_dir` (CEREBROS_TENSORBOARD_DIR) and need the `tensorboard`
extra. Each module is imported only when its setting is on, so a worker
without the extras never imports them.
"""

from __future__ import annotations

import importlib.util
import logging

from cerebros_trainer.observers import JobObserver
from cerebros_trainer.settings import WorkerSettings

logger = logging.getLogger(__name__)

MLFLOW_STAGING_DIR_NAME = "mlflow-staging"


class IntegrationUnavailableError(RuntimeError):
    """A setting switches on an integration whose package is not installed."""


def build_observers(settings: WorkerSettings) -> list[JobObserver]:
    """Create the observers that the settings switch on.

    Raises `IntegrationUnavailableError` when a setting switches on an
    integration whose extra is not installed, so the worker stops at start
    rather than training jobs that never reach the tracker.
    """
    observers: list[JobObserver] = []
    if settings.mlflow_tracking_uri:
        observers.append(_build_mlflow_observer(settings, settings.mlflow_tracking_uri))
    if settings.tensorboard_dir is not None:
        observers.append(_build_tensorboard_observer(settings))
    return observers


def _build_mlflow_observer(settings: WorkerSettings, tracking_uri: str) -> JobObserver:
    _require("mlflow", "MLFLOW_TRACKING_URI", "mlflow")
    from cerebros_trainer.integrations.mlflow_tracking import (
        MlflowObserver,
        redact_uri,
    )

    observer = MlflowObserver(
        tracking_uri,
        experiment_name=settings.mlflow_experiment,
        worker_id=settings.worker_id,
        staging_dir=settings.state_dir / MLFLOW_STAGING_DIR_NAME,
    )
    logger.info(
        "Logging jobs to MLflow experiment %r at %s",
        settings.mlflow_experiment,
        redact_uri(tracking_uri),
    )
    return observer


def _build_tensorboard_observer(settings: WorkerSettings) -> JobObserver:
    _require("tensorboard", "CEREBROS_TENSORBOARD_DIR", "tensorboard")
    from cerebros_trainer.integrations.tensorboard_logs import TensorBoardObserver

    assert settings.tensorboard_dir is not None
    logger.info("Writing TensorBoard event files under %s", settings.tensorboard_dir)
    return TensorBoardObserver(settings.tensorboard_dir)


def _require(module: str, env_var: str, extra: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise IntegrationUnavailableError(
            f"{env_var} is set but the {module!r} package is not installed: "
            f"install it with pip install 'cerebros[{extra}]', or unset {env_var}"
        )
