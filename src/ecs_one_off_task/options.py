"""Command line → frozen configs: the option parsers of the run and of `attach`. Pure.

Everything that can be checked from the command line alone is checked here, so a mistake is
one line on stderr and exit 2 before the AWS SDK is even loaded.
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Sequence
from typing import NoReturn

from ecs_one_off_task import argtypes
from ecs_one_off_task._version import __version__
from ecs_one_off_task.config import (
    AttachConfig,
    AwsSettings,
    LaunchType,
    LogFormat,
    Overrides,
    Placement,
    Reporting,
    RunConfig,
    TaskSpec,
    Timing,
    Verbosity,
)
from ecs_one_off_task.errors import UsageError
from ecs_one_off_task.existing import IfRunning
from ecs_one_off_task.flushing import add_flush_options, add_read_options
from ecs_one_off_task.startflags import add_start_options, start_policy

PROG = "ecs-one-off-task"

_EPILOG = """\
attach to a task (no write call; Ctrl-C leaves it running):
  ecs-one-off-task attach --cluster CLUSTER TASK   (see: ecs-one-off-task attach --help)

the command:
  --command WORD...   words until the next option (the original script's way)
  -- WORD...          everything after a lone --, untouched: -- sh -c "migrate && seed"

exit codes:
  N    the container's own exit code
  2    bad invocation, or unknown reference task definition, container, cluster, profile
       or region
  124  --timeout passed: the task was stopped; or --max-attempts status checks ran out:
       the watch ended, the task goes on running (stderr says how to follow or stop it)
  125  the task could not run (after --start-retries), AWS refused a call, or
       --if-running fail found a task
  130  interrupted (SIGINT): the task was stopped
  143  terminated (SIGTERM): the task was stopped

examples:
  ecs-one-off-task --task-name myapp-db-migrations --from-task myapp --cluster myEcsCluster \\
      --image myapp:v2 --command bundle exec rake db:migrate
  ecs-one-off-task --task-name myapp-db-migrations --from-service web --cluster prod \\
      --image myapp:v2 -- rake db:migrate
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _add_reading_options(group: argparse._ArgumentGroup) -> None:
    """How often to ask AWS: shared by the run and `attach`."""
    group.add_argument(
        "--poll-interval",
        type=argtypes.positive_float,
        default=6.0,
        metavar="SECONDS",
        help="seconds between DescribeTasks calls (default: %(default)s)",
    )
    group.add_argument(
        "--log-interval",
        type=argtypes.positive_float,
        default=1.0,
        metavar="SECONDS",
        help="seconds between GetLogEvents calls once caught up (default: %(default)s)",
    )
    group.add_argument(
        "--drain-grace",
        type=argtypes.non_negative_float,
        default=5.0,
        metavar="SECONDS",
        help="after the stop, read until the stream is quiet this long (default: %(default)s)",
    )
    group.add_argument(
        "--log-rate-limit",
        type=argtypes.non_negative_float,
        default=5.0,
        metavar="N",
        help="at most N GetLogEvents calls a second; 0: no limit (default: %(default)s)",
    )
    add_read_options(group)


def _add_aws_options(parser: argparse.ArgumentParser) -> None:
    aws = parser.add_argument_group("AWS")
    aws.add_argument("-p", "--profile", help="AWS profile (default: the AWS environment's)")
    aws.add_argument("-r", "--region", help="AWS region (default: the AWS environment's)")
    aws.add_argument("--endpoint-url", help="AWS endpoint (default: AWS_ENDPOINT_URL, else AWS)")
    aws.add_argument(
        "--call-timeout",
        type=argtypes.positive_float,
        default=20.0,
        metavar="SECONDS",
        help="wait this long for one AWS answer before trying again (default: %(default)s)",
    )


def _reporting(options: argparse.Namespace) -> Reporting:
    return Reporting(
        verbosity=Verbosity.QUIET
        if options.quiet
        else Verbosity.VERBOSE
        if options.verbose
        else Verbosity.NORMAL,
        heartbeat=options.heartbeat,
        summary_json=options.summary_json,
        timestamps=options.timestamps,
        allow_workflow_commands=options.allow_workflow_commands,
    )


def _timing(
    options: argparse.Namespace, *, max_attempts: int | None, timeout: float | None
) -> Timing:
    """The reading options (shared by the run and `attach`) and the waiting budget."""
    return Timing(
        poll_interval=options.poll_interval,
        max_attempts=max_attempts,
        log_interval=options.log_interval,
        drain_grace=options.drain_grace,
        timeout=timeout,
        log_rate_limit=options.log_rate_limit,
        read_in_step=options.log_reads == "in-step",
    )


def _aws_settings(options: argparse.Namespace) -> AwsSettings:
    return AwsSettings(
        profile=options.profile,
        region=options.region,
        endpoint_url=options.endpoint_url,
        call_timeout=options.call_timeout,
    )


def build_attach_parser() -> argparse.ArgumentParser:
    """The option parser of `ecs-one-off-task attach`."""
    parser = _Parser(
        prog=f"{PROG} attach",
        description="Follow a task that is running (or has stopped): print its log from the "
        "head, follow it, and exit with its container's exit code. No write call is made; "
        "Ctrl-C leaves the task running.",
        epilog="example:\n  ecs-one-off-task attach --cluster myEcsCluster 0f3a9c2e1b7d4e56a8c9",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument("task", metavar="TASK", help="the task's ARN or id")
    parser.add_argument("--cluster", required=True, help="ECS cluster name or ARN")
    parser.add_argument(
        "--container",
        help="the container to follow (default: the one named after the task's family, else "
        "the only essential container that is not a sidecar)",
    )
    parser.add_argument(
        "--since",
        type=argtypes.duration,
        metavar="DURATION",
        help="start with the lines of the last DURATION (10m, 2h) instead of the head",
    )
    parser.add_argument(
        "--stop-on-interrupt",
        action="store_true",
        help="Ctrl-C / SIGTERM stop the task (default: leave it running)",
    )
    _add_reading_options(parser.add_argument_group("reading"))
    _add_aws_options(parser)
    _add_output_options(parser.add_argument_group("output"))
    return parser


def parse_attach_args(argv: Sequence[str]) -> AttachConfig:
    """Turn `attach`'s command line into an AttachConfig, or raise UsageError."""
    options = build_attach_parser().parse_args(list(argv))
    for name in ("task", "cluster"):
        if not getattr(options, name).strip():
            raise UsageError(f"{name.upper() if name == 'task' else '--' + name} must not be empty")
    return AttachConfig(
        aws=_aws_settings(options),
        cluster=options.cluster,
        task=options.task,
        container=options.container,
        since=options.since,
        timing=_timing(options, max_attempts=None, timeout=None),
        log_format=LogFormat(options.log_format),
        reporting=_reporting(options),
        stop_on_interrupt=options.stop_on_interrupt,
    )


def build_parser() -> argparse.ArgumentParser:
    """The option parser; every default is shown by --help."""
    parser = _Parser(
        prog=PROG,
        description="Run a one-off command (a database migration) on Amazon ECS as a new revision "
        "of a reference task definition, stream its logs live and exit with its exit code.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    task = parser.add_argument_group("task")
    task.add_argument(
        "--task-name", required=True, help="family and container name of the one-off task"
    )
    task.add_argument(
        "--from-task",
        metavar="REFERENCE",
        help="reference task definition: family, family:revision or ARN "
        "(default: the task definition of --from-service)",
    )
    task.add_argument("--cluster", required=True, help="ECS cluster name or ARN")
    task.add_argument("--image", required=True, help="image of the one-off task, e.g. myapp:v2")
    task.add_argument(
        "--command", nargs="+", metavar="WORD", help="the command; or put it after a lone --"
    )
    task.add_argument("--entrypoint", help="entry point, split like a shell does, e.g. 'sh -c'")
    task.add_argument(
        "--container",
        help="reference container to run the command in, with its settings "
        "(default: the only essential container that is not a sidecar)",
    )
    task.add_argument(
        "--with-sidecars",
        action="store_true",
        help="keep the reference's other containers (log routers, proxies, agents)",
    )
    _add_revision_options(task)
    task.add_argument(
        "--env",
        action="append",
        type=argtypes.pair("=", "KEY=VALUE"),
        default=[],
        metavar="KEY=VALUE",
        help="add an environment variable, or replace the reference's (repeatable)",
    )
    task.add_argument(
        "--secret",
        action="append",
        type=argtypes.pair("=", "NAME=VALUE_FROM"),
        default=[],
        metavar="NAME=VALUE_FROM",
        help="add a secret (SSM parameter or Secrets Manager ARN), or replace one (repeatable)",
    )
    task.add_argument(
        "--cpu",
        type=argtypes.positive_int,
        metavar="UNITS",
        help="CPU units: of the one-off container on EC2, of the task on Fargate",
    )
    task.add_argument(
        "--memory",
        type=argtypes.positive_int,
        metavar="MIB",
        help="memory: of the one-off container on EC2, of the task on Fargate",
    )
    task.add_argument("--task-role-arn", metavar="ARN", help="task role (default: the reference's)")
    task.add_argument(
        "--execution-role-arn", metavar="ARN", help="execution role (default: the reference's)"
    )
    task.add_argument(
        "--tag",
        action="append",
        type=argtypes.pair("=", "KEY=VALUE"),
        default=[],
        metavar="KEY=VALUE",
        help="tag the revision and the task (repeatable)",
    )

    placement = parser.add_argument_group("where the task runs")
    placement.add_argument(
        "--from-service",
        metavar="SERVICE",
        help="copy launch type or capacity providers, network and platform version from this "
        "service of --cluster (and its task definition, without --from-task)",
    )
    placement.add_argument(
        "--launch-type",
        choices=[t.value for t in LaunchType],
        help="launch type (default: the service's, else the cluster's default capacity provider "
        "strategy, else EC2)",
    )
    placement.add_argument(
        "--capacity-provider",
        action="append",
        type=argtypes.capacity_provider,
        default=[],
        metavar="NAME[:WEIGHT[:BASE]]",
        help="capacity provider strategy item (repeatable; WEIGHT 1, BASE 0 by default)",
    )
    placement.add_argument(
        "--platform-version", metavar="VERSION", help="Fargate platform version (default: LATEST)"
    )
    placement.add_argument(
        "--count",
        type=argtypes.count,
        default=1,
        metavar="N",
        help="start N tasks (1-10; default: 1)",
    )
    placement.add_argument(
        "--subnets",
        "--networks-id",
        nargs="+",
        metavar="SUBNET",
        help="subnets for awsvpc tasks (FARGATE needs them)",
    )
    placement.add_argument(
        "--security-groups",
        "--security-groups-id",
        nargs="+",
        metavar="SG",
        help="security groups for awsvpc tasks",
    )
    placement.add_argument(
        "--assign-public-ip",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="give a Fargate task a public IP (default: the service's, else no)",
    )

    logs = parser.add_argument_group("logs")
    logs.add_argument("--log-group", help="CloudWatch log group (default: /ecs/<task-name>)")
    logs.add_argument(
        "--log-stream-prefix", default="ecs", help="awslogs stream prefix (default: %(default)s)"
    )
    logs.add_argument(
        "--log-retention-days",
        type=argtypes.retention,
        metavar="DAYS",
        help="retention of the log group: set on a new group (default: 7), and on an existing "
        "one only when given",
    )
    add_flush_options(logs)

    timing = parser.add_argument_group("waiting")
    timing.add_argument(
        "--max-attempts",
        type=argtypes.positive_int,
        default=None,
        metavar="N",
        help="DescribeTasks calls before the watch ends, leaving the task running (default: "
        "100; unlimited when --timeout is given)",
    )
    timing.add_argument(
        "--timeout",
        type=argtypes.positive_float,
        metavar="SECONDS",
        help="the task's deadline: stop it this long after the run started, time spent "
        "waiting for another run's task or to start again included (default: none)",
    )
    timing.add_argument(
        "--if-running",
        choices=[mode.value for mode in IfRunning],
        default=IfRunning.AUTO.value,
        help="a task of --task-name's family is running: attach to it if it has this run's "
        "content, else wait for it (auto); attach, wait, fail (exit 125) or start another "
        "(default: %(default)s)",
    )
    _add_reading_options(timing)
    add_start_options(parser)
    _add_aws_options(parser)
    out = parser.add_argument_group("output")
    _add_output_options(out)
    out.add_argument(
        "--dry-run",
        action="store_true",
        help="read only: print the RegisterTaskDefinition and RunTask requests as JSON",
    )
    out.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def _add_revision_options(task: argparse._ArgumentGroup) -> None:
    """Housekeeping of the one-off family's revisions."""
    task.add_argument(
        "--keep-revisions",
        type=argtypes.positive_int,
        metavar="N",
        help="after registering, deregister the one-off family's ACTIVE revisions but the "
        "newest N, never one a running task uses (default: keep all)",
    )


def _add_output_options(out: argparse._ArgumentGroup) -> None:
    """What the tool says on stderr, and what it leaves behind when it ends."""
    out.add_argument(
        "--log-format",
        default="auto",
        choices=[f.value for f in LogFormat],
        help="the tool's own events on stderr: console (coloured) on a terminal, plain text "
        "otherwise; json only when asked (default: %(default)s)",
    )
    chatter = out.add_mutually_exclusive_group()
    chatter.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="of the tool's own events, show only warnings and errors",
    )
    chatter.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also show every AWS call with its duration (debug level)",
    )
    out.add_argument(
        "--heartbeat",
        type=argtypes.non_negative_float,
        default=60.0,
        metavar="SECONDS",
        help="when the container has printed nothing for this long, say the task is still "
        "there, and again after as long; 0: never (default: %(default)s)",
    )
    out.add_argument(
        "--timestamps",
        action="store_true",
        help="put each container line's timestamp (ISO 8601, UTC, ms) before it on stdout",
    )
    out.add_argument(
        "--summary-json",
        metavar="FILE",
        help="when the run ends, however it ends, write its summary to FILE as one JSON object",
    )
    out.add_argument(
        "--allow-workflow-commands",
        action="store_true",
        help="under GitHub Actions, let the container's lines run workflow commands "
        "(by default they are printed inside ::stop-commands::)",
    )


def _check_together(options: argparse.Namespace) -> None:
    """What argparse cannot check alone: options that need, or exclude, each other."""
    if options.from_task is None and options.from_service is None:
        raise UsageError("give the reference: --from-task REFERENCE or --from-service SERVICE")
    for name in ("task_name", "from_task", "from_service", "cluster", "image"):
        value = getattr(options, name)
        if value is not None and not value.strip():
            raise UsageError(f"--{name.replace('_', '-')} must not be empty")
    if options.launch_type and options.capacity_provider:
        raise UsageError("give --launch-type or --capacity-provider, not both")


def parse_args(argv: Sequence[str]) -> RunConfig:
    """Turn the command line into a RunConfig, or raise UsageError naming the problem."""
    argv = list(argv)
    after_dashes: list[str] | None = None
    if "--" in argv:
        split = argv.index("--")
        argv, after_dashes = argv[:split], argv[split + 1 :]
    options = build_parser().parse_args(argv)

    if options.command and after_dashes is not None:
        raise UsageError("give the command with --command or after --, not both")
    command = tuple(options.command or after_dashes or ())
    if not command:
        raise UsageError("no command: pass --command WORD... or -- WORD...")
    _check_together(options)
    try:
        entrypoint = tuple(shlex.split(options.entrypoint or ""))
    except ValueError as error:
        raise UsageError(f"--entrypoint cannot be split like a shell would: {error}") from error

    launch_type = LaunchType(options.launch_type) if options.launch_type else None
    subnets = argtypes.ids(options.subnets)
    if launch_type is LaunchType.FARGATE and not subnets and not options.from_service:
        raise UsageError("--launch-type FARGATE needs --subnets (and --security-groups)")
    max_attempts = options.max_attempts
    if max_attempts is None and options.timeout is None:
        max_attempts = 100

    return RunConfig(
        aws=_aws_settings(options),
        task=TaskSpec(
            task_name=options.task_name,
            reference=options.from_task,
            image=options.image,
            command=command,
            entrypoint=entrypoint,
            container=options.container,
            log_group=options.log_group or f"/ecs/{options.task_name}",
            log_stream_prefix=options.log_stream_prefix,
            log_retention_days=options.log_retention_days,
            overrides=Overrides(
                environment=tuple(options.env),
                secrets=tuple(options.secret),
                cpu=options.cpu,
                memory=options.memory,
                task_role_arn=options.task_role_arn,
                execution_role_arn=options.execution_role_arn,
            ),
            with_sidecars=options.with_sidecars,
            tags=tuple(options.tag),
            keep_revisions=options.keep_revisions,
            log_flush_interval=options.log_flush_interval,
        ),
        placement=Placement(
            cluster=options.cluster,
            launch_type=launch_type,
            capacity_providers=tuple(options.capacity_provider),
            service=options.from_service,
            subnets=subnets,
            security_groups=argtypes.ids(options.security_groups),
            assign_public_ip=options.assign_public_ip,
            platform_version=options.platform_version,
            count=options.count,
        ),
        timing=_timing(options, max_attempts=max_attempts, timeout=options.timeout),
        log_format=LogFormat(options.log_format),
        reporting=_reporting(options),
        dry_run=options.dry_run,
        if_running=IfRunning(options.if_running),
        start=start_policy(options),
    )
