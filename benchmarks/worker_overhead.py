"""Worker overhead: one whole job against a bare `model.fit` of the same training.

The job runs end to end in a `Worker`: claim from the stand-in coordinator,
read the Shakespeare corpus, train two phases, save, upload and register a
checkpoint after each, report metrics and the final status. The coordinator
and moto's S3 server run in their own processes on loopback. The baseline
builds the same model and fits it for the same epochs, steps and
validation batches on windows prepared in memory beforehand, so the
baseline's timer covers model building and `fit` only. Target: the whole
job takes at most 1.10 times the bare fit.
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import (
    S3_REGION,
    BenchmarkResult,
    RunOptions,
    coordinator_process,
    make_s3_client,
    median,
    moto_server,
    shakespeare_corpus,
)

TITLE = "whole job against a bare model.fit"
TARGET_RATIO = 1.10
BUCKET = "cerebros-bench"
MODEL_ID = "byte-gru"

# About a minute of training on two cores: two phases of one epoch each.
FULL_HYPERPARAMETERS: dict[str, Any] = {
    "n_epochs": 1,
    "phases": 2,
    "batch_size": 32,
    "seq_len": 64,
    "learning_rate": 0.001,
    "max_steps_per_epoch": 320,
    "validation_split": 0.1,
}
SMOKE_HYPERPARAMETERS: dict[str, Any] = {
    **FULL_HYPERPARAMETERS,
    "batch_size": 8,
    "seq_len": 16,
    "hidden_units": 16,
    "embedding_dim": 8,
    "max_steps_per_epoch": 5,
}


def run(options: RunOptions) -> BenchmarkResult:
    """Time bare fits and whole jobs, alternated, and compare the medians."""
    from benchmarks import training_support as support
    from cerebros_trainer.corpus import read_corpus

    corpus = shakespeare_corpus()
    hyperparameters = SMOKE_HYPERPARAMETERS if options.smoke else FULL_HYPERPARAMETERS
    # bare, job, job, bare: each side gets an early and a late slot.
    order = ("bare", "job") if options.smoke else ("bare", "job", "job", "bare")
    seconds: dict[str, list[float]] = {"bare": [], "job": []}
    details: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="cerebros-bench-worker-") as workdir:
        root = Path(workdir)
        tokens = read_corpus(str(corpus), cache_dir=root / "cache").tokens
        support.warm_up_tensorflow()
        with moto_server() as endpoint, coordinator_process() as url:
            make_s3_client(endpoint).create_bucket(Bucket=BUCKET)
            for index, side in enumerate(order):
                if side == "bare":
                    seconds["bare"].append(_bare_fit(support, tokens, hyperparameters))
                else:
                    elapsed, details = _whole_job(
                        url, endpoint, corpus, root / f"job-{index}", hyperparameters
                    )
                    seconds["job"].append(elapsed)

    bare = median(seconds["bare"])
    job = median(seconds["job"])
    rows = [
        {
            "run": "bare model.fit",
            "median s": bare,
            "runs": len(seconds["bare"]),
            "vs bare fit": 1.0,
        },
        {
            "run": "whole job through the worker",
            "median s": job,
            "runs": len(seconds["job"]),
            "vs bare fit": job / bare,
        },
    ]
    return BenchmarkResult(
        name="worker_overhead",
        title=TITLE,
        columns=["run", "median s", "runs", "vs bare fit"],
        rows=rows,
        target=f"whole job <= {TARGET_RATIO}x the bare fit",
        target_met=job / bare <= TARGET_RATIO,
        notes=[
            f"model {MODEL_ID}, hyperparameters {hyperparameters}",
            (
                f"all times (s): bare {_rounded(seconds['bare'])}, "
                f"job {_rounded(seconds['job'])}"
            ),
            f"last job: {details}",
        ],
    )


def _bare_fit(support: Any, tokens: Any, hyperparameters: dict[str, Any]) -> float:
    from cerebros_trainer.architectures import get_architecture
    from cerebros_trainer.hyperparams import TrainingConfig

    config = TrainingConfig.from_hyperparameters(hyperparameters)
    candidate = support.Candidate(MODEL_ID, get_architecture(MODEL_ID), config)
    train_tokens, validation_tokens = _split(tokens, config.validation_split)
    train = support.training_dataset(
        support.windows(train_tokens, config.seq_len), config.batch_size
    )
    validation_windows = support.windows(validation_tokens, config.seq_len)
    validation_batches = min(
        len(validation_windows) // config.batch_size,
        config.max_steps_per_epoch or 10**9,
    )
    validation = support.evaluation_dataset(
        validation_windows[: validation_batches * config.batch_size], config.batch_size
    )

    started = time.perf_counter()
    model = support.build_compiled(candidate)
    model.fit(
        train,
        epochs=config.n_epochs * config.phases,
        steps_per_epoch=config.max_steps_per_epoch,
        validation_data=validation,
        verbose=0,
        shuffle=False,
    )
    return time.perf_counter() - started


def _split(tokens: Any, share: float) -> tuple[Any, Any]:
    # The same split as the worker: validation is the corpus's last `share`.
    cut = len(tokens) - int(len(tokens) * share)
    return tokens[:cut], tokens[cut:]


def _whole_job(
    url: str,
    endpoint: str,
    corpus: Path,
    root: Path,
    hyperparameters: dict[str, Any],
) -> tuple[float, dict[str, Any]]:
    from cerebros_client.testing import seed_job
    from cerebros_trainer.settings import WorkerSettings
    from cerebros_trainer.worker import Worker

    job_id = seed_job(
        url, str(corpus), model_id=MODEL_ID, hyperparameters=hyperparameters
    )["job_id"]
    settings = WorkerSettings(
        api_url=url,
        checkpoint_url=f"s3://{BUCKET}/checkpoints",
        aws_endpoint_url=endpoint,
        aws_region=S3_REGION,
        state_dir=root / "state",
        cache_dir=root / "cache",
        log_file="",
        worker_id="benchmark-worker",
    )
    # The worker logs each step at INFO; the benchmark prints only its table.
    logging.getLogger("cerebros_trainer").setLevel(logging.WARNING)
    started = time.perf_counter()
    with Worker(settings, verbose=0) as worker:
        result = worker.run_once()
    elapsed = time.perf_counter() - started

    if result is None or result.job_id != job_id or result.status != "completed":
        raise RuntimeError(
            f"the benchmark job {job_id} did not complete: worker result {result!r}"
        )
    details = {
        "job_id": job_id,
        "checkpoints": len(result.checkpoint_urls),
        "final val_perplexity": result.phase_metrics[max(result.phase_metrics)].get(
            "val_perplexity"
        ),
    }
    return elapsed, details


def _rounded(values: list[float]) -> list[float]:
    return [round(value, 2) for value in values]
