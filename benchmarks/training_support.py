"""Training pieces shared by the model benchmarks: candidates, data and callbacks.

Every candidate trains through the same plain Keras loop here, so the
architectures and the baseline differ only in model and hyperparameters.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from cerebros_trainer.architectures import (
    DEFAULT_ARCHITECTURE,
    build_byte_lstm,
    get_architecture,
    registered_architectures,
)
from cerebros_trainer.hyperparams import TrainingConfig

BASELINE_LABEL = "baseline lstm-512"
VALIDATION_SHARE = 0.1


@dataclass(frozen=True)
class Candidate:
    """A model to train: its label, builder and hyperparameters."""

    label: str
    builder: Callable[[TrainingConfig], keras.Model]
    config: TrainingConfig
    is_default: bool = False
    is_baseline: bool = False


def candidates() -> list[Candidate]:
    """Return each registered architecture at its defaults, then the baseline.

    The baseline is a character-level LSTM of 512 units trained with
    sequence length 100, batch 64 and Adam at 1e-3.
    """
    found = [
        Candidate(
            label=name,
            builder=get_architecture(name),
            config=TrainingConfig(),
            is_default=name == DEFAULT_ARCHITECTURE,
        )
        for name in registered_architectures()
    ]
    baseline_config = TrainingConfig(
        hidden_units=512, seq_len=100, batch_size=64, learning_rate=1e-3
    )
    found.append(
        Candidate(BASELINE_LABEL, build_byte_lstm, baseline_config, is_baseline=True)
    )
    return found


def split_tokens(tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split tokens into training (first 90%) and validation (last 10%) bytes."""
    cut = len(tokens) - int(len(tokens) * VALIDATION_SHARE)
    return np.asarray(tokens[:cut]), np.asarray(tokens[cut:])


def windows(tokens: np.ndarray, seq_len: int) -> np.ndarray:
    """Cut tokens into non-overlapping windows of seq_len + 1 bytes, as int32."""
    size = seq_len + 1
    count = len(tokens) // size
    return tokens[: count * size].reshape(count, size).astype(np.int32)


def training_dataset(batches: np.ndarray, batch_size: int, seed: int = 0) -> Any:
    """Return shuffled, repeated (inputs, next-byte targets) batches."""
    dataset = tf.data.Dataset.from_tensor_slices(batches)
    dataset = dataset.shuffle(len(batches), seed=seed).repeat()
    dataset = dataset.batch(batch_size, drop_remainder=True)
    return dataset.map(_split_window).prefetch(tf.data.AUTOTUNE)


def evaluation_dataset(batches: np.ndarray, batch_size: int) -> Any:
    """Return the windows once, in order, as (inputs, targets) batches."""
    dataset = tf.data.Dataset.from_tensor_slices(batches)
    return dataset.batch(batch_size, drop_remainder=True).map(_split_window)


def _split_window(batch: Any) -> tuple[Any, Any]:
    return batch[:, :-1], batch[:, 1:]


def build_compiled(candidate: Candidate) -> keras.Model:
    """Build and compile a candidate the way the worker compiles its models."""
    model = candidate.builder(candidate.config)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=candidate.config.learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def warm_up_tensorflow() -> None:
    """Run one tiny fit, so the first candidate does not pay TensorFlow's start-up."""
    config = TrainingConfig(seq_len=8, batch_size=4, hidden_units=8, embedding_dim=4)
    model = build_compiled(
        Candidate("warm-up", get_architecture(DEFAULT_ARCHITECTURE), config)
    )
    data = np.zeros((8, 9), dtype=np.int32)
    model.fit(
        training_dataset(data, 4), steps_per_epoch=2, epochs=1, verbose=0, shuffle=False
    )


class TimeBudget(keras.callbacks.Callback):  # type: ignore[misc]
    """Stop `fit` at the end of the first batch after `seconds` have passed.

    The clock starts at `started` (a `time.perf_counter()` value) when given,
    so building the model can count against the budget, else when fit begins.
    """

    def __init__(self, seconds: float, *, started: float | None = None) -> None:
        super().__init__()
        self.seconds = seconds
        self.started = started
        self.steps = 0

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        if self.started is None:
            self.started = time.perf_counter()

    def on_train_batch_end(
        self, batch: int, logs: dict[str, Any] | None = None
    ) -> None:
        self.steps += 1
        if time.perf_counter() - (self.started or 0.0) >= self.seconds:
            self.model.stop_training = True


class StepClock(keras.callbacks.Callback):  # type: ignore[misc]
    """Record when each training batch ended."""

    def __init__(self) -> None:
        super().__init__()
        self.ends: list[float] = []

    def on_train_batch_end(
        self, batch: int, logs: dict[str, Any] | None = None
    ) -> None:
        self.ends.append(time.perf_counter())


def non_embedding_parameters(model: keras.Model) -> int:
    """Count parameters outside embedding lookups, which do no matmul."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Embedding) or layer.name == "positions":
            continue
        total += int(layer.count_params())
    return total
