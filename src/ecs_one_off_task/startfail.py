"""Why a start failed, and whether starting again is safe and worth it. Pure: no I/O.

A task that stopped before its one-off container ever ran (no exit code, no `startedAt`) ran
nothing, so starting it again cannot run a migration twice; RunTask's own failures[] started
nothing at all. Whether to try again depends on the reason: Fargate Spot out of capacity, an ENI
that took too long, a secret or image fetch that timed out, a host that went away — these pass.
Access denied, an image or secret that does not exist, invalid parameters — these do not, and
retrying only hides them for a minute. A reason that says both ("pull access denied … i/o
timeout") is never retried, and a reason not known to pass is not retried either.

`KNOWN_MESSAGES` is the table of real ECS messages (stoppedReason, a container's reason, or a
RunTask failure reason, in the shapes AWS documents; account ids, ARNs and addresses are
placeholders) with their verdicts; the README's table sums it up, and the tests check
every row.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ecs_one_off_task.outcome import task_end


class Verdict(StrEnum):
    """Whether a failed start is started again."""

    RETRY = "retry"
    """Nothing ran and the reason passes: start again."""
    NEVER = "never"
    """Starting again would fail the same way (or the container ran): the run ends."""


# Checked first: a reason that matches one of these is never retried, whatever else it says.
_NEVER = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        r"access ?denied",
        r"not authorized",
        r"unauthorized",
        r"forbidden",
        r"not ?found",
        r"does not exist",
        r"manifest unknown",
        r"invalid ?parameter",
        r"ClientException",
        r"unable to assume",
        r"^ATTRIBUTE$",
    )
)
# Then these: reasons known to pass.
_TRANSIENT = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        r"capacity is unavailable",
        r"^RESOURCE:",
        r"^AGENT$",
        r"timeout waiting for network interface",
        r"context deadline exceeded",
        r"i/o timeout",
        r"timed? ?out",
        r"Client\.Timeout exceeded",
        r"connection (reset|refused)",
        r"RequestCanceled",
        r"SpotInterruption",
        r"spot task was interrupted",
        r"host ec2 \(instance [^)]*\) terminated",
    )
)

KNOWN_MESSAGES: tuple[tuple[str, Verdict], ...] = (
    # Capacity and placement (RunTask failures[] reasons, Fargate Spot).
    (
        (
            "Capacity is unavailable at this time. Please try again later or in a different"
            " availability zone"
        ),
        Verdict.RETRY,
    ),
    ("RESOURCE:CPU", Verdict.RETRY),
    ("RESOURCE:MEMORY", Verdict.RETRY),
    ("RESOURCE:PORTS", Verdict.RETRY),
    ("RESOURCE:ENI", Verdict.RETRY),
    ("AGENT", Verdict.RETRY),
    ("ATTRIBUTE", Verdict.NEVER),
    # Networking.
    ("Timeout waiting for network interface provisioning to complete.", Verdict.RETRY),
    # Secrets, environment files and registry auth fetched by the execution role.
    (
        (
            "ResourceInitializationError: unable to pull secrets or registry auth: execution"
            " resource retrieval failed: unable to retrieve secret from asm: service call has"
            " been retried 5 time(s): failed to fetch secret"
            " arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf from secrets manager:"
            " RequestCanceled: request context canceled caused by: context deadline exceeded"
        ),
        Verdict.RETRY,
    ),
    (
        (
            "ResourceInitializationError: unable to pull secrets or registry auth: execution"
            " resource retrieval failed: unable to retrieve secrets from ssm: service call has been"
            " retried 5 time(s): RequestCanceled: request context canceled caused by: context"
            " deadline exceeded"
        ),
        Verdict.RETRY,
    ),
    (
        (
            "ResourceInitializationError: failed to download env files: file download command:"
            " non empty error stream: service call has been retried 5 time(s): RequestError: send"
            " request failed caused by: Get https://my-bucket.s3.amazonaws.com/app.env: dial tcp"
            " 52.216.0.1:443: i/o timeout"
        ),
        Verdict.RETRY,
    ),
    (
        (
            "ResourceInitializationError: unable to pull secrets or registry auth: execution"
            " resource retrieval failed: unable to retrieve secret from asm: service call has been"
            " retried 1 time(s): AccessDeniedException: User:"
            " arn:aws:sts::123456789012:assumed-role/ecsTaskExecutionRole/0f3a is not authorized to"
            " perform: secretsmanager:GetSecretValue on resource:"
            " arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf"
        ),
        Verdict.NEVER,
    ),
    (
        (
            "ResourceInitializationError: unable to pull secrets or registry auth: execution"
            " resource retrieval failed: unable to retrieve secrets from ssm: service call has been"
            " retried 1 time(s): InvalidParameters: /myapp/database_url"
        ),
        Verdict.NEVER,
    ),
    (
        (
            "ResourceInitializationError: failed to validate logger args: The specified log group"
            " does not exist"
        ),
        Verdict.NEVER,
    ),
    # The image.
    (
        (
            "CannotPullContainerError: ref pull has been retried 5 time(s): failed to copy:"
            " httpReadSeeker: failed open: failed to do request: Get"
            ' "https://prod-eu-west-1-starport-layer-bucket.s3.eu-west-1.amazonaws.com/...":'
            " dial tcp 52.92.0.1:443: i/o timeout"
        ),
        Verdict.RETRY,
    ),
    (
        (
            "CannotPullContainerError: Error response from daemon: Get"
            " https://123456789012.dkr.ecr.eu-west-1.amazonaws.com/v2/: net/http: request canceled"
            " while waiting for connection (Client.Timeout exceeded while awaiting headers)"
        ),
        Verdict.RETRY,
    ),
    (
        (
            "CannotPullContainerError: Error response from daemon: manifest for"
            " 123456789012.dkr.ecr.eu-west-1.amazonaws.com/myapp:v2 not found: manifest unknown:"
            " Requested image not found"
        ),
        Verdict.NEVER,
    ),
    (
        (
            "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to"
            " resolve ref docker.io/library/myapp:v2: not found"
        ),
        Verdict.NEVER,
    ),
    (
        (
            "CannotPullContainerError: Error response from daemon: pull access denied for myapp,"
            " repository does not exist or may require 'docker login': denied: requested access to"
            " the resource is denied"
        ),
        Verdict.NEVER,
    ),
    (
        # Built from two real parts, to pin the rule: denied and timed out is never retried.
        (
            "CannotPullContainerError: pull access denied: failed to authorize: failed to fetch"
            " oauth token: i/o timeout"
        ),
        Verdict.NEVER,
    ),
    # The host or the Spot capacity went away before the container started.
    ("Your Spot Task was interrupted.", Verdict.RETRY),
    ("Host EC2 (instance i-0a1b2c3d4e5f67890) terminated.", Verdict.RETRY),
    # Not known to pass: the run ends (exit 125).
    (
        (
            "CannotStartContainerError: Error response from daemon: failed to create shim task:"
            " OCI runtime create failed: runc create failed: unable to start container process:"
            ' exec: "rake": executable file not found in $PATH'
        ),
        Verdict.NEVER,
    ),
    ("Task stopped by user", Verdict.NEVER),
    ("Essential container in task exited", Verdict.NEVER),
)


def verdict_of(reason: str) -> Verdict:
    """The verdict of one reason: never-retry patterns first, then the known transient ones."""
    text = reason.strip()
    if any(pattern.search(text) for pattern in _NEVER):
        return Verdict.NEVER
    if any(pattern.search(text) for pattern in _TRANSIENT):
        return Verdict.RETRY
    return Verdict.NEVER


@dataclass(frozen=True, kw_only=True)
class StartFailure:
    """One start that ran nothing: which task (None: RunTask placed none), why, the verdict."""

    task_arn: str | None
    stop_code: str | None
    reason: str
    verdict: Verdict

    @property
    def retry(self) -> bool:
        """Whether starting again is safe and worth it."""
        return self.verdict is Verdict.RETRY


def run_task_failure(reasons: tuple[str, ...]) -> StartFailure:
    """RunTask placed no task: retried only when every reason given passes."""
    reason = "; ".join(reasons) or "no reason given"
    verdicts = {verdict_of(r) for r in reasons} or {Verdict.NEVER}
    verdict = Verdict.RETRY if verdicts == {Verdict.RETRY} else Verdict.NEVER
    return StartFailure(task_arn=None, stop_code=None, reason=reason, verdict=verdict)


def stopped_before_running(task: Mapping[str, Any], container: str) -> StartFailure | None:
    """The failure of a STOPPED task whose `container` never ran; None when it did run.

    A container that started (`startedAt`, or any exit code) is never started again, whatever
    the reason: its command may have begun.
    """
    end = task_end(task, container)
    if end.ran or end.started:
        return None
    parts = [p for p in (end.stopped_reason, end.container_reason) if p]
    reason = "; ".join(dict.fromkeys(parts)) or "no reason given by ECS"
    verdicts = {verdict_of(p) for p in parts}
    if end.stop_code == "SpotInterruption":
        verdicts.add(Verdict.RETRY)
    elif end.stop_code == "UserInitiated":
        # Someone stopped it (StopTask): starting it again would overrule them.
        verdicts.add(Verdict.NEVER)
    verdict = Verdict.NEVER if Verdict.NEVER in verdicts or not verdicts else Verdict.RETRY
    return StartFailure(
        task_arn=str(task.get("taskArn")), stop_code=end.stop_code, reason=reason, verdict=verdict
    )
