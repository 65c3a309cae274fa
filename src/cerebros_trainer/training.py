"""Phase-by-phase training of a byte-level language model with Keras.

Each phase runs `n_epochs` epochs on the same model and optimizer, so a
later phase continues from the earlier one's weights and optimizer state.
"""

from __future__ import annotations

import logging
import math
import os
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

# Imported for its side effect: registering the architectures' custom layers,
# which `keras.saving.load_model` needs to rebuild a saved model.
import cerebros_trainer.architectures  # noqa: F401
from cerebros_trainer.errors import (
    StorageError,
    TrainingDiverged,
    TrainingInterrupted,
)
from cerebros_trainer.hyperparams import MAX_PHASES, TrainingConfig, check_fits_data

logger = logging.getLogger(__name__)

# exp(700) is about 1e304, still a finite float, but exp(710) overflows.
MAX_LOG_PERPLEXITY = 700.0

EpochCallback = Callable[[int, dict[str, Any]], None]
StopCheck = Callable[[], bool]


@dataclass(frozen=True)
class PhaseMetrics(Mapping[str, Any]):
    """Metrics of the last epoch of a phase; `epoch` counts from 1 per phase.

    Validation fields are None when `validation_split` is 0. The metrics are
    also a read-only mapping by field name, so `{**metrics}` and
    `metrics.get("loss")` work like on the per-epoch dicts.
    """

    loss: float
    accuracy: float
    perplexity: float
    val_loss: float | None
    val_accuracy: float | None
    val_perplexity: float | None
    tokens_per_second: float
    epoch: int
    phase: int

    def as_dict(self) -> dict[str, Any]:
        """Return the metrics as a plain dict, ready to report."""
        return asdict(self)

    def __getitem__(self, key: str) -> Any:
        if key not in _PHASE_METRIC_NAMES:
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(_PHASE_METRIC_NAMES)

    def __len__(self) -> int:
        return len(_PHASE_METRIC_NAMES)


_PHASE_METRIC_NAMES = tuple(field.name for field in fields(PhaseMetrics))


def perplexity(loss: float | None) -> float | None:
    """Return exp(loss) with the loss capped at 700, so the result stays finite.

    None returns None and NaN returns NaN.
    """
    if loss is None:
        return None
    if math.isnan(loss):
        return math.nan
    return math.exp(min(loss, MAX_LOG_PERPLEXITY))


class PhaseTrainer:
    """Train one model over up to `MAX_PHASES` phases on a byte-token array.

    Training windows come from the start of the corpus and validation
    windows from its last `validation_split`, so no window is in both.
    """

    def __init__(
        self,
        model: keras.Model,
        config: TrainingConfig,
        tokens: np.ndarray,
        *,
        architecture: str | None = None,
        verbose: int = 0,
    ) -> None:
        if tokens.ndim != 1 or tokens.dtype != np.uint8:
            raise ValueError(
                "tokens must be a 1-D numpy.uint8 array, received "
                f"{tokens.ndim}-D {tokens.dtype}"
            )
        check_fits_data(config, int(tokens.shape[0]))

        self.model = model
        self.config = config
        self.architecture = architecture or model.name
        self.verbose = verbose
        self._windows = _WindowSplit(tokens, config)
        if not (getattr(model, "compiled", False) and model.optimizer is not None):
            _compile(model, config.learning_rate)

    @classmethod
    def from_checkpoint(
        cls,
        path: Path,
        config: TrainingConfig,
        tokens: np.ndarray,
        *,
        architecture: str | None = None,
        verbose: int = 0,
    ) -> PhaseTrainer:
        """Resume from a `.keras` checkpoint with its weights and optimizer state."""
        model = load_checkpoint(path)
        return cls(model, config, tokens, architecture=architecture, verbose=verbose)

    @property
    def model_summary(self) -> dict[str, Any]:
        """Architecture name, parameter count and the shapes the model trains on."""
        return {
            "architecture": self.architecture,
            "parameters": int(self.model.count_params()),
            "seq_len": self.config.seq_len,
            "vocabulary_size": 256,
            "train_windows": self._windows.train_count,
            "validation_windows": self._windows.validation_count,
        }

    @property
    def optimizer_steps(self) -> int:
        """Number of optimizer updates applied so far, across phases."""
        return int(self.model.optimizer.iterations.numpy())

    def train_phase(
        self,
        phase: int,
        *,
        on_epoch_end: EpochCallback | None = None,
        should_stop: StopCheck | None = None,
        verbose: int | None = None,
    ) -> PhaseMetrics:
        """Run the `n_epochs` epochs of `phase` (1-based) and return its metrics.

        `on_epoch_end(epoch, metrics)` receives each epoch's metrics dict.
        `should_stop()` is checked after every batch. Raises
        `TrainingInterrupted` when it returns true, with the model holding the
        weights after that batch, and `TrainingDiverged` when the loss becomes
        NaN or infinite. `verbose` (default: the trainer's) is passed to
        `keras.Model.fit`, where 1 shows a progress bar.
        """
        if not 1 <= phase <= MAX_PHASES:
            raise ValueError(f"phase must be from 1 to {MAX_PHASES}, received {phase}")

        learning_rate = self.config.learning_rate_for_phase(phase)
        self.model.optimizer.learning_rate = learning_rate
        monitor = _PhaseMonitor(self, phase, on_epoch_end, should_stop)
        first_epoch = (phase - 1) * self.config.n_epochs
        logger.info(
            "training phase %d: %d epochs of %d steps, learning rate %g",
            phase,
            self.config.n_epochs,
            self._steps_per_epoch(),
            learning_rate,
        )
        self.model.fit(
            self._train_dataset(phase),
            epochs=first_epoch + self.config.n_epochs,
            initial_epoch=first_epoch,
            steps_per_epoch=self._steps_per_epoch(),
            callbacks=[monitor],
            verbose=self.verbose if verbose is None else verbose,
            shuffle=False,
            **self._validation_arguments(),
        )
        return monitor.phase_metrics()

    def _steps_per_epoch(self) -> int:
        steps = self._windows.train_count // self.config.batch_size
        cap = self.config.max_steps_per_epoch
        return min(steps, cap) if cap else steps

    def _validation_arguments(self) -> dict[str, Any]:
        if self._windows.validation_count == 0:
            return {}
        return {"validation_data": self._validation_dataset()}

    def _train_dataset(self, phase: int) -> tf.data.Dataset:
        # Each phase reshuffles with its own seed, derived from the config's
        # seed, so a run is reproducible and phases see different orders.
        windows = tf.data.Dataset.range(self._windows.train_count)
        windows = windows.shuffle(
            self._windows.train_count,
            seed=self.config.seed * (MAX_PHASES + 1) + phase,
            reshuffle_each_iteration=True,
        )
        return self._batched(windows.repeat(), self._windows.train_start)

    def _validation_dataset(self) -> tf.data.Dataset:
        # A finite dataset of the same windows every epoch keeps validation
        # metrics comparable between epochs. max_steps_per_epoch caps it too.
        steps = self._windows.validation_count // self.config.batch_size
        if self.config.max_steps_per_epoch:
            steps = min(steps, self.config.max_steps_per_epoch)
        windows = tf.data.Dataset.range(steps * self.config.batch_size)
        return self._batched(windows, self._windows.validation_start)

    def _batched(self, windows: tf.data.Dataset, base: int) -> tf.data.Dataset:
        batches = windows.batch(self.config.batch_size, drop_remainder=True)
        gather = self._windows.gather
        shape = (self.config.batch_size, self.config.seq_len + 1)

        def load(indices: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            # numpy_function reads from the token array directly, so a
            # memory-mapped corpus is never copied whole into a tensor.
            batch = tf.numpy_function(
                lambda found: gather(found, base), [indices], tf.uint8
            )
            batch = tf.cast(tf.ensure_shape(batch, shape), tf.int32)
            return batch[:, :-1], batch[:, 1:]

        return batches.map(load).prefetch(tf.data.AUTOTUNE)


class _WindowSplit:
    """Non-overlapping windows of seq_len + 1 bytes, split by corpus position."""

    def __init__(self, tokens: np.ndarray, config: TrainingConfig) -> None:
        self.tokens = tokens
        self.window = config.seq_len + 1
        total = int(tokens.shape[0])
        validation_tokens = int(total * config.validation_split)
        train_tokens = total - validation_tokens
        self.train_start = 0
        self.train_count: int = train_tokens // self.window
        self.validation_start = train_tokens
        self.validation_count: int = validation_tokens // self.window
        self._offsets = np.arange(self.window)

    def gather(self, indices: np.ndarray, base: int) -> np.ndarray:
        """Return the windows numbered `indices`, counted from token `base`."""
        starts = base + indices * self.window
        return np.asarray(self.tokens[starts[:, None] + self._offsets])


def _compile(model: keras.Model, learning_rate: float) -> None:
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )


class _PhaseMonitor(keras.callbacks.Callback):  # type: ignore[misc]
    """Stop on request or divergence, time the epochs and collect metrics."""

    def __init__(
        self,
        trainer: PhaseTrainer,
        phase: int,
        on_epoch_end: EpochCallback | None,
        should_stop: StopCheck | None,
    ) -> None:
        super().__init__()
        self._trainer = trainer
        self._phase = phase
        self._first_epoch = (phase - 1) * trainer.config.n_epochs
        self._on_epoch_end = on_epoch_end
        self._should_stop = should_stop
        self._epoch = 0
        self._epoch_started = 0.0
        self._last_batch_ended = 0.0
        self._steps = 0
        self._metrics: dict[str, Any] | None = None

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epoch = epoch - self._first_epoch + 1
        self._steps = 0
        self._epoch_started = time.perf_counter()

    def on_train_batch_end(
        self, batch: int, logs: dict[str, Any] | None = None
    ) -> None:
        self._last_batch_ended = time.perf_counter()
        self._steps += 1
        loss = float((logs or {}).get("loss", 0.0))
        if not math.isfinite(loss):
            raise TrainingDiverged(
                f"training diverged in phase {self._phase}, epoch {self._epoch}, "
                f"batch {batch + 1}: the loss became {loss}. Lower learning_rate "
                f"(received {self._trainer.config.learning_rate:g}) or check the "
                "architecture"
            )
        if self._should_stop is not None and self._should_stop():
            raise TrainingInterrupted(
                f"training stopped on request in phase {self._phase}, epoch "
                f"{self._epoch}, after batch {batch + 1}"
            )

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        config = self._trainer.config
        seconds = max(self._last_batch_ended - self._epoch_started, 1e-9)
        tokens = self._steps * config.batch_size * config.seq_len
        metrics = {
            "loss": _optional_float(logs.get("loss")),
            "accuracy": _optional_float(logs.get("accuracy")),
            "perplexity": perplexity(_optional_float(logs.get("loss"))),
            "val_loss": _optional_float(logs.get("val_loss")),
            "val_accuracy": _optional_float(logs.get("val_accuracy")),
            "val_perplexity": perplexity(_optional_float(logs.get("val_loss"))),
            "tokens_per_second": tokens / seconds,
            "epoch": self._epoch,
            "phase": self._phase,
        }
        self._metrics = metrics
        logger.info(
            "Phase %d epoch %d: %s",
            self._phase,
            self._epoch,
            ", ".join(
                f"{name} {value:.4g}"
                for name, value in metrics.items()
                if isinstance(value, float) and name not in ("epoch", "phase")
            ),
        )
        if self._on_epoch_end is not None:
            self._on_epoch_end(self._epoch, dict(metrics))

    def phase_metrics(self) -> PhaseMetrics:
        if self._metrics is None:
            raise RuntimeError("the phase finished without completing an epoch")
        return PhaseMetrics(**self._metrics)


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def save_checkpoint(model: keras.Model, path: Path) -> Path:
    """Save `model` (weights and optimizer state) to `path` atomically.

    The model is written to a temporary `.keras` file in the same directory
    and renamed over `path`, so a reader never sees a partial file and an
    earlier checkpoint at `path` survives a failed save.
    """
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"checkpoint path must end in .keras, received {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and not optimizer.built:
        # An optimizer saved before its first step has no slot variables, and
        # loading it would skip the optimizer state with a warning.
        optimizer.build(model.trainable_variables)
    partial = path.with_name(f".{path.stem}.{uuid.uuid4().hex}.partial.keras")
    try:
        model.save(partial)
        with open(partial, "rb") as written:
            os.fsync(written.fileno())
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)
    return path


def load_checkpoint(path: Path) -> keras.Model:
    """Load a `.keras` checkpoint, compiled, with its optimizer state.

    Raises `StorageError` when the file is missing or not a readable model.
    """
    try:
        return keras.saving.load_model(path)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise StorageError(
            f"checkpoint {path} could not be loaded: {exc}. Expected a .keras "
            "file written by save_checkpoint"
        ) from exc


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
