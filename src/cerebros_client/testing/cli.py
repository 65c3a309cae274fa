"""``cerebros-coordinator``: serve the stand-in coordinator, or seed a job into one."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from .profiles import PROFILES, STRICT
from .security import RateLimit

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``cerebros-coordinator``."""
    parser = argparse.ArgumentParser(
        prog="cerebros-coordinator",
        description="Stand-in for the Thunderline coordination API.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the API until interrupted")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=5001, help="TCP port to listen on")
    serve.add_argument(
        "--db",
        default="coordinator.sqlite3",
        help="SQLite file that keeps jobs across restarts, or :memory:",
    )
    serve.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        default=STRICT,
        help="strict (corrected API) or thunderline-compat"
        " (the deployed server's quirks)",
    )
    serve.add_argument(
        "--token",
        action="append",
        default=[],
        help="accepted bearer token; repeat for more. Without one, no authentication",
    )
    serve.add_argument(
        "--rate-limit",
        type=RateLimit.parse,
        default=None,
        metavar="N/SECONDS",
        help="at most N requests per SECONDS for each token, e.g. 10/1",
    )
    serve.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )

    seed = commands.add_parser(
        "seed", help="create a dataset and one queued job; print their ids as JSON"
    )
    seed.add_argument("--url", required=True, help="coordinator base URL")
    seed.add_argument(
        "--corpus",
        required=True,
        help="corpus path (JSONL file or CSV directory) or URL",
    )
    seed.add_argument("--model-id", default=None, help="model id of the job")
    seed.add_argument(
        "--hyperparameters",
        type=_json_object,
        default=None,
        help='JSON object, e.g. \'{"n_epochs": 1, "batch_size": 32}\'',
    )
    seed.add_argument("--token", default=None, help="bearer token to send")
    return parser


def _json_object(text: str) -> dict[str, object]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"invalid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(
            f"expected a JSON object, received {type(value).__name__}"
        )
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return the exit status."""
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    return _seed(args)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .app import create_app
    from .store import Store

    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    store = Store(args.db)
    app = create_app(
        store, profile=args.profile, tokens=args.token, rate_limit=args.rate_limit
    )
    logger.info(
        "serving %s profile on %s:%d with database %s",
        args.profile,
        args.host,
        args.port,
        args.db,
    )
    try:
        uvicorn.run(
            app,
            host=args.host,
            port=args.port,
            http="h11",
            lifespan="off",
            log_level=args.log_level,
        )
    finally:
        store.close()
    return 0


def _seed(args: argparse.Namespace) -> int:
    import requests

    from .seed import DEFAULT_MODEL_ID, seed_job

    if "://" not in args.corpus and not Path(args.corpus).exists():
        # The stand-in reads corpus paths from this machine's disk, so a path
        # that is missing here fails every job seeded with it.
        print(
            f"cerebros-coordinator seed: corpus {args.corpus} does not exist: "
            "pass an existing file or directory, or an s3:// or https:// URL",
            file=sys.stderr,
        )
        return 2

    try:
        ids = seed_job(
            args.url,
            args.corpus,
            model_id=args.model_id or DEFAULT_MODEL_ID,
            hyperparameters=args.hyperparameters,
            token=args.token,
        )
    except requests.RequestException as exc:
        print(f"cerebros-coordinator seed: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(ids))
    return 0


if __name__ == "__main__":
    sys.exit(main())
