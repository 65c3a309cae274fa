"""Training throughput: tokens per second and the share of the matmul peak.

Each registered architecture at its defaults and the baseline LSTM train
for a fixed number of steps after untimed warm-up steps. The peak is this
machine's float32 matrix-multiply rate in TensorFlow, measured in the same
run. Model FLOPs per token are an estimate: 6 times the parameters outside
embedding lookups (2 for the forward pass, 4 for the backward pass), plus
12 * layers * seq_len * width for attention scores in the Transformer.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from benchmarks.common import BenchmarkResult, RunOptions, median

TITLE = "training throughput and share of matmul peak"


def run(options: RunOptions) -> BenchmarkResult:
    """Measure the matmul peak, then each candidate's training rate."""
    from benchmarks import training_support as support

    size = 512 if options.smoke else 2048
    peak = matmul_peak_flops(size, repeats=3 if options.smoke else 10)
    warmup_steps, timed_steps = (2, 3) if options.smoke else (10, 60)

    support.warm_up_tensorflow()
    rng = np.random.default_rng(0)
    rows = []
    for candidate in support.candidates():
        rows.append(_measure(support, candidate, rng, warmup_steps, timed_steps, peak))
    baseline = next(row for row in rows if row["model"] == support.BASELINE_LABEL)
    for row in rows:
        row["tokens/s vs baseline"] = row["tokens/s"] / baseline["tokens/s"]
    return BenchmarkResult(
        name="throughput",
        title=TITLE,
        columns=[
            "model",
            "parameters",
            "seq_len",
            "batch",
            "tokens/s",
            "tokens/s vs baseline",
            "GFLOP/token (est.)",
            "GFLOP/s (est.)",
            "share of peak",
        ],
        rows=rows,
        notes=[
            (
                f"matmul peak: {peak / 1e9:.1f} GFLOP/s (float32 {size}x{size} "
                "tf.matmul, best of the repeats)"
            ),
            (
                f"{timed_steps} timed steps after {warmup_steps} warm-up steps, on "
                "random byte batches; FLOPs per token are estimated from parameter "
                "counts, not counted"
            ),
        ],
    )


def matmul_peak_flops(size: int, *, repeats: int) -> float:
    """Return the best float32 matmul rate, in FLOP/s, of a size x size product."""
    import tensorflow as tf

    left = tf.random.normal((size, size), dtype=tf.float32)
    right = tf.random.normal((size, size), dtype=tf.float32)
    product = tf.function(lambda a, b: tf.matmul(a, b))
    product(left, right).numpy()
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        product(left, right).numpy()
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best


def _measure(
    support: Any,
    candidate: Any,
    rng: np.random.Generator,
    warmup_steps: int,
    timed_steps: int,
    peak: float,
) -> dict[str, Any]:
    config = candidate.config
    model = support.build_compiled(candidate)
    data = rng.integers(
        0, 256, size=(config.batch_size * 8, config.seq_len + 1), dtype=np.int32
    )
    clock = support.StepClock()
    model.fit(
        support.training_dataset(data, config.batch_size),
        epochs=1,
        steps_per_epoch=warmup_steps + timed_steps,
        callbacks=[clock],
        verbose=0,
        shuffle=False,
    )
    step_seconds = np.diff(clock.ends[warmup_steps - 1 :])
    seconds_per_step = median(step_seconds.tolist())
    tokens_per_second = config.batch_size * config.seq_len / seconds_per_step
    flops_per_token = _flops_per_token(support, model, candidate)
    return {
        "model": candidate.label,
        "parameters": int(model.count_params()),
        "seq_len": config.seq_len,
        "batch": config.batch_size,
        "tokens/s": tokens_per_second,
        "GFLOP/token (est.)": flops_per_token / 1e9,
        "GFLOP/s (est.)": flops_per_token * tokens_per_second / 1e9,
        "share of peak": flops_per_token * tokens_per_second / peak,
    }


def _flops_per_token(support: Any, model: Any, candidate: Any) -> float:
    flops = 6.0 * support.non_embedding_parameters(model)
    if "transformer" in candidate.label:
        config = candidate.config
        layers = config.num_layers or 2
        width = config.embedding_dim or 128
        flops += 12.0 * layers * config.seq_len * width
    return flops
