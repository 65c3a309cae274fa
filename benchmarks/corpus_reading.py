"""Corpus reading: MB/s and peak memory of `read_corpus` against a json.loads loop.

Both readers turn the same generated JSONL file into a 1-D uint8 token
array (the UTF-8 bytes of the texts joined by newlines). Each read runs in
its own child process, so the peak resident memory it adds belongs to that
reader alone. The child resets the kernel's peak (VmHWM) after its imports
and reports the peak after the read minus the resident size before it.
Target: `read_corpus` at least as fast as the loop, with a peak under a
quarter of the file's size.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import (
    SHAKESPEARE_CORPUS,
    BenchmarkResult,
    RunOptions,
    median,
)

TITLE = "corpus reading, MB/s and peak memory"
FULL_SIZE_BYTES = 200 * 1024 * 1024
SMOKE_SIZE_BYTES = 5 * 1024 * 1024
READERS = ("read_corpus", "json.loads loop")


def run(options: RunOptions) -> BenchmarkResult:
    """Generate the corpus, time each reader in child processes, compare."""
    size = SMOKE_SIZE_BYTES if options.smoke else FULL_SIZE_BYTES
    repeats = 1 if options.smoke else 3
    with tempfile.TemporaryDirectory(prefix="cerebros-bench-corpus-") as workdir:
        path = write_corpus(Path(workdir) / "corpus.jsonl", size)
        file_bytes = path.stat().st_size
        runs: dict[str, list[dict[str, Any]]] = {reader: [] for reader in READERS}
        # Alternating the readers spreads any drift in machine speed evenly.
        for _ in range(repeats):
            for reader in READERS:
                runs[reader].append(_run_child(reader, path, Path(workdir)))

    return _result(runs, file_bytes, repeats)


def write_corpus(path: Path, size: int) -> Path:
    """Write about `size` bytes of JSONL, repeating the Shakespeare records.

    Without the shared corpus, generated sentences stand in for it.
    """
    if SHAKESPEARE_CORPUS.is_file():
        block = SHAKESPEARE_CORPUS.read_bytes()
    else:
        lines = [
            json.dumps({"text": f"Line {index}: the quick brown fox jumps."})
            for index in range(20_000)
        ]
        block = ("\n".join(lines) + "\n").encode()
    written = 0
    with path.open("wb") as handle:
        while written < size:
            handle.write(block)
            written += len(block)
    return path


def _run_child(reader: str, path: Path, workdir: Path) -> dict[str, Any]:
    command = [
        sys.executable,
        "-m",
        "benchmarks.corpus_reading",
        "--child",
        reader,
        str(path),
        str(workdir / "cache"),
    ]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(
            f"corpus reader {reader!r} failed with status {completed.returncode}: "
            f"{completed.stderr[-2000:]}"
        )
    figures: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return figures


def _result(
    runs: dict[str, list[dict[str, Any]]], file_bytes: int, repeats: int
) -> BenchmarkResult:
    file_mb = file_bytes / 1e6
    rows = []
    for reader in READERS:
        seconds = median([run["seconds"] for run in runs[reader]])
        peak = max(run["peak_bytes"] for run in runs[reader])
        rows.append(
            {
                "reader": reader,
                "file MB": file_mb,
                "tokens MB": runs[reader][0]["tokens"] / 1e6,
                "seconds": seconds,
                "MB/s": file_mb / seconds,
                "peak MB": peak / 1e6,
                "peak / file": peak / file_bytes,
            }
        )
    ours, baseline = rows
    if ours["tokens MB"] != baseline["tokens MB"]:
        raise RuntimeError(
            f"the readers disagree: read_corpus made {ours['tokens MB']} MB of "
            f"tokens, the json.loads loop {baseline['tokens MB']} MB"
        )
    speed_ratio = ours["MB/s"] / baseline["MB/s"]
    for row in rows:
        row["speed vs loop"] = row["MB/s"] / baseline["MB/s"]
    return BenchmarkResult(
        name="corpus_reading",
        title=TITLE,
        columns=[
            "reader",
            "file MB",
            "tokens MB",
            "seconds",
            "MB/s",
            "speed vs loop",
            "peak MB",
            "peak / file",
        ],
        rows=rows,
        target="read_corpus speed >= 1.0x the loop, peak < 0.25 of the file",
        target_met=speed_ratio >= 1.0 and ours["peak / file"] < 0.25,
        notes=[
            (
                f"median of {repeats} runs per reader, alternated, each in a fresh "
                "process; peak is the largest increase of the resident size (VmHWM) "
                "over the read"
            ),
        ],
    )


def _child(reader: str, path: Path, cache_dir: Path) -> None:
    """Read the corpus once in this process and print the figures as JSON."""
    import numpy as np

    from cerebros_trainer.corpus import read_corpus

    before = _reset_peak_rss()
    started = time.perf_counter()
    if reader == "read_corpus":
        tokens = read_corpus(str(path), cache_dir=cache_dir).tokens
    else:
        tokens = _json_loads_loop(path, np)
    seconds = time.perf_counter() - started
    peak = _peak_rss_bytes() - before
    print(json.dumps({"seconds": seconds, "peak_bytes": peak, "tokens": len(tokens)}))


def _json_loads_loop(path: Path, np: Any) -> Any:
    """Read JSONL the plain way: one json.loads per line, then join and encode."""
    texts = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                text = json.loads(line)["text"]
                if text:
                    texts.append(text)
    return np.frombuffer("\n".join(texts).encode("utf-8"), dtype=np.uint8)


def _reset_peak_rss() -> int:
    """Reset the process's peak resident size and return the current size.

    A child starts with its parent's ru_maxrss on Linux, which after a
    training benchmark is far above what a reader uses, so the peak is reset
    through /proc/self/clear_refs (Linux 4.0 and later) instead.
    """
    Path("/proc/self/clear_refs").write_text("5")
    return _status_bytes("VmRSS")


def _peak_rss_bytes() -> int:
    return _status_bytes("VmHWM")


def _status_bytes(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/self/status has no {field} line")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Child process of corpus_reading.")
    parser.add_argument("--child", required=True, choices=READERS)
    parser.add_argument("path", type=Path)
    parser.add_argument("cache_dir", type=Path)
    arguments = parser.parse_args()
    _child(arguments.child, arguments.path, arguments.cache_dir)
