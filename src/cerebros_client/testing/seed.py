"""The guide's setup steps over plain HTTP: dataset, freeze, corpus path, job."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import requests

logger = logging.getLogger(__name__)

DEFAULT_MODEL_ID = "byte-gru"
DEFAULT_HYPERPARAMETERS: dict[str, Any] = {
    "n_epochs": 1,
    "batch_size": 32,
    "learning_rate": 0.001,
}
DEFAULT_TIMEOUT = 10.0


class AdminClient:
    """Calls to the stand-in's admin endpoints, with plain ``requests``.

    Every method raises ``requests.HTTPError`` on an error status, with the
    server's error detail in the message.
    """

    def __init__(
        self, url: str, *, token: str | None = None, timeout: float = DEFAULT_TIMEOUT
    ):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def create_dataset(
        self, name: str = "Test Dataset", *, metadata: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Create a dataset and return it."""
        body = {"name": name, "metadata": metadata or {}}
        return self._call("POST", "/api/datasets", json=body)

    def get_dataset(self, dataset_id: str) -> dict[str, Any]:
        """Return one dataset."""
        return self._call("GET", f"/api/datasets/{dataset_id}")

    def freeze_dataset(self, dataset_id: str) -> None:
        """Freeze a dataset so jobs can be created on it."""
        self._call("POST", f"/api/datasets/{dataset_id}/freeze")

    def set_corpus_path(self, dataset_id: str, corpus_path: str | Path) -> None:
        """Set the corpus path of a dataset; a local path is made absolute."""
        self._call(
            "PATCH",
            f"/api/datasets/{dataset_id}",
            json={"corpus_path": absolute_location(corpus_path)},
        )

    def create_job(
        self,
        dataset_id: str,
        *,
        model_id: str = DEFAULT_MODEL_ID,
        hyperparameters: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Queue a job on a frozen dataset and return it."""
        body = {
            "training_dataset_id": dataset_id,
            "model_id": model_id,
            "hyperparameters": dict(DEFAULT_HYPERPARAMETERS)
            if hyperparameters is None
            else hyperparameters,
            "metadata": metadata or {},
        }
        return self._call("POST", "/api/jobs", json=body)

    def get_job(self, job_id: str) -> dict[str, Any]:
        """Return a job with its checkpoints and ``phase_metrics``."""
        return self._call("GET", f"/api/jobs/{job_id}")

    def list_jobs(self, status: str | None = None) -> list[dict[str, Any]]:
        """Return jobs in creation order, optionally only those with ``status``."""
        params = {"status": status} if status else None
        listing = self._call("GET", "/api/jobs", params=params)
        jobs: list[dict[str, Any]] = listing["jobs"]
        return jobs

    def cancel_job(self, job_id: str) -> None:
        """Cancel a job."""
        self._call("POST", f"/api/jobs/{job_id}/cancel")

    def seed(
        self,
        corpus_path: str | Path,
        *,
        model_id: str = DEFAULT_MODEL_ID,
        hyperparameters: dict[str, Any] | None = None,
        dataset_name: str = "Test Dataset",
    ) -> dict[str, str]:
        """Run the guide's setup and return ``{"dataset_id", "job_id"}``."""
        dataset = self.create_dataset(dataset_name)
        self.freeze_dataset(dataset["id"])
        self.set_corpus_path(dataset["id"], corpus_path)
        job = self.create_job(
            dataset["id"], model_id=model_id, hyperparameters=hyperparameters
        )
        logger.info("seeded job %s on dataset %s", job["id"], dataset["id"])
        return {"dataset_id": dataset["id"], "job_id": job["id"]}

    def close(self) -> None:
        """Close the HTTP session."""
        self.session.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self.session.request(
            method, self.url + path, timeout=self.timeout, **kwargs
        )
        if response.status_code >= 400:
            raise requests.HTTPError(
                f"{method} {path} failed with {response.status_code}:"
                f" {response.text[:300]}",
                response=response,
            )
        if response.status_code == 204 or not response.content:
            return {}
        body: dict[str, Any] = response.json()
        return body


def absolute_location(location: str | Path) -> str:
    """Return a URL unchanged and a local path made absolute."""
    text = str(location)
    if "://" in text:
        return text
    return str(Path(text).resolve())


def seed_job(
    url: str,
    corpus_path: str | Path,
    *,
    model_id: str = DEFAULT_MODEL_ID,
    hyperparameters: dict[str, Any] | None = None,
    token: str | None = None,
    dataset_name: str = "Test Dataset",
) -> dict[str, str]:
    """Create a dataset, freeze it, set its corpus path and queue one job.

    Returns ``{"dataset_id": ..., "job_id": ...}``.
    """
    admin = AdminClient(url, token=token)
    try:
        return admin.seed(
            corpus_path,
            model_id=model_id,
            hyperparameters=hyperparameters,
            dataset_name=dataset_name,
        )
    finally:
        admin.close()
