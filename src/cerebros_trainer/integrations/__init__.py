"""Optional experiment tracking integrations, each a job observer."""

from __future__ import annotations

from cerebros_trainer.observers import JobObserver
from cerebros_trainer.settings import WorkerSettings


def build_observers(settings: WorkerSettings) -> list[JobObserver]:
    """Create the observers that the settings switch on."""
    observers: list[JobObserver] = []
    return observers
