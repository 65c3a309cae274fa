"""The scripts in examples/ run as documented."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("client_basics.py", "Final record: status completed"),
        ("custom_architecture.py", "trained causal-conv: completed"),
        ("notebook_one_job.py", "status: completed"),
    ],
)
def test_example_runs(script: str, expected: str) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("THUNDERLINE_", "CEREBROS_"))
    }
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"

    completed = subprocess.run(
        [sys.executable, str(EXAMPLES / script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr[-2000:]
    assert expected in completed.stdout
