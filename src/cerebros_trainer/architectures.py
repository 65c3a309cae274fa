"""Model architectures, registered under the model ids that jobs name.

A builder takes a `TrainingConfig` and returns an uncompiled `keras.Model`
mapping int32 byte ids of shape (batch, seq_len) to logits of shape
(batch, seq_len, 256). Jobs often name a hosted model ("gpt-4o-mini"); such
ids resolve to the default architecture unless strict resolution is asked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import keras

from cerebros_trainer.corpus.tokens import VOCABULARY_SIZE
from cerebros_trainer.errors import HyperparameterError, UnknownModelError
from cerebros_trainer.hyperparams import TrainingConfig

logger = logging.getLogger(__name__)

ArchitectureBuilder = Callable[[TrainingConfig], keras.Model]

DEFAULT_ARCHITECTURE = "byte-gru"

_REGISTRY: dict[str, ArchitectureBuilder] = {}


@dataclass(frozen=True)
class ResolvedArchitecture:
    """The architecture chosen for a model id; `fallback` marks the default."""

    name: str
    builder: ArchitectureBuilder
    fallback: bool


def register_architecture(name: str, builder: ArchitectureBuilder) -> None:
    """Register `builder` under the model id `name`, replacing any earlier one."""
    if not name or not name.strip():
        raise ValueError(f"architecture name must be non-empty, received {name!r}")
    if name in _REGISTRY:
        logger.info("replacing registered architecture %r", name)
    _REGISTRY[name] = builder


def registered_architectures() -> list[str]:
    """Return the registered model ids, sorted."""
    return sorted(_REGISTRY)


def get_architecture(name: str) -> ArchitectureBuilder:
    """Return the builder registered as `name`; raise `UnknownModelError` if none."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise _unknown(name) from None


def resolve_architecture(
    model_id: str | None, *, default: str = DEFAULT_ARCHITECTURE, strict: bool = False
) -> ResolvedArchitecture:
    """Choose the architecture for a job's `model_id`.

    An unregistered id resolves to `default` with `fallback=True`, or raises
    `UnknownModelError` listing the registered ids when `strict` is true.
    """
    if model_id and model_id in _REGISTRY:
        return ResolvedArchitecture(model_id, _REGISTRY[model_id], fallback=False)
    if strict:
        raise _unknown(model_id)
    return ResolvedArchitecture(default, get_architecture(default), fallback=True)


def _unknown(name: str | None) -> UnknownModelError:
    registered = ", ".join(registered_architectures())
    return UnknownModelError(
        f"model id {name!r} names no registered architecture: expected one of "
        f"{registered}, or register it with register_architecture()"
    )


@keras.saving.register_keras_serializable(package="cerebros")
class PositionEmbedding(keras.layers.Layer):  # type: ignore[misc]
    """Add a learned embedding of each position to a (batch, length, dim) input."""

    def __init__(self, max_length: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_length = max_length

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self.embeddings = self.add_weight(
            name="embeddings",
            shape=(self.max_length, int(input_shape[-1] or 0)),
            initializer="glorot_uniform",
        )

    def call(self, inputs: Any) -> Any:
        length = keras.ops.shape(inputs)[1]
        return inputs + self.embeddings[None, :length, :]

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = super().get_config()
        config["max_length"] = self.max_length
        return config


def _token_input(config: TrainingConfig) -> keras.KerasTensor:
    return keras.Input(shape=(config.seq_len,), dtype="int32", name="tokens")


def _logits(features: keras.KerasTensor) -> keras.KerasTensor:
    return keras.layers.Dense(VOCABULARY_SIZE, name="logits")(features)


def build_byte_gru(config: TrainingConfig) -> keras.Model:
    """Build a byte-level GRU language model (the default architecture)."""
    return _build_recurrent(config, keras.layers.GRU, "byte_gru")


def build_byte_lstm(config: TrainingConfig) -> keras.Model:
    """Build a byte-level (character-level) LSTM language model."""
    return _build_recurrent(config, keras.layers.LSTM, "byte_lstm")


def _build_recurrent(
    config: TrainingConfig, layer_type: type[keras.layers.Layer], name: str
) -> keras.Model:
    embedding_dim = config.embedding_dim or 64
    hidden_units = config.hidden_units or 256
    num_layers = config.num_layers or 1

    tokens = _token_input(config)
    features = keras.layers.Embedding(VOCABULARY_SIZE, embedding_dim)(tokens)
    for index in range(num_layers):
        features = layer_type(
            hidden_units, return_sequences=True, name=f"recurrent_{index}"
        )(features)
    return keras.Model(tokens, _logits(features), name=name)


def build_byte_transformer(config: TrainingConfig) -> keras.Model:
    """Build a small causal (decoder-only) Transformer over bytes."""
    embedding_dim = config.embedding_dim or 128
    num_heads = config.num_heads or 4
    hidden_units = config.hidden_units or 4 * embedding_dim
    num_layers = config.num_layers or 2
    if embedding_dim % num_heads:
        raise HyperparameterError(
            f"hyperparameters embedding_dim={embedding_dim} and "
            f"num_heads={num_heads} do not fit byte-transformer: expected "
            "embedding_dim to be a multiple of num_heads"
        )

    tokens = _token_input(config)
    features = keras.layers.Embedding(VOCABULARY_SIZE, embedding_dim)(tokens)
    features = PositionEmbedding(config.seq_len, name="positions")(features)
    for index in range(num_layers):
        features = _transformer_block(
            features, index, embedding_dim, num_heads, hidden_units
        )
    features = keras.layers.LayerNormalization(name="final_norm")(features)
    return keras.Model(tokens, _logits(features), name="byte_transformer")


def _transformer_block(
    features: keras.KerasTensor,
    index: int,
    embedding_dim: int,
    num_heads: int,
    hidden_units: int,
) -> keras.KerasTensor:
    # Pre-norm residual blocks train stably without a learning-rate warmup.
    normed = keras.layers.LayerNormalization(name=f"attention_norm_{index}")(features)
    attention = keras.layers.MultiHeadAttention(
        num_heads, embedding_dim // num_heads, name=f"attention_{index}"
    )(normed, normed, use_causal_mask=True)
    features = keras.layers.Add()([features, attention])

    normed = keras.layers.LayerNormalization(name=f"feed_forward_norm_{index}")(
        features
    )
    hidden = keras.layers.Dense(hidden_units, activation="gelu")(normed)
    projected = keras.layers.Dense(embedding_dim)(hidden)
    return keras.layers.Add()([features, projected])


register_architecture("byte-gru", build_byte_gru)
register_architecture("byte-lstm", build_byte_lstm)
register_architecture("byte-transformer", build_byte_transformer)
