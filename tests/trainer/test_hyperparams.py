"""Tests for validating job hyperparameters into a TrainingConfig."""

from __future__ import annotations

from typing import Any

import pytest

from cerebros_trainer.errors import HyperparameterError
from cerebros_trainer.hyperparams import TrainingConfig, check_fits_data


def test_defaults_without_hyperparameters() -> None:
    config = TrainingConfig.from_hyperparameters({})

    assert config.n_epochs == 1
    assert config.batch_size == 32
    assert config.learning_rate == 1e-3
    assert config.phases == 2
    assert config.seq_len == 64
    assert config.validation_split == 0.1
    assert config.embedding_dim is None
    assert config.max_steps_per_epoch is None
    assert config.phase_lr_decay == 1.0
    assert config.extra == {}


@pytest.mark.parametrize(
    ("key", "raw", "expected"),
    [
        ("n_epochs", 3, 3),
        ("n_epochs", "3", 3),
        ("n_epochs", " 4 ", 4),
        ("n_epochs", 2.0, 2),
        ("batch_size", "32", 32),
        ("learning_rate", "1e-4", 1e-4),
        ("learning_rate", 1, 1.0),
        ("phases", 4, 4),
        ("seq_len", "128", 128),
        ("validation_split", 0, 0.0),
        ("validation_split", "0.25", 0.25),
        ("seed", 0, 0),
        ("embedding_dim", 16, 16),
        ("num_heads", "2", 2),
        ("max_steps_per_epoch", 10, 10),
        ("phase_lr_decay", 0.5, 0.5),
    ],
)
def test_good_values_accepted(key: str, raw: Any, expected: Any) -> None:
    config = TrainingConfig.from_hyperparameters({key: raw})

    assert getattr(config, key) == expected
    assert type(getattr(config, key)) is type(expected)


@pytest.mark.parametrize(
    ("key", "raw", "expected"),
    [
        ("batch_size", -3, "received -3, expected an integer from 1 to 65536"),
        ("batch_size", True, "received True, expected an integer from 1 to 65536"),
        ("batch_size", "abc", "received 'abc', expected an integer from 1 to 65536"),
        ("n_epochs", 1.5, "received 1.5, expected an integer from 1 to 10000"),
        ("n_epochs", "1.5", "received '1.5', expected an integer from 1 to 10000"),
        ("n_epochs", 0, "received 0, expected an integer from 1 to 10000"),
        ("n_epochs", [3], "received [3], expected an integer from 1 to 10000"),
        ("phases", 5, "received 5, expected an integer from 1 to 4"),
        ("phases", 0, "received 0, expected an integer from 1 to 4"),
        (
            "learning_rate",
            0,
            "received 0, expected a number greater than 0 and at most 10",
        ),
        (
            "learning_rate",
            "nan",
            "received 'nan', expected a number greater than 0 and at most 10",
        ),
        (
            "learning_rate",
            False,
            "received False, expected a number greater than 0 and at most 10",
        ),
        ("validation_split", 0.95, "received 0.95, expected a number from 0 to 0.9"),
        ("seq_len", 0, "received 0, expected an integer from 1 to 65536"),
        ("seed", -1, "received -1, expected an integer from 0 to 4294967295"),
        ("num_layers", 100, "received 100, expected an integer from 1 to 64"),
    ],
)
def test_bad_values_rejected(key: str, raw: Any, expected: str) -> None:
    with pytest.raises(HyperparameterError) as caught:
        TrainingConfig.from_hyperparameters({key: raw})

    assert str(caught.value) == f"hyperparameter {key!r} is invalid: {expected}"


def test_null_takes_default() -> None:
    config = TrainingConfig.from_hyperparameters({"n_epochs": None, "batch_size": None})

    assert config.n_epochs == 1
    assert config.batch_size == 32


def test_unknown_keys_kept_in_extra() -> None:
    config = TrainingConfig.from_hyperparameters(
        {"n_epochs": 2, "warmup": 100, "optimizer": "sgd"}
    )

    assert config.extra == {"warmup": 100, "optimizer": "sgd"}
    assert config.unknown_keys == ["optimizer", "warmup"]
    assert "warmup" not in config.to_dict()


def test_learning_rate_decays_per_phase() -> None:
    config = TrainingConfig.from_hyperparameters(
        {"learning_rate": 0.01, "phase_lr_decay": 0.5}
    )

    assert config.learning_rate_for_phase(1) == 0.01
    assert config.learning_rate_for_phase(3) == pytest.approx(0.0025)


def test_fits_data_accepts_full_batches() -> None:
    config = TrainingConfig(batch_size=4, seq_len=9, validation_split=0.5)

    check_fits_data(config, 80)


def test_fits_data_rejects_small_corpus() -> None:
    config = TrainingConfig(batch_size=32, seq_len=64, validation_split=0.0)

    with pytest.raises(HyperparameterError) as caught:
        check_fits_data(config, 1000)

    message = str(caught.value)
    assert "batch_size=32 and seq_len=64 need at least 2080 training tokens" in message
    assert "the corpus has 1000 tokens" in message
    assert "lower batch_size or seq_len" in message


def test_fits_data_rejects_small_validation_split() -> None:
    config = TrainingConfig(batch_size=4, seq_len=9, validation_split=0.1)

    with pytest.raises(HyperparameterError) as caught:
        check_fits_data(config, 200)

    message = str(caught.value)
    assert "validation_split=0.1 leaves 20 of the corpus's 200 tokens" in message
    assert "one full batch of 40 tokens (batch_size=4, seq_len=9)" in message
