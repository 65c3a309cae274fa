"""Register your own Keras architecture and let jobs train it by model id.

A builder takes the job's `TrainingConfig` and returns an uncompiled Keras
model mapping byte ids of shape (batch, seq_len) to logits of shape
(batch, seq_len, 256). Jobs whose `model_id` names it train it:

    python examples/custom_architecture.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import keras

from cerebros_client.testing import CoordinatorServer
from cerebros_trainer.architectures import register_architecture
from cerebros_trainer.demo_corpus import write_stdlib_corpus
from cerebros_trainer.hyperparams import TrainingConfig
from cerebros_trainer.settings import WorkerSettings
from cerebros_trainer.worker import Worker

VOCABULARY_SIZE = 256


def build_conv_lm(config: TrainingConfig) -> keras.Model:
    """Build a small causal convolutional language model."""
    width = config.hidden_units or 128
    inputs = keras.Input(shape=(config.seq_len,), dtype="int32")
    x = keras.layers.Embedding(VOCABULARY_SIZE, config.embedding_dim or 64)(inputs)
    for dilation in (1, 2, 4, 8):
        # Causal padding keeps each position from seeing later bytes.
        x = keras.layers.Conv1D(
            width, 3, padding="causal", dilation_rate=dilation, activation="gelu"
        )(x)
    logits = keras.layers.Dense(VOCABULARY_SIZE)(x)
    return keras.Model(inputs, logits, name="causal_conv_lm")


def main() -> None:
    register_architecture("causal-conv", build_conv_lm)
    workdir = Path(tempfile.mkdtemp(prefix="cerebros-custom-"))
    corpus = workdir / "corpus.jsonl"
    write_stdlib_corpus(corpus)

    with CoordinatorServer() as coordinator:
        coordinator.seed(
            corpus,
            model_id="causal-conv",
            hyperparameters={"n_epochs": 1, "phases": 1, "max_steps_per_epoch": 40},
        )
        settings = WorkerSettings(
            api_url=coordinator.url,
            checkpoint_url=(workdir / "checkpoints").as_uri(),
            state_dir=workdir / "state",
            log_file="",
        )
        with Worker(settings, verbose=0) as worker:
            result = worker.run_once()

    assert result is not None
    print(f"trained {result.architecture}: {result.status}")
    print(f"checkpoint: {result.final_model_id}")


if __name__ == "__main__":
    main()
