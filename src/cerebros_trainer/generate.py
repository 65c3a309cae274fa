"""Sample text from a trained byte-level language model."""

from __future__ import annotations

import keras
import numpy as np

# Context fed to a model whose input length is not fixed.
DEFAULT_CONTEXT_BYTES = 256
# Documents are joined with newlines, so a newline starts an empty prompt.
_START_BYTE = ord("\n")


def generate_text(
    model: keras.Model,
    prompt: str,
    *,
    max_new_bytes: int = 200,
    temperature: float = 0.8,
    seed: int | None = None,
) -> str:
    """Sample `max_new_bytes` bytes after `prompt` and return them as text.

    The returned text is the continuation only, without the prompt. Each
    byte is sampled from the logits at the last context position. A model
    with a fixed input length receives the last `seq_len` bytes, padded on
    the right. In a causal model the logits at the last real position do
    not depend on that padding. `temperature` 0 picks the most likely byte.
    The bytes are decoded as UTF-8, with invalid sequences replaced by U+FFFD.
    """
    if max_new_bytes < 0:
        raise ValueError(f"max_new_bytes must be 0 or more, received {max_new_bytes}")
    if not temperature >= 0:
        raise ValueError(f"temperature must be 0 or more, received {temperature}")

    context_length = _context_length(model)
    data = bytearray(prompt.encode("utf-8"))
    prompt_length = len(data)
    rng = np.random.default_rng(seed)
    for _ in range(max_new_bytes):
        context = bytes(data[-context_length:]) or bytes([_START_BYTE])
        logits = _next_byte_logits(model, context, context_length)
        data.append(_sample(logits, temperature, rng))
    return data[prompt_length:].decode("utf-8", errors="replace")


def _context_length(model: keras.Model) -> int:
    length = model.input_shape[1]
    return int(length) if length else DEFAULT_CONTEXT_BYTES


def _next_byte_logits(model: keras.Model, context: bytes, length: int) -> np.ndarray:
    fixed = model.input_shape[1] is not None
    ids = np.zeros((1, length if fixed else len(context)), dtype=np.int32)
    ids[0, : len(context)] = np.frombuffer(context, dtype=np.uint8)
    # predict_on_batch runs a compiled graph; calling the model eagerly
    # costs about 40 times more per byte for a recurrent layer.
    logits = np.asarray(model.predict_on_batch(ids))
    return np.asarray(logits[0, len(context) - 1], dtype=np.float64)


def _sample(logits: np.ndarray, temperature: float, rng: np.random.Generator) -> int:
    if temperature == 0:
        return int(np.argmax(logits))
    # Gumbel-max: argmax(logits / T + Gumbel noise) is a sample from
    # softmax(logits / T), without forming the probabilities.
    noise = rng.gumbel(size=logits.shape)
    return int(np.argmax(logits / temperature + noise))
