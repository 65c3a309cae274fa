"""Tests for phase training, divergence, interruption and checkpoints."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

from cerebros_trainer.architectures import get_architecture
from cerebros_trainer.corpus import read_corpus
from cerebros_trainer.corpus.tokens import TokenWriter
from cerebros_trainer.errors import (
    HyperparameterError,
    StorageError,
    TrainingDiverged,
    TrainingInterrupted,
)
from cerebros_trainer.hyperparams import TrainingConfig
from cerebros_trainer.training import (
    PhaseTrainer,
    load_checkpoint,
    perplexity,
    save_checkpoint,
)

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
METRIC_KEYS = {
    "loss",
    "accuracy",
    "perplexity",
    "val_loss",
    "val_accuracy",
    "val_perplexity",
    "tokens_per_second",
    "epoch",
    "phase",
}


def tiny_config(**overrides: Any) -> TrainingConfig:
    values: dict[str, Any] = {
        "n_epochs": 1,
        "batch_size": 4,
        "seq_len": 16,
        "learning_rate": 0.01,
        "validation_split": 0.2,
        "embedding_dim": 8,
        "hidden_units": 16,
        "max_steps_per_epoch": 3,
    }
    values.update(overrides)
    return TrainingConfig.from_hyperparameters(values)


def tiny_tokens(size: int = 4000) -> np.ndarray:
    text = ("the quick brown fox jumps over the lazy dog\n" * (size // 44 + 1))[:size]
    return np.frombuffer(text.encode(), dtype=np.uint8)


def tiny_trainer(**overrides: Any) -> PhaseTrainer:
    config = tiny_config(**overrides)
    model = get_architecture("byte-gru")(config)
    return PhaseTrainer(model, config, tiny_tokens(), architecture="byte-gru")


def test_phase_reports_metrics() -> None:
    trainer = tiny_trainer(n_epochs=2)
    seen: list[tuple[int, dict[str, Any]]] = []

    metrics = trainer.train_phase(1, on_epoch_end=lambda e, m: seen.append((e, m)))

    assert [epoch for epoch, _ in seen] == [1, 2]
    assert set(seen[0][1]) == METRIC_KEYS
    assert seen[1][1]["phase"] == 1
    assert metrics.epoch == 2
    assert metrics.phase == 1
    assert metrics.perplexity == pytest.approx(math.exp(metrics.loss))
    assert metrics.val_loss is not None
    assert metrics.val_perplexity == pytest.approx(math.exp(metrics.val_loss))
    assert metrics.tokens_per_second > 0
    assert set(metrics.as_dict()) == METRIC_KEYS
    assert dict(metrics) == metrics.as_dict()
    assert metrics.get("loss") == metrics.loss
    assert trainer.optimizer_steps == 6


def test_phase_without_validation() -> None:
    trainer = tiny_trainer(validation_split=0)

    metrics = trainer.train_phase(1)

    assert metrics.val_loss is None
    assert metrics.val_perplexity is None
    assert math.isfinite(metrics.loss)


def test_second_phase_continues_first() -> None:
    trainer = tiny_trainer(phase_lr_decay=0.5)
    trainer.train_phase(1)
    optimizer = trainer.model.optimizer
    weights_after_first = [w.copy() for w in trainer.model.get_weights()]

    trainer.train_phase(2)

    assert trainer.model.optimizer is optimizer
    assert trainer.optimizer_steps == 6
    assert float(optimizer.learning_rate) == pytest.approx(0.005)
    assert any(
        not np.array_equal(before, after)
        for before, after in zip(weights_after_first, trainer.model.get_weights())
    )


def test_should_stop_interrupts_after_batch() -> None:
    trainer = tiny_trainer(max_steps_per_epoch=10)
    calls = 0

    def stop_on_second_check() -> bool:
        nonlocal calls
        calls += 1
        return calls == 2

    with pytest.raises(TrainingInterrupted) as caught:
        trainer.train_phase(1, should_stop=stop_on_second_check)

    assert "phase 1, epoch 1, after batch 2" in str(caught.value)
    assert trainer.optimizer_steps == 2


def test_interrupted_model_can_be_saved(tmp_path: Path) -> None:
    trainer = tiny_trainer()
    with pytest.raises(TrainingInterrupted):
        trainer.train_phase(1, should_stop=lambda: True)

    path = save_checkpoint(trainer.model, tmp_path / "interrupted.keras")
    resumed = PhaseTrainer.from_checkpoint(path, trainer.config, tiny_tokens())

    assert resumed.optimizer_steps == 1


def _build_nan_model(config: TrainingConfig) -> keras.Model:
    tokens = keras.Input(shape=(config.seq_len,), dtype="int32")
    features = keras.layers.Embedding(256, 4)(tokens)
    nan = keras.initializers.Constant(float("nan"))
    return keras.Model(
        tokens, keras.layers.Dense(256, kernel_initializer=nan)(features)
    )


def test_nan_loss_raises_diverged() -> None:
    config = tiny_config()
    trainer = PhaseTrainer(_build_nan_model(config), config, tiny_tokens())

    with pytest.raises(TrainingDiverged) as caught:
        trainer.train_phase(1)

    message = str(caught.value)
    assert "training diverged in phase 1, epoch 1, batch 1" in message
    assert "the loss became nan" in message
    assert "Lower learning_rate (received 0.01)" in message


def test_corpus_too_small_for_batch() -> None:
    config = tiny_config(batch_size=64)
    model = get_architecture("byte-gru")(config)

    with pytest.raises(HyperparameterError) as caught:
        PhaseTrainer(model, config, tiny_tokens(500))

    assert "batch_size=64 and seq_len=16" in str(caught.value)


def test_tokens_must_be_uint8() -> None:
    config = tiny_config()
    model = get_architecture("byte-gru")(config)

    with pytest.raises(ValueError, match="1-D numpy.uint8 array, received 1-D int64"):
        PhaseTrainer(model, config, np.arange(4000))


def test_phase_outside_range() -> None:
    trainer = tiny_trainer()

    with pytest.raises(ValueError, match="phase must be from 1 to 4, received 5"):
        trainer.train_phase(5)


def test_model_summary() -> None:
    trainer = tiny_trainer()

    summary = trainer.model_summary

    assert summary["architecture"] == "byte-gru"
    assert summary["parameters"] == trainer.model.count_params()
    assert summary["parameters"] > 0
    assert summary["seq_len"] == 16


def test_checkpoint_round_trip_keeps_optimizer(tmp_path: Path) -> None:
    trainer = tiny_trainer()
    trainer.train_phase(1)
    path = tmp_path / "run" / "phase-1.keras"

    saved = save_checkpoint(trainer.model, path)
    resumed = PhaseTrainer.from_checkpoint(saved, trainer.config, tiny_tokens())
    resumed.train_phase(2)

    assert saved == path
    assert sorted(p.name for p in path.parent.iterdir()) == ["phase-1.keras"]
    assert resumed.optimizer_steps == 6


def test_checkpoint_replaces_earlier_file(tmp_path: Path) -> None:
    trainer = tiny_trainer()
    path = tmp_path / "model.keras"
    path.write_bytes(b"old")

    save_checkpoint(trainer.model, path)
    loaded = load_checkpoint(path)

    assert loaded.count_params() == trainer.model.count_params()


def test_checkpoint_needs_keras_suffix(tmp_path: Path) -> None:
    trainer = tiny_trainer()

    with pytest.raises(ValueError, match="must end in .keras"):
        save_checkpoint(trainer.model, tmp_path / "model.h5")


def test_load_missing_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(StorageError) as caught:
        load_checkpoint(tmp_path / "absent.keras")

    assert "absent.keras could not be loaded" in str(caught.value)


def test_checkpoint_loads_in_fresh_process(tmp_path: Path) -> None:
    config = tiny_config(embedding_dim=8, num_heads=2, num_layers=1)
    model = get_architecture("byte-transformer")(config)
    trainer = PhaseTrainer(model, config, tiny_tokens())
    trainer.train_phase(1)
    path = save_checkpoint(trainer.model, tmp_path / "transformer.keras")
    script = (
        "import sys\n"
        "from cerebros_trainer.training import load_checkpoint\n"
        "from cerebros_trainer.generate import generate_text\n"
        "model = load_checkpoint(sys.argv[1])\n"
        "text = generate_text(model, 'the ', max_new_bytes=5, seed=1)\n"
        "print('steps', int(model.optimizer.iterations.numpy()))\n"
        "print('text', repr(text))\n"
    )

    result = subprocess.run(
        [sys.executable, "-c", script, str(path)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )

    assert result.returncode == 0, result.stderr[-2000:]
    assert "steps 3" in result.stdout
    assert "text '" in result.stdout


def test_perplexity_never_overflows() -> None:
    assert perplexity(None) is None
    assert perplexity(0.0) == 1.0
    assert perplexity(1e6) == math.exp(700)
    assert math.isnan(perplexity(float("nan")) or 0.0)


@pytest.mark.slow
def test_default_architecture_learns_shakespeare(tmp_path: Path) -> None:
    corpus = SHARED_DATA / "shakespeare.jsonl"
    if not corpus.exists():
        pytest.skip(f"the Shakespeare corpus is not at {corpus}")
    data = read_corpus(str(corpus), cache_dir=tmp_path)
    # About a minute of CPU time: two epochs of 120 steps on 64 x 128 bytes.
    config = TrainingConfig.from_hyperparameters(
        {
            "n_epochs": 2,
            "batch_size": 64,
            "seq_len": 128,
            "learning_rate": 3e-3,
            "max_steps_per_epoch": 120,
        }
    )
    model = get_architecture("byte-gru")(config)
    trainer = PhaseTrainer(model, config, data.tokens, architecture="byte-gru")

    metrics = trainer.train_phase(1)

    assert metrics.val_perplexity is not None
    assert metrics.val_perplexity < 12


def test_verbose_shows_keras_progress(capsys: pytest.CaptureFixture[str]) -> None:
    config = tiny_config()
    model = get_architecture("byte-gru")(config)
    trainer = PhaseTrainer(model, config, tiny_tokens(), verbose=2)

    trainer.train_phase(1)
    progress = capsys.readouterr().out
    trainer.train_phase(2, verbose=0)

    assert "loss:" in progress
    assert "loss:" not in capsys.readouterr().out


def test_trains_on_memory_mapped_tokens(tmp_path: Path) -> None:
    writer = TokenWriter(tmp_path, spill_threshold=1024)
    writer.write(tiny_tokens().tobytes())
    tokens = writer.finish()
    config = tiny_config()
    model = get_architecture("byte-gru")(config)

    metrics = PhaseTrainer(model, config, tokens).train_phase(1)

    assert isinstance(tokens, np.memmap)
    assert math.isfinite(metrics.loss)
