"""Errors that end a run, each carrying the exit code the process ends with.

A CI pipeline reads only the exit code, so every way a run can fail maps to one documented code.
The container's own exit code is not an error: it is passed through as it is.

    OneOffTaskError                 (exit_code on the class)
    ├── UsageError                  2    bad invocation, unknown reference/container/cluster/profile
    ├── AwsError                    125  AWS refused a call the tool cannot recover from
    │   ├── AccessDenied            125  names the IAM action to grant
    │   └── AwsUnavailable          125  throttled, 5xx or unreachable after the SDK's retries
    │       └── Throttled           125  AWS refused the call for the account's request rate
    ├── TaskNotRun                  125  RunTask failures[], or the task stopped with no exit code
    │   └── RunTaskRefused          125  RunTask started no task: its failures[] reasons
    ├── AlreadyRunning              125  --if-running fail, and a task of the family is running
    └── GaveUpWaiting               124  --timeout passed while waiting for another run's task
"""

from __future__ import annotations

EXIT_USAGE = 2
EXIT_GAVE_UP = 124
EXIT_NOT_RUN = 125
EXIT_SIGINT = 130
EXIT_SIGTERM = 143


class OneOffTaskError(Exception):
    """Base of every error the tool reports as one line on stderr, with its exit code."""

    exit_code: int = EXIT_NOT_RUN


class UsageError(OneOffTaskError):
    """The invocation cannot work: fixing the command line or the reference is up to the user."""

    exit_code = EXIT_USAGE


class AwsError(OneOffTaskError):
    """AWS answered with an error the tool cannot recover from, or could not be reached in time."""


class AccessDenied(AwsError):
    """The caller lacks an IAM permission; the message names the action so it can be granted."""

    def __init__(self, action: str, detail: str) -> None:
        """Keep the IAM action apart so the message always says what to grant."""
        super().__init__(f"access denied: grant {action} to the caller ({detail})")
        self.action = action


class AwsUnavailable(AwsError):
    """AWS throttled us, failed (5xx) or could not be reached: worth another try later.

    The status watcher and the log follower keep trying within their waiting budget; elsewhere it
    ends the run.
    """


class Throttled(AwsUnavailable):
    """AWS refused the call because the account's request rate is over its quota.

    Apart from other failures because the answer differs: the quota is shared by every job in
    the account, so the watcher and the follower slow their own pace instead of only retrying.
    """


class TaskNotRun(OneOffTaskError):
    """The task never ran its command (placement failed, image pull failed, …): no exit code."""


class RunTaskRefused(TaskNotRun):
    """RunTask started no task; `reasons` are its failures[] reasons, to tell passing ones."""

    def __init__(self, message: str, reasons: tuple[str, ...]) -> None:
        """Keep the reasons apart from the message."""
        super().__init__(message)
        self.reasons = reasons


class AlreadyRunning(OneOffTaskError):
    """A task of the one-off family is running and --if-running fail says not to go on."""


class GaveUpWaiting(OneOffTaskError):
    """--timeout passed while waiting for another run's task to stop: nothing was started."""

    exit_code = EXIT_GAVE_UP
