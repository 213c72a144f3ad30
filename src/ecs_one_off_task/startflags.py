"""The command-line options of start retries and the run identity. Pure.

Kept apart from options.py's parser: the group is added with one call, and read back into a
StartPolicy with another.
"""

from __future__ import annotations

import argparse

from ecs_one_off_task import argtypes
from ecs_one_off_task.errors import UsageError
from ecs_one_off_task.startpolicy import StartPolicy


def add_start_options(parser: argparse.ArgumentParser) -> None:
    """The "starting" group: --start-retries, --start-retry-wait, --run-id."""
    group = parser.add_argument_group("starting")
    group.add_argument(
        "--start-retries",
        type=argtypes.non_negative_int,
        default=2,
        metavar="N",
        help="start again up to N times when a start fails for a passing reason (capacity, "
        "ENI or image pull timeouts, a host gone before the container ran); 0: never "
        "(default: %(default)s)",
    )
    group.add_argument(
        "--start-retry-wait",
        type=argtypes.positive_float,
        default=10.0,
        metavar="SECONDS",
        help="wait before the first start again; then 3 and 6 times as long, with jitter "
        "(default: %(default)s)",
    )
    group.add_argument(
        "--run-id",
        metavar="ID",
        help="this run's identity, the same when the job is retried (default: the CI "
        "system's job: GitHub Actions, GitLab CI, Buildkite, CircleCI)",
    )


def start_policy(options: argparse.Namespace) -> StartPolicy:
    """The StartPolicy of parsed options; UsageError for an empty --run-id."""
    if options.run_id is not None and not options.run_id.strip():
        raise UsageError("--run-id must not be empty")
    return StartPolicy(
        retries=options.start_retries,
        first_wait=options.start_retry_wait,
        run_id=options.run_id,
    )
