"""Tolerant parsing of the bodies the coordinator sends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pydantic
import pytest

from cerebros_client import Corpus, Hyperparameters, Job, JobStatus, ServiceRegistration

from .support import JOB_ID, job_body


def test_job_from_deployed_shape() -> None:
    job = Job.model_validate(job_body())

    assert job.id == JOB_ID
    assert job.status is JobStatus.QUEUED
    assert job.hyperparameters.batch_size == 32
    assert job.hyperparameters.learning_rate == 0.0001
    assert job.checkpoint_urls == []
    assert job.lease_expires_at is None


def test_unknown_fields_ignored() -> None:
    job = Job.model_validate(job_body(surprise="x", model_loaded=True))

    assert not hasattr(job, "surprise")


@pytest.mark.parametrize("raw", ["RUNNING", "Running", " running "])
def test_status_case_insensitive(raw: str) -> None:
    assert Job.model_validate(job_body(status=raw)).status is JobStatus.RUNNING


def test_unknown_status_rejected() -> None:
    with pytest.raises(pydantic.ValidationError, match="status"):
        Job.model_validate(job_body(status="training"))


def test_numbers_as_strings_coerced() -> None:
    hyper = Hyperparameters.model_validate(
        {"n_epochs": "3", "batch_size": "32.0", "learning_rate": "1e-4"}
    )

    assert hyper.n_epochs == 3
    assert hyper.batch_size == 32
    assert hyper.learning_rate == 0.0001


def test_wrong_types_kept_as_sent() -> None:
    hyper = Hyperparameters.model_validate(
        {"n_epochs": "2.5", "batch_size": "lots", "seq_len": 64}
    )

    dumped = hyper.model_dump(warnings=False)
    assert dumped["n_epochs"] == "2.5"
    assert dumped["batch_size"] == "lots"
    assert dumped["seq_len"] == 64


def test_boolean_not_read_as_number() -> None:
    hyper = Hyperparameters.model_validate({"batch_size": True})

    assert hyper.model_dump(warnings=False)["batch_size"] is True


def test_unknown_hyperparameters_kept() -> None:
    hyper = Hyperparameters.model_validate({"n_epochs": 2, "seq_len": 64})

    assert hyper.model_extra == {"seq_len": 64}
    assert hyper.model_dump() == {
        "n_epochs": 2,
        "batch_size": None,
        "learning_rate": None,
        "seq_len": 64,
    }


def test_naive_timestamp_is_utc() -> None:
    job = Job.model_validate(job_body(started_at="2025-12-01T10:00:00"))

    assert job.started_at == datetime(2025, 12, 1, 10, tzinfo=UTC)


def test_aware_timestamp_kept() -> None:
    job = Job.model_validate(job_body(started_at="2025-12-01T12:00:00+02:00"))

    assert job.started_at is not None
    assert job.started_at.utcoffset() == timedelta(hours=2)
    assert job.started_at == datetime(2025, 12, 1, 10, tzinfo=UTC)
    assert job.started_at.tzinfo == timezone(timedelta(hours=2))


def test_nulls_accepted() -> None:
    job = Job.model_validate(
        job_body(
            hyperparameters=None,
            metadata=None,
            metrics=None,
            checkpoint_urls=None,
            phase=None,
            phase_metrics=None,
        )
    )

    assert job.hyperparameters == Hyperparameters()
    assert job.metadata == {}
    assert job.metrics == {}
    assert job.checkpoint_urls == []
    assert job.phase == 0
    assert job.phase_metrics == {}


def test_phase_as_string() -> None:
    assert Job.model_validate(job_body(phase="2")).phase == 2


def test_integer_id_becomes_string() -> None:
    assert Job.model_validate(job_body(id=17)).id == "17"


def test_missing_id_rejected() -> None:
    body = job_body()
    del body["id"]

    with pytest.raises(pydantic.ValidationError, match="id"):
        Job.model_validate(body)


def test_corpus_tolerant() -> None:
    corpus = Corpus.model_validate(
        {"corpus_path": "/data/c", "total_chunks": "1500", "metadata": None, "x": 1}
    )

    assert corpus.total_chunks == 1500
    assert corpus.metadata == {}
    assert corpus.dataset_id is None


def test_service_registration() -> None:
    registration = ServiceRegistration.model_validate(
        {"id": "r1", "port": "8080", "capabilities": ["train"], "metadata": None}
    )

    assert registration.port == 8080
    assert registration.capabilities == ["train"]


def test_job_status_values() -> None:
    assert [status.value for status in JobStatus] == [
        "queued",
        "running",
        "completed",
        "failed",
        "cancelled",
    ]
    assert JobStatus("FAILED") is JobStatus.FAILED
