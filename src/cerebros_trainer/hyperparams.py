"""Training configuration, validated from a job's hyperparameters.

Jobs carry hyperparameters as loose JSON: numbers may arrive as strings
("32") and unknown keys may appear. `TrainingConfig.from_hyperparameters`
checks every known key before any training starts and keeps the rest in
`extra`, so the runner can log them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from cerebros_trainer.errors import HyperparameterError

MAX_PHASES = 4  # the coordinator accepts phases 0 to 4 and rejects larger ones


@dataclass(frozen=True)
class _IntRule:
    minimum: int
    maximum: int

    def expected(self) -> str:
        return f"an integer from {self.minimum} to {self.maximum}"


@dataclass(frozen=True)
class _FloatRule:
    minimum: float
    maximum: float
    minimum_inclusive: bool = True

    def expected(self) -> str:
        lower = "from" if self.minimum_inclusive else "greater than"
        upper = "to" if self.minimum_inclusive else "and at most"
        return f"a number {lower} {self.minimum:g} {upper} {self.maximum:g}"


_RULES: dict[str, _IntRule | _FloatRule] = {
    "n_epochs": _IntRule(1, 10_000),
    "batch_size": _IntRule(1, 65_536),
    "learning_rate": _FloatRule(0.0, 10.0, minimum_inclusive=False),
    "phases": _IntRule(1, MAX_PHASES),
    "seq_len": _IntRule(1, 65_536),
    "validation_split": _FloatRule(0.0, 0.9),
    "seed": _IntRule(0, 2**32 - 1),
    "embedding_dim": _IntRule(1, 65_536),
    "hidden_units": _IntRule(1, 65_536),
    "num_layers": _IntRule(1, 64),
    "num_heads": _IntRule(1, 1_024),
    "max_steps_per_epoch": _IntRule(1, 10**12),
    "phase_lr_decay": _FloatRule(0.0, 10.0, minimum_inclusive=False),
}


@dataclass(frozen=True)
class TrainingConfig:
    """Validated hyperparameters of one training job.

    Model-size fields left as None take the architecture's own default.
    `max_steps_per_epoch` of None runs every full batch of the corpus.
    """

    n_epochs: int = 1
    batch_size: int = 32
    learning_rate: float = 1e-3
    phases: int = 2
    seq_len: int = 64
    validation_split: float = 0.1
    seed: int = 0
    embedding_dim: int | None = None
    hidden_units: int | None = None
    num_layers: int | None = None
    num_heads: int | None = None
    max_steps_per_epoch: int | None = None
    phase_lr_decay: float = 1.0
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_hyperparameters(cls, raw: Mapping[str, Any] | None) -> TrainingConfig:
        """Validate a job's hyperparameters and build the configuration.

        A key whose value is null takes its default. Numbers may be sent as
        strings. Raises `HyperparameterError` naming the key, the received
        value and the expected type and range.
        """
        values: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in (raw or {}).items():
            rule = _RULES.get(key)
            if rule is None:
                extra[key] = value
            elif value is not None:
                values[key] = _convert(key, value, rule)
        return cls(**values, extra=extra)

    @property
    def unknown_keys(self) -> list[str]:
        """Names of the hyperparameters this trainer does not use, sorted."""
        return sorted(self.extra)

    def learning_rate_for_phase(self, phase: int) -> float:
        """Return the learning rate of `phase` (1-based) after phase decay."""
        return self.learning_rate * self.phase_lr_decay ** (phase - 1)

    def to_dict(self) -> dict[str, Any]:
        """Return the known fields as plain values (without `extra`)."""
        return {
            f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"
        }


def check_fits_data(config: TrainingConfig, n_tokens: int) -> None:
    """Raise `HyperparameterError` unless the corpus gives full batches.

    Training and, when `validation_split` is above 0, validation each need
    at least `batch_size` windows of `seq_len + 1` tokens (bytes).
    """
    window = config.seq_len + 1
    needed = config.batch_size * window
    validation_tokens = int(n_tokens * config.validation_split)
    train_tokens = n_tokens - validation_tokens
    if train_tokens < needed:
        raise HyperparameterError(
            f"hyperparameters batch_size={config.batch_size} and "
            f"seq_len={config.seq_len} need at least {needed} training tokens "
            f"(batch_size * (seq_len + 1)), but the corpus has {n_tokens} tokens "
            f"and {train_tokens} remain for training: lower batch_size or "
            "seq_len, or use a larger corpus"
        )
    if config.validation_split > 0 and validation_tokens < needed:
        raise HyperparameterError(
            f"hyperparameter validation_split={config.validation_split:g} leaves "
            f"{validation_tokens} of the corpus's {n_tokens} tokens for "
            f"validation, less than one full batch of {needed} tokens "
            f"(batch_size={config.batch_size}, seq_len={config.seq_len}): raise "
            "validation_split, lower batch_size or seq_len, or set "
            "validation_split to 0"
        )


def _convert(key: str, value: Any, rule: _IntRule | _FloatRule) -> int | float:
    number = _parse_number(value)
    if isinstance(rule, _IntRule):
        if number is None or not float(number).is_integer():
            raise _invalid(key, value, rule.expected())
        result: int | float = int(number)
    else:
        if number is None or not math.isfinite(number):
            raise _invalid(key, value, rule.expected())
        result = float(number)

    if not _in_range(result, rule):
        raise _invalid(key, value, rule.expected())
    return result


def _parse_number(value: Any) -> int | float | None:
    # bool is an int subclass, but true/false is never a meant number.
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            return float(text)
        except ValueError:
            return None
    return None


def _in_range(number: float, rule: _IntRule | _FloatRule) -> bool:
    if isinstance(rule, _FloatRule) and not rule.minimum_inclusive:
        return rule.minimum < number <= rule.maximum
    return rule.minimum <= number <= rule.maximum


def _invalid(key: str, value: Any, expected: str) -> HyperparameterError:
    return HyperparameterError(
        f"hyperparameter {key!r} is invalid: received {value!r}, expected {expected}"
    )
