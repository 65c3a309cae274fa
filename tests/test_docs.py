"""The README and CI describe the project as it is."""

from __future__ import annotations

from pathlib import Path

from cerebros_trainer.settings import WorkerSettings

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_documents_every_setting() -> None:
    missing = [
        doc.env_var
        for doc in WorkerSettings.describe_fields()
        if f"`{doc.env_var}`" not in README
    ]

    assert missing == []


def test_readme_has_no_unfilled_sections() -> None:
    leftovers = [line for line in README.splitlines() if line.endswith("_SECTION")]

    assert leftovers == []
    assert "CONFIGURATION_TABLE" not in README


def test_ci_runs_readme_test_command() -> None:
    ci_script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")

    assert "./start_cerebros.sh test" in README
    assert "./start_cerebros.sh test" in ci_script
    assert "./start_cerebros.sh demo" in README
