"""Tests of build_observers: which settings switch on which integration."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

from cerebros_trainer import integrations
from cerebros_trainer.integrations import (
    IntegrationUnavailableError,
    build_observers,
)
from cerebros_trainer.settings import WorkerSettings


def _settings(tmp_path: Path, **overrides: Any) -> WorkerSettings:
    return WorkerSettings(state_dir=tmp_path / "state", log_file="", **overrides)


def test_no_observers_by_default(tmp_path: Path) -> None:
    assert build_observers(_settings(tmp_path)) == []


def test_empty_variables_switch_nothing_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", " ")
    monkeypatch.setenv("CEREBROS_TENSORBOARD_DIR", "")

    settings = _settings(tmp_path)

    assert settings.mlflow_tracking_uri is None
    assert settings.tensorboard_dir is None
    assert build_observers(settings) == []


def test_tracking_uri_builds_mlflow_observer(tmp_path: Path, tracking_uri: str) -> None:
    pytest.importorskip("mlflow")
    from cerebros_trainer.integrations.mlflow_tracking import MlflowObserver

    observers = build_observers(_settings(tmp_path, mlflow_tracking_uri=tracking_uri))

    assert len(observers) == 1
    observer = observers[0]
    assert isinstance(observer, MlflowObserver)
    observer.close()


def test_tensorboard_dir_builds_observer(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from cerebros_trainer.integrations.tensorboard_logs import TensorBoardObserver

    settings = _settings(tmp_path, tensorboard_dir=tmp_path / "tb")

    observers = build_observers(settings)

    assert [type(observer) for observer in observers] == [TensorBoardObserver]


def test_missing_package_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_find_spec = importlib.util.find_spec

    def find_spec_without_mlflow(name: str, *args: Any) -> Any:
        return None if name == "mlflow" else real_find_spec(name, *args)

    monkeypatch.setattr(
        integrations.importlib.util, "find_spec", find_spec_without_mlflow
    )
    settings = _settings(tmp_path, mlflow_tracking_uri="http://127.0.0.1:5000")

    with pytest.raises(IntegrationUnavailableError) as raised:
        build_observers(settings)

    message = str(raised.value)
    assert (
        "MLFLOW_TRACKING_URI is set but the 'mlflow' package is not installed"
        in message
    )
    assert "pip install 'cerebros[mlflow]'" in message


def test_empty_experiment_name_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="MLFLOW_EXPERIMENT_NAME is empty"):
        _settings(tmp_path, mlflow_experiment="  ")


def test_experiment_name_default(tmp_path: Path) -> None:
    assert _settings(tmp_path).mlflow_experiment == "cerebros"
