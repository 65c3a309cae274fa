"""Use the coordination client on its own, from a script or a notebook.

With THUNDERLINE_API_URL set, this talks to that coordinator. Without it,
it starts the stand-in coordinator on loopback and seeds one job, so the
script runs anywhere:

    python examples/client_basics.py
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from cerebros_client import CerebrosClient, CerebrosError, NotFound
from cerebros_client.testing import CoordinatorServer


def walk_through_one_job(client: CerebrosClient) -> None:
    """Take the next job by hand and report a made-up phase for it."""
    job = client.poll_job()
    if job is None:
        print("No queued job.")
        return
    print(f"Job {job.id}: model {job.model_id!r}, {job.hyperparameters}")

    corpus = client.get_corpus(job.training_dataset_id or "")
    print(f"Corpus of dataset {corpus.dataset_id}: {corpus.corpus_path}")

    client.start_job(job.id)
    # NaN is sent as null, and a phase outside 0..4 is rejected before sending.
    client.report_metrics(job.id, {"loss": 2.5, "accuracy": float("nan")}, phase=1)
    client.add_checkpoint(job.id, f"s3://example/{job.id}/phase-1.keras", phase=1)
    client.complete_job(job.id, final_model_id=f"s3://example/{job.id}/phase-1.keras")
    print(f"Job {job.id} completed.")


def main() -> None:
    if os.environ.get("THUNDERLINE_API_URL"):
        with CerebrosClient.from_env() as client:
            walk_through_one_job(client)
        return

    with tempfile.TemporaryDirectory() as workdir, CoordinatorServer() as server:
        corpus = Path(workdir) / "corpus.jsonl"
        corpus.write_text(json.dumps({"text": "To be, or not to be."}) + "\n")
        server.seed(corpus)
        with CerebrosClient(server.url) as client:
            walk_through_one_job(client)
            try:
                client.get_corpus("00000000-0000-0000-0000-000000000000")
            except NotFound as error:
                print(f"Typed error, as expected: {error}")
            except CerebrosError as error:
                print(f"Other client error: {error}")
        final = server.admin.list_jobs()[-1]
        print(
            f"Final record: status {final['status']}, "
            f"checkpoints {final['checkpoint_urls']}"
        )


if __name__ == "__main__":
    main()
