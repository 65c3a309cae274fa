"""Errors that fail one training job with a message the operator can act on.

The worker catches `JobError`, reports its message as the job's
`error_message` and goes on polling. Anything else that escapes a job is a
bug, and the worker still fails the job, with the exception type named.
"""

from __future__ import annotations


class JobError(Exception):
    """A problem with one job's input or run that fails that job alone."""


class CorpusError(JobError):
    """The corpus is missing, unreadable or contains too little usable text."""


class HyperparameterError(JobError):
    """A hyperparameter has the wrong type or lies outside its range."""


class UnknownModelError(JobError):
    """The job's model id names no registered architecture."""


class TrainingDiverged(JobError):
    """The loss became NaN or infinite, so the phase's weights are unusable."""


class TrainingInterrupted(JobError):
    """Training stopped early because the worker was asked to shut down."""


class StorageError(JobError):
    """A checkpoint could not be written, uploaded or verified."""
