"""The console script: parse the options, run (or attach), say how it ended, exit with its code."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping, Sequence
from typing import IO, NoReturn, TextIO

from ecs_one_off_task.config import AttachConfig, RunConfig
from ecs_one_off_task.errors import EXIT_SIGINT, EXIT_USAGE, OneOffTaskError, UsageError
from ecs_one_off_task.options import PROG, parse_args, parse_attach_args


def run_cli(
    argv: Sequence[str] | None = None,
    *,
    stdout: IO[bytes] | None = None,
    stderr: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    """Run the tool as the console script does and return the exit code.

    `environ` is where NO_COLOR, FORCE_COLOR and the CI system's variables are read.
    """
    err = stderr if stderr is not None else sys.stderr
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        config: RunConfig | AttachConfig = (
            parse_attach_args(arguments[1:])
            if arguments[:1] == ["attach"]
            else parse_args(arguments)
        )
    except UsageError as error:
        print(f"{PROG}: error: {error}", file=err)
        return EXIT_USAGE
    try:
        return _run(
            config, stdout=stdout, stderr=err, environ=os.environ if environ is None else environ
        )
    except KeyboardInterrupt:
        # Only before the signal handlers are installed: nothing was started yet.
        return EXIT_SIGINT


def _run(
    config: RunConfig | AttachConfig,
    *,
    stdout: IO[bytes] | None,
    stderr: TextIO,
    environ: Mapping[str, str],
) -> int:
    # Imported here so that --help and bad options answer without loading the AWS SDK.
    import anyio  # noqa: PLC0415

    from ecs_one_off_task.attach import attach_to_task  # noqa: PLC0415
    from ecs_one_off_task.aws import Aws  # noqa: PLC0415
    from ecs_one_off_task.ci import CiMarkers, detect  # noqa: PLC0415
    from ecs_one_off_task.ending import check_summary_path, finish  # noqa: PLC0415
    from ecs_one_off_task.facts import RunFacts  # noqa: PLC0415
    from ecs_one_off_task.identity import run_identity  # noqa: PLC0415
    from ecs_one_off_task.output import LineWriter, Redactor, configure_logging  # noqa: PLC0415
    from ecs_one_off_task.runner import run_one_off_task  # noqa: PLC0415

    problem = check_summary_path(config.reporting.summary_json)
    if problem is not None:
        print(f"{PROG}: error: {problem}", file=stderr)
        return EXIT_USAGE
    facts = RunFacts(
        began_at=time.monotonic(),
        began_wall=time.time(),
        task_name=config.task if isinstance(config, AttachConfig) else config.task.task_name,
        cluster=config.cluster if isinstance(config, AttachConfig) else config.placement.cluster,
        log_group="" if isinstance(config, AttachConfig) else config.task.log_group,
    )
    redactor = Redactor()
    configure_logging(
        config.log_format,
        redactor,
        stderr,
        verbosity=config.reporting.verbosity,
        environ=environ,
    )
    write = LineWriter(stdout)
    ci = CiMarkers(
        system=detect(environ),
        stderr=stderr,
        write=write,
        environ=environ,
        wall_clock=time.time,
        allow_workflow_commands=config.reporting.allow_workflow_commands,
    )
    ci.setup_begins(f"{PROG}: set up {facts.task_name}")

    async def amain() -> int:
        async with Aws.connect(config.aws) as aws:
            if isinstance(config, AttachConfig):
                return await attach_to_task(config=config, aws=aws, write=write, facts=facts, ci=ci)
            result = await run_one_off_task(
                config=config,
                aws=aws,
                write=write,
                redactor=redactor,
                facts=facts,
                ci=ci,
                identity=run_identity(config.start.run_id, environ),
            )
        return result.exit_code

    failure: OneOffTaskError | None = None
    try:
        exit_code = anyio.run(amain)
    except OneOffTaskError as error:
        failure, exit_code = error, error.exit_code
    finish(
        facts=facts,
        exit_code=exit_code,
        error=failure,
        ci=ci,
        redactor=redactor,
        summary_path=config.reporting.summary_json,
        ended_at=time.monotonic(),
        ended_wall=time.time(),
    )
    return exit_code


def main() -> NoReturn:
    """Console-script entry point."""
    sys.exit(run_cli())
