"""Finding where an interrupted job left off, from the journal or the coordinator.

Checkpoints are named `phase-N.keras` after phase N finished, and
`phase-N-partial.keras` when a shutdown stopped phase N early. A job resumes
after its last finished phase, or inside the phase of a partial checkpoint,
which it then trains again from those weights for its full epoch count.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

CHECKPOINT_NAME = re.compile(r"phase-(?P<phase>\d+)(?P<partial>-partial)?\.keras$")


@dataclass(frozen=True)
class ResumePoint:
    """The checkpoint to load and the phase to train next."""

    checkpoint_url: str
    next_phase: int

    @property
    def finished_phases(self) -> int:
        """Number of phases already trained in full."""
        return self.next_phase - 1


def parse_checkpoint_url(url: str) -> tuple[int, bool] | None:
    """Return (phase, partial) for a checkpoint URL this worker wrote, else None."""
    match = CHECKPOINT_NAME.search(url)
    if match is None:
        return None
    return int(match["phase"]), match["partial"] is not None


def find_resume_point(
    journaled_phases: Mapping[int, str], coordinator_urls: Iterable[str]
) -> ResumePoint | None:
    """Pick the most advanced checkpoint known to the journal or the coordinator.

    Among checkpoints of finished phases the journal's is preferred, because
    it is written only after the upload was verified. Returns None when the job has no usable checkpoint.
    """
    candidates: list[tuple[int, int, str]] = []
    for phase, url in journaled_phases.items():
        candidates.append((phase + 1, 2, url))

    for url in coordinator_urls:
        parsed = parse_checkpoint_url(url)
        if parsed is None:
            continue
        phase, partial = parsed
        next_phase = phase if partial else phase + 1
        # Phase N-1 finished and phase N partial both resume in phase N, but
        # the partial checkpoint contains more training, so it ranks higher.
        candidates.append((next_phase, 3 if partial else 1, url))

    if not candidates:
        return None
    next_phase, _, url = max(candidates)
    return ResumePoint(checkpoint_url=url, next_phase=next_phase)
