"""One job on the real Shakespeare corpus, then generation in a fresh process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cerebros_trainer.worker import Worker
from tests.fixtures_worker import WorkerStack

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
SHAKESPEARE = SHARED_DATA / "shakespeare.jsonl"

GENERATE_SCRIPT = """
import sys
from pathlib import Path
from cerebros_trainer.generate import generate_text
from cerebros_trainer.settings import WorkerSettings
from cerebros_trainer.storage import open_checkpoint_store
from cerebros_trainer.training import load_checkpoint

url, destination = sys.argv[1], Path(sys.argv[2])
store = open_checkpoint_store(WorkerSettings(checkpoint_url=sys.argv[3]))
model = load_checkpoint(store.download(url, destination))
print(generate_text(model, "ROMEO:", max_new_bytes=80, temperature=0.5, seed=1))
"""


@pytest.mark.slow
def test_shakespeare_job_then_generate(
    worker_stack: WorkerStack, tmp_path: Path
) -> None:
    if not SHAKESPEARE.exists():
        pytest.skip(f"real corpus not found at {SHAKESPEARE}; it ships beside the repo")
    job_id = worker_stack.seed(
        corpus=SHAKESPEARE,
        batch_size=64,
        seq_len=96,
        hidden_units=192,
        embedding_dim=48,
        learning_rate=0.004,
        max_steps_per_epoch=120,
        validation_split=0.05,
    )
    settings = worker_stack.settings()

    with Worker(settings, verbose=0) as worker:
        result = worker.run_once()

    assert result is not None
    assert result.status == "completed"
    phase_2 = worker_stack.job(job_id)["phase_metrics"]["2"]
    # A uniform guess over 256 bytes has perplexity 256.
    assert phase_2["val_perplexity"] < 16

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    generated = subprocess.run(
        [
            sys.executable,
            "-c",
            GENERATE_SCRIPT,
            str(result.final_model_id),
            str(tmp_path / "downloaded.keras"),
            settings.checkpoint_url,
        ],
        env={**env, "AWS_ENDPOINT_URL": worker_stack.s3.endpoint_url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert generated.returncode == 0, generated.stderr
    text = generated.stdout.strip()
    assert len(text) >= 40
    assert sum(ch.isalpha() or ch.isspace() for ch in text) / len(text) > 0.7
