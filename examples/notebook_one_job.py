"""Train one job in a notebook and use the model it produced.

Everything runs in this process on loopback: the stand-in coordinator, a
local checkpoint directory in place of S3, and the trainer. Paste the cells
into Jupyter, or run the file:

    python examples/notebook_one_job.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from cerebros_client.testing import CoordinatorServer
from cerebros_trainer.demo_corpus import write_stdlib_corpus
from cerebros_trainer.generate import generate_text
from cerebros_trainer.settings import WorkerSettings
from cerebros_trainer.training import load_checkpoint
from cerebros_trainer.worker import Worker

HYPERPARAMETERS = {
    "n_epochs": 1,
    "phases": 2,
    "batch_size": 32,
    "seq_len": 64,
    "hidden_units": 128,
    "learning_rate": 0.003,
    "max_steps_per_epoch": 60,
}


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="cerebros-notebook-"))

    # Cell 1: a corpus and a coordinator with one queued job.
    corpus = workdir / "corpus.jsonl"
    write_stdlib_corpus(corpus)
    coordinator = CoordinatorServer().start()
    coordinator.seed(corpus, model_id="byte-gru", hyperparameters=HYPERPARAMETERS)

    # Cell 2: a worker that stores checkpoints in a local directory.
    settings = WorkerSettings(
        api_url=coordinator.url,
        checkpoint_url=(workdir / "checkpoints").as_uri(),
        state_dir=workdir / "state",
        log_file="",
    )
    with Worker(settings) as worker:
        result = worker.run_once()

    # Cell 3: what happened, phase by phase.
    assert result is not None
    print(f"status: {result.status}")
    for phase, metrics in sorted(result.phase_metrics.items()):
        print(f"phase {phase}: val_perplexity {metrics['val_perplexity']:.2f}")

    # Cell 4: load the final checkpoint and generate text from it.
    local_path = Path(result.final_model_id.removeprefix("file://"))
    model = load_checkpoint(local_path)
    print(generate_text(model, "Return the ", max_new_bytes=120, seed=0))

    coordinator.stop()


if __name__ == "__main__":
    main()
