"""Model quality per CPU-minute: validation perplexity after a fixed time budget.

Each registered architecture trains at its default sizes and the default
hyperparameters. The baseline is a character-level LSTM of 512 units with
sequence length 100, batch 64 and Adam at 1e-3. All train on the
Shakespeare corpus until the wall-clock budget runs out, and the budget
includes building and tracing the model. Each is then evaluated on the same held-out bytes,
the last 10% of the corpus, cut into windows of its own sequence length.
Perplexity is per byte. Target: the default architecture reaches lower
validation perplexity than the baseline in the same budget.
"""

from __future__ import annotations

import math
import time
from typing import Any

from benchmarks.common import BenchmarkResult, RunOptions, shakespeare_corpus

TITLE = "validation perplexity after a fixed training time"
FULL_BUDGET_SECONDS = 60.0
SMOKE_BUDGET_SECONDS = 2.0
SMOKE_EVALUATION_WINDOWS = 256


def run(options: RunOptions) -> BenchmarkResult:
    """Train every candidate for the budget and evaluate it."""
    import tempfile
    from pathlib import Path

    from benchmarks import training_support as support
    from cerebros_trainer.corpus import read_corpus

    corpus = shakespeare_corpus()
    budget = options.budget_seconds or (
        SMOKE_BUDGET_SECONDS if options.smoke else FULL_BUDGET_SECONDS
    )
    with tempfile.TemporaryDirectory(prefix="cerebros-bench-quality-") as cache:
        tokens = read_corpus(str(corpus), cache_dir=Path(cache)).tokens
    train_tokens, validation_tokens = support.split_tokens(tokens)

    support.warm_up_tensorflow()
    rows = []
    for candidate in support.candidates():
        rows.append(
            _train_and_evaluate(
                support, candidate, train_tokens, validation_tokens, budget, options
            )
        )

    baseline = next(row for row in rows if row["baseline"])
    default = next(row for row in rows if row["default"])
    for row in rows:
        row["vs baseline"] = row["val perplexity"] / baseline["val perplexity"]
    return BenchmarkResult(
        name="model_quality",
        title=TITLE,
        columns=[
            "model",
            "parameters",
            "seq_len",
            "batch",
            "steps",
            "tokens seen",
            "val loss",
            "val perplexity",
            "vs baseline",
        ],
        rows=rows,
        target="default architecture's validation perplexity < the baseline's",
        target_met=default["val perplexity"] < baseline["val perplexity"],
        notes=[
            (
                f"{budget:g} s of training per model, including build and tracing; "
                f"training bytes {len(train_tokens)}, validation bytes "
                f"{len(validation_tokens)} (last 10% of the corpus)"
            ),
            f"default architecture: {default['model']}",
        ],
    )


def _train_and_evaluate(
    support: Any,
    candidate: Any,
    train_tokens: Any,
    validation_tokens: Any,
    budget: float,
    options: RunOptions,
) -> dict[str, Any]:
    config = candidate.config
    budget_callback = support.TimeBudget(budget, started=time.perf_counter())
    model = support.build_compiled(candidate)
    train = support.training_dataset(
        support.windows(train_tokens, config.seq_len), config.batch_size
    )
    # One long epoch: the time budget, not the epoch count, ends training.
    model.fit(
        train,
        epochs=1,
        steps_per_epoch=10**9,
        callbacks=[budget_callback],
        shuffle=False,
        verbose=0,
    )

    held_out = support.windows(validation_tokens, config.seq_len)
    if options.smoke:
        held_out = held_out[:SMOKE_EVALUATION_WINDOWS]
    loss = float(
        model.evaluate(
            support.evaluation_dataset(held_out, config.batch_size), verbose=0
        )
    )
    steps = budget_callback.steps
    return {
        "model": candidate.label,
        "default": candidate.is_default,
        "baseline": candidate.is_baseline,
        "parameters": int(model.count_params()),
        "seq_len": config.seq_len,
        "batch": config.batch_size,
        "steps": steps,
        "tokens seen": steps * config.batch_size * config.seq_len,
        "val loss": loss,
        "val perplexity": math.exp(loss),
    }
