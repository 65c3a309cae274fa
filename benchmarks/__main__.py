"""Run the benchmarks: `python -m benchmarks [--smoke] [NAME ...]`."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import time
import traceback
from collections.abc import Sequence

# TensorFlow prints start-up notices on stderr unless configured otherwise; this
# must be set before anything imports it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from benchmarks.common import (
    BenchmarkResult,
    BenchmarkSkipped,
    RunOptions,
    print_table,
    write_json,
)

# Module names under benchmarks/, in the order a full run takes them.
BENCHMARKS = (
    "worker_overhead",
    "model_quality",
    "throughput",
    "client_overhead",
    "corpus_reading",
    "checkpoint_upload",
    "many_workers",
)


def build_parser() -> argparse.ArgumentParser:
    """Build the command-line parser."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Measure cerebros against its baselines; print tables and "
        "write JSON to benchmarks/results/.",
    )
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"benchmarks to run (default: all): {', '.join(BENCHMARKS)}",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="run at tiny sizes, to check that the benchmarks still work",
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=None,
        metavar="SECONDS",
        help="training time per architecture in model_quality "
        "(default: 60, or 2 with --smoke)",
    )
    return parser


def run_one(name: str, options: RunOptions) -> BenchmarkResult:
    """Import benchmarks.NAME, run it and return its result, skipped or not."""
    module = importlib.import_module(f"benchmarks.{name}")
    started = time.monotonic()
    try:
        result: BenchmarkResult = module.run(options)
    except BenchmarkSkipped as skipped:
        result = BenchmarkResult(
            name=name, title=module.TITLE, columns=[], skipped=str(skipped)
        )
    result.smoke = options.smoke
    if options.smoke:
        # Tiny sizes show whether a benchmark works, not whether it is fast.
        result.target_met = None
    result.seconds = time.monotonic() - started
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen benchmarks; return 1 if any of them raised."""
    args = build_parser().parse_args(argv)
    unknown = [name for name in args.names if name not in BENCHMARKS]
    if unknown:
        print(
            f"unknown benchmark {', '.join(unknown)}: expected one of "
            f"{', '.join(BENCHMARKS)}",
            file=sys.stderr,
        )
        return 2

    logging.basicConfig(
        level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    options = RunOptions(smoke=args.smoke, budget_seconds=args.budget)
    failed = []
    for name in args.names or BENCHMARKS:
        try:
            result = run_one(name, options)
        # One broken benchmark should not hide the figures of the others.
        except Exception:  # noqa: BLE001
            traceback.print_exc()
            print(f"benchmark {name} failed; see the traceback above", file=sys.stderr)
            failed.append(name)
            continue
        print_table(result)
        path = write_json(result)
        print(f"  wrote {path}")
        sys.stdout.flush()

    if failed:
        print(f"failed benchmarks: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
