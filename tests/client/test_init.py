"""The public surface of `cerebros_client`."""

from __future__ import annotations

import inspect
from pathlib import Path

import cerebros_client


def test_all_lists_public_names() -> None:
    assert sorted(cerebros_client.__all__) == sorted(
        [
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
    )


def test_all_names_resolve() -> None:
    for name in cerebros_client.__all__:
        assert hasattr(cerebros_client, name), name


def test_public_classes_and_methods_documented() -> None:
    for name in cerebros_client.__all__:
        value = getattr(cerebros_client, name)
        if not inspect.isclass(value):
            continue
        assert value.__doc__, name
        for attr, member in vars(value).items():
            if attr.startswith("_") or not callable(member):
                continue
            assert member.__doc__, f"{name}.{attr}"


def test_py_typed_marker() -> None:
    assert (Path(cerebros_client.__file__).parent / "py.typed").is_file()
