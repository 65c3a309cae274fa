"""Typed client for the Cerebros coordination API (Thunderline).

Example::

    from cerebros_client import CerebrosClient

    with CerebrosClient.from_env() as client:
        job = client.poll_job()
        if job is not None:
            client.start_job(job.id)
"""

from ._client import CerebrosClient
from ._config import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_READ_TIMEOUT,
    DEFAULT_TIMEOUT,
    Timeout,
)
from ._models import Corpus, Hyperparameters, Job, JobStatus, ServiceRegistration
from ._payloads import MAX_PHASE, MIN_PHASE
from ._retry import NO_RETRY, RETRYABLE_STATUSES, RetryPolicy
from .errors import (
    ApiError,
    BadRequest,
    CerebrosError,
    Conflict,
    NotFound,
    ProtocolError,
    RateLimited,
    ServerError,
    TransportError,
    Unauthorized,
)

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_READ_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "MAX_PHASE",
    "MIN_PHASE",
    "NO_RETRY",
    "RETRYABLE_STATUSES",
    "ApiError",
    "BadRequest",
    "CerebrosClient",
    "CerebrosError",
    "Conflict",
    "Corpus",
    "Hyperparameters",
    "Job",
    "JobStatus",
    "NotFound",
    "ProtocolError",
    "RateLimited",
    "RetryPolicy",
    "ServerError",
    "ServiceRegistration",
    "Timeout",
    "TransportError",
    "Unauthorized",
]
