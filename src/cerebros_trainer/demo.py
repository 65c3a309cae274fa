"""Train one job end to end on this machine: `python -m cerebros_trainer.demo`.

The demo starts the stand-in coordinator and an S3-compatible store (moto)
on loopback and seeds a dataset and a job the way the coordinator's guide
does. A worker then trains the job for two phases, and the demo prints the
per-phase metrics, the checkpoint URLs, the final status and text generated
from the checkpoint.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

DEMO_BUCKET = "cerebros-demo"
DEMO_MODEL_ID = "byte-gru"
# The default corpus gives about 90 batches per epoch, so two epochs per
# phase take 20 to 40 s per phase on two CPU cores.
DEMO_HYPERPARAMETERS: dict[str, Any] = {
    "n_epochs": 2,
    "phases": 2,
    "batch_size": 64,
    "learning_rate": 0.003,
    "seq_len": 96,
    "hidden_units": 256,
    "embedding_dim": 64,
    "max_steps_per_epoch": 300,
    "validation_split": 0.05,
    "phase_lr_decay": 0.5,
}
DEMO_PROMPT = "The function returns "

logger = logging.getLogger("cerebros_trainer.demo")


def build_parser() -> argparse.ArgumentParser:
    """Build the demo's argument parser."""
    parser = argparse.ArgumentParser(
        prog="cerebros-demo",
        description=(
            "Train one job end to end on loopback: stand-in coordinator, "
            "local S3 store, two phases, then generate text."
        ),
    )
    parser.add_argument(
        "--corpus",
        type=Path,
        default=None,
        help='JSONL ({"text": ...} per line), .txt or CSV directory to train '
        "on (default: the Python standard library's docstrings).",
    )
    parser.add_argument(
        "--model-id",
        default=DEMO_MODEL_ID,
        help=f"Architecture to train (default: {DEMO_MODEL_ID}).",
    )
    parser.add_argument(
        "--hyperparameters",
        type=json.loads,
        default=None,
        metavar="JSON",
        help="JSON object merged over the demo's hyperparameters, for example "
        "'{\"max_steps_per_epoch\": 50}'.",
    )
    parser.add_argument(
        "--prompt",
        default=None,
        help="Text the trained model continues at the end (default: "
        f"{DEMO_PROMPT!r} for the built-in corpus, 'The ' for your own).",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="Directory for the demo's state and database (default: a temporary one).",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo and return the process exit status."""
    args = build_parser().parse_args(argv)
    # TensorFlow prints several start-up notices at INFO level on stderr.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    _quiet_third_party_logs()

    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        return run_demo(args, args.workdir)
    with tempfile.TemporaryDirectory(prefix="cerebros-demo-") as workdir:
        return run_demo(args, Path(workdir))


def run_demo(args: argparse.Namespace, workdir: Path) -> int:
    """Start the services, train the seeded job and print the summary."""
    # Imported here so `--help` returns without loading TensorFlow.
    from moto.server import ThreadedMotoServer

    from cerebros_client.testing import CoordinatorServer, seed_job
    from cerebros_trainer.demo_corpus import write_stdlib_corpus
    from cerebros_trainer.settings import WorkerSettings
    from cerebros_trainer.worker import Worker

    corpus_path = _prepare_corpus(args.corpus, workdir, write_stdlib_corpus)
    hyperparameters = {**DEMO_HYPERPARAMETERS, **(args.hyperparameters or {})}

    _use_local_fake_aws_credentials()
    s3_port = _free_port()
    s3_server = ThreadedMotoServer(ip_address="127.0.0.1", port=s3_port, verbose=False)
    s3_server.start()
    endpoint = f"http://127.0.0.1:{s3_port}"
    try:
        with CoordinatorServer(db=str(workdir / "coordinator.sqlite3")) as coordinator:
            _create_bucket(endpoint)
            seeded = seed_job(
                coordinator.url,
                str(corpus_path),
                model_id=args.model_id,
                hyperparameters=hyperparameters,
            )
            print(f"Seeded dataset {seeded['dataset_id']} and job {seeded['job_id']}")

            settings = WorkerSettings(
                api_url=coordinator.url,
                checkpoint_url=f"s3://{DEMO_BUCKET}/checkpoints",
                aws_endpoint_url=endpoint,
                aws_region="us-east-1",
                state_dir=workdir / "state",
                cache_dir=workdir / "cache",
                worker_id="demo-worker",
            )
            started = time.monotonic()
            with Worker(settings) as worker:
                result = worker.run_once()
                elapsed = time.monotonic() - started
                if result is None:
                    print("The coordinator returned no job: nothing was trained.")
                    return 1
                final_job = coordinator.admin.get_job(result.job_id)
                prompt = args.prompt or (DEMO_PROMPT if args.corpus is None else "The ")
                sample = _generate_sample(
                    worker, result.final_model_id, workdir, prompt
                )
    finally:
        s3_server.stop()

    _print_summary(result, final_job, sample, elapsed)
    return 0 if result.status == "completed" else 1


def _prepare_corpus(
    corpus: Path | None, workdir: Path, write_stdlib_corpus: Any
) -> Path:
    if corpus is not None:
        if not corpus.exists():
            raise SystemExit(f"cerebros-demo: corpus {corpus} does not exist")
        return corpus.resolve()
    path = workdir / "stdlib_docstrings.jsonl"
    count = write_stdlib_corpus(path)
    print(f"Wrote {count} standard library docstrings to {path}")
    return path


def _generate_sample(
    worker: Any, checkpoint_url: str | None, workdir: Path, prompt: str
) -> str:
    if checkpoint_url is None:
        return ""
    from cerebros_trainer.generate import generate_text
    from cerebros_trainer.training import load_checkpoint

    local = worker.store.download(checkpoint_url, workdir / "final.keras")
    model = load_checkpoint(local)
    return prompt + generate_text(
        model, prompt, max_new_bytes=240, temperature=0.7, seed=0
    )


def _print_summary(
    result: Any, final_job: dict[str, Any], sample: str, elapsed: float
) -> None:
    print()
    print(
        f"Job {result.job_id}: {final_job['status']} in {elapsed:.0f} s "
        f"(architecture {result.architecture})"
    )
    for phase, metrics in sorted(result.phase_metrics.items()):
        shown = ", ".join(
            f"{name} {metrics[name]:.4g}"
            for name in (
                "loss",
                "val_loss",
                "val_perplexity",
                "val_accuracy",
                "tokens_per_second",
            )
            if isinstance(metrics.get(name), (int, float))
        )
        print(f"  phase {phase}: {shown}")
    print("Checkpoints:")
    for url in final_job.get("checkpoint_urls", []):
        print(f"  {url}")
    if result.error_message:
        print(f"Error: {result.error_message}")
    if sample:
        print("Generated from the final checkpoint:")
        print("  " + sample.replace("\n", "\n  "))


def _use_local_fake_aws_credentials() -> None:
    # The demo's store is moto on loopback, which accepts any credentials;
    # fixed fake ones keep boto3 from looking for real ones or a metadata
    # service.
    os.environ["AWS_ACCESS_KEY_ID"] = "cerebros-demo"
    os.environ["AWS_SECRET_ACCESS_KEY"] = "cerebros-demo"
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"


def _create_bucket(endpoint: str) -> None:
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=DEMO_BUCKET)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _quiet_third_party_logs() -> None:
    for name in ("werkzeug", "uvicorn", "uvicorn.access", "botocore", "urllib3"):
        logging.getLogger(name).setLevel(logging.WARNING)


if __name__ == "__main__":
    sys.exit(main())
