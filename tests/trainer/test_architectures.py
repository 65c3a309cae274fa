"""Tests for the architecture registry and the built-in byte-level models."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keras
import numpy as np
import pytest

from cerebros_trainer import architectures
from cerebros_trainer.architectures import (
    DEFAULT_ARCHITECTURE,
    get_architecture,
    register_architecture,
    registered_architectures,
    resolve_architecture,
)
from cerebros_trainer.errors import HyperparameterError, UnknownModelError
from cerebros_trainer.hyperparams import TrainingConfig

BUILT_INS = ["byte-gru", "byte-lstm", "byte-transformer"]
TINY = TrainingConfig(
    seq_len=12,
    batch_size=2,
    embedding_dim=8,
    hidden_units=16,
    num_layers=1,
    num_heads=2,
)


@pytest.fixture
def clean_registry() -> Iterator[None]:
    saved = dict(architectures._REGISTRY)
    yield
    architectures._REGISTRY.clear()
    architectures._REGISTRY.update(saved)


def tiny_batch() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    window = rng.integers(0, 256, size=(2, TINY.seq_len + 1), dtype=np.int32)
    return window[:, :-1], window[:, 1:]


@pytest.mark.parametrize("name", BUILT_INS)
def test_built_in_trains_and_round_trips(name: str, tmp_path: Path) -> None:
    model = get_architecture(name)(TINY)
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    inputs, targets = tiny_batch()

    loss = model.train_on_batch(inputs, targets)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)

    assert model.output_shape == (None, TINY.seq_len, 256)
    assert np.isfinite(loss)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(inputs)),
        keras.ops.convert_to_numpy(model(inputs)),
        rtol=1e-5,
        atol=1e-5,
    )


@pytest.mark.parametrize("name", BUILT_INS)
def test_built_in_is_causal(name: str) -> None:
    model = get_architecture(name)(TINY)
    inputs, _ = tiny_batch()
    changed = inputs.copy()
    changed[:, 6:] = (changed[:, 6:] + 1) % 256

    before = keras.ops.convert_to_numpy(model(inputs))
    after = keras.ops.convert_to_numpy(model(changed))

    np.testing.assert_allclose(after[:, :6], before[:, :6], rtol=1e-5, atol=1e-5)
    assert not np.allclose(after[:, 6:], before[:, 6:])


def test_model_size_keys_used() -> None:
    config = TrainingConfig(seq_len=8, embedding_dim=4, hidden_units=6, num_layers=2)

    model = get_architecture("byte-lstm")(config)

    recurrent = [layer for layer in model.layers if layer.name.startswith("recurrent")]
    assert len(recurrent) == 2
    assert all(layer.units == 6 for layer in recurrent)


def test_transformer_heads_must_divide_width() -> None:
    config = TrainingConfig(seq_len=8, embedding_dim=10, num_heads=4)

    with pytest.raises(HyperparameterError) as caught:
        get_architecture("byte-transformer")(config)

    assert "embedding_dim=10 and num_heads=4" in str(caught.value)
    assert "a multiple of num_heads" in str(caught.value)


def test_built_ins_registered() -> None:
    assert set(BUILT_INS) <= set(registered_architectures())
    assert DEFAULT_ARCHITECTURE == "byte-gru"


def test_resolve_registered_id() -> None:
    resolved = resolve_architecture("byte-lstm", default="byte-gru", strict=True)

    assert resolved.name == "byte-lstm"
    assert resolved.fallback is False
    assert resolved.builder is architectures.build_byte_lstm


def test_resolve_unknown_id_falls_back() -> None:
    resolved = resolve_architecture("gpt-4o-mini", default="byte-gru", strict=False)

    assert resolved.name == "byte-gru"
    assert resolved.fallback is True
    assert resolved.builder is architectures.build_byte_gru


def test_resolve_unknown_id_strict() -> None:
    with pytest.raises(UnknownModelError) as caught:
        resolve_architecture("gpt-4o-mini", default="byte-gru", strict=True)

    message = str(caught.value)
    assert "model id 'gpt-4o-mini' names no registered architecture" in message
    assert "byte-gru, byte-lstm, byte-transformer" in message


def test_resolve_unknown_default() -> None:
    with pytest.raises(UnknownModelError) as caught:
        resolve_architecture("gpt-4o-mini", default="byte-missing")

    assert "'byte-missing'" in str(caught.value)


@pytest.mark.usefixtures("clean_registry")
def test_register_custom_architecture() -> None:
    def build_tiny_dense(config: TrainingConfig) -> keras.Model:
        tokens = keras.Input(shape=(config.seq_len,), dtype="int32")
        features = keras.layers.Embedding(256, 4)(tokens)
        return keras.Model(tokens, keras.layers.Dense(256)(features))

    register_architecture("tiny-dense", build_tiny_dense)
    resolved = resolve_architecture("tiny-dense", strict=True)

    assert resolved.builder is build_tiny_dense
    assert resolved.fallback is False
    assert "tiny-dense" in registered_architectures()


def test_register_rejects_blank_name() -> None:
    with pytest.raises(ValueError, match="must be non-empty"):
        register_architecture(" ", architectures.build_byte_gru)
