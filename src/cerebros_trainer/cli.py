"""The `cerebros-trainer` command: run the worker daemon.

Every setting of `WorkerSettings` is an option here and an environment
variable; an option given on the command line wins over the environment.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from cerebros_trainer.errors import JobError
from cerebros_trainer.logging_setup import configure_logging
from cerebros_trainer.settings import WorkerSettings
from cerebros_trainer.shutdown import ShutdownHandler

logger = logging.getLogger("cerebros_trainer.cli")

EXIT_CONFIGURATION_ERROR = 2
EXIT_STARTUP_FAILED = 3
EXIT_COORDINATOR_ERROR = 4


def _option_name(field_name: str) -> str:
    return "--" + field_name.replace("_", "-")


def _env_names(field: Any) -> list[str]:
    alias = field.validation_alias
    if alias is None:
        return []
    choices = getattr(alias, "choices", None)
    if choices is not None:
        return [str(choice) for choice in choices]
    return [str(alias)]


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser, with one option per worker setting."""
    parser = argparse.ArgumentParser(
        prog="cerebros-trainer",
        description=(
            "Poll a Thunderline coordinator for training jobs, train them with "
            "Keras and upload checkpoints. Each option can also be set by the "
            "environment variable named in its help."
        ),
    )
    parser.add_argument(
        "--once",
        action="store_true",
        help="Take at most one job, then exit: status 0 when a job was taken "
        "or the queue was empty, 4 when the coordinator could not be reached "
        "or rejected the request.",
    )
    parser.add_argument(
        "--max-jobs",
        type=int,
        default=None,
        metavar="N",
        help="Exit after taking N jobs (default: run until stopped).",
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="Lowest level of log records written (default: INFO).",
    )

    settings_group = parser.add_argument_group("worker settings")
    for name, field in WorkerSettings.model_fields.items():
        env_names = " or ".join(_env_names(field))
        help_text = field.description or ""
        if env_names:
            help_text += f" [env: {env_names}]"
        settings_group.add_argument(
            _option_name(name),
            dest=f"setting_{name}",
            default=None,
            metavar="VALUE",
            help=help_text.replace("%", "%%"),
        )
    return parser


def load_settings(args: argparse.Namespace) -> WorkerSettings:
    """Merge command-line options over the environment into settings."""
    overrides = {
        key.removeprefix("setting_"): value
        for key, value in vars(args).items()
        if key.startswith("setting_") and value is not None
    }
    return WorkerSettings(**overrides)


def describe_errors(error: ValidationError) -> str:
    """List each invalid setting with its message, never with its value.

    pydantic's own text quotes the input, which would print the API token
    whenever a check that spans several settings fails.
    """
    lines = []
    for detail in error.errors(include_input=False, include_url=False):
        location = ".".join(str(part) for part in detail["loc"]) or "settings"
        lines.append(f"  {location}: {detail['msg']}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the worker until stopped; return the process exit status."""
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(args)
    except ValidationError as error:
        print(
            f"cerebros-trainer: invalid configuration:\n{describe_errors(error)}",
            file=sys.stderr,
        )
        return EXIT_CONFIGURATION_ERROR

    token = settings.api_token.get_secret_value() if settings.api_token else None
    configure_logging(
        level=args.log_level,
        log_file=settings.log_file,
        fmt=settings.log_format,
        secrets=[token] if token else [],
    )

    # TensorFlow prints start-up notices at INFO level unless configured not to,
    # and it is imported only here so that --help returns at once.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from cerebros_trainer.integrations import IntegrationUnavailableError
    from cerebros_trainer.worker import Worker

    try:
        worker = Worker(settings)
    except IntegrationUnavailableError as error:
        logger.error("Worker could not start: %s", error)
        return EXIT_CONFIGURATION_ERROR
    ShutdownHandler(worker.stop_flag, grace_period=settings.grace_period).install()
    try:
        worker.start()
    except JobError as error:
        logger.error("Worker could not start: %s", error)
        worker.close()
        return EXIT_STARTUP_FAILED

    max_jobs = 1 if args.once else args.max_jobs
    try:
        taken = worker.run_forever(max_jobs=max_jobs, stop_when_idle=args.once)
    finally:
        worker.close()
    if args.once and taken == 0 and worker.last_poll_failed:
        # Tell cron or a CI step that "no job" was really "no coordinator".
        return EXIT_COORDINATOR_ERROR
    return 0


if __name__ == "__main__":
    sys.exit(main())
