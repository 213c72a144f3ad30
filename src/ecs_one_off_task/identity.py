"""The run's identity: what stays the same when a CI job is retried, and its `startedBy`. Pure.

A retried job must recognise the task its earlier try started, even one that has stopped. So
every task carries, in `startedBy`, a digest of the run's identity: `--run-id` when given, else
what the CI system says the job is — the same on a retry of that job, different for another
pipeline or another job:

    GitHub Actions  GITHUB_REPOSITORY, GITHUB_RUN_ID, GITHUB_JOB ("re-run jobs" keeps all three)
    GitLab CI       CI_PROJECT_ID, CI_PIPELINE_ID, CI_JOB_NAME (a retried job keeps all three)
    Buildkite       BUILDKITE_BUILD_ID, BUILDKITE_STEP_KEY (else BUILDKITE_LABEL)
    CircleCI        CIRCLE_WORKFLOW_WORKSPACE_ID (kept by "rerun from failed"), CIRCLE_JOB

Elsewhere a run has no identity and `startedBy` stays `ecs-one-off-task`. The digest also
covers the cluster and the task name: one job running two migrations gives each its own.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

PLAIN_STARTED_BY = "ecs-one-off-task"
"""`startedBy` of a run with no identity (aws.STARTED_BY), as before identities existed."""
STARTED_BY_LIMIT = 128
"""ECS's limit on `startedBy`: up to 128 letters, digits, hyphens, underscores and slashes."""
_STARTED_BY_CHARACTERS = re.compile(r"^[A-Za-z0-9/_-]{1,128}$")


@dataclass(frozen=True, kw_only=True)
class RunIdentity:
    """Where the identity came from, and what it is made of.

    `source` is `github`, `gitlab`, `buildkite`, `circleci` or `--run-id`.
    """

    source: str
    parts: tuple[tuple[str, str], ...]

    def describe(self) -> str:
        """`github: repository=org/app run=123 job=migrate`, for the start line and summary."""
        return f"{self.source}: " + " ".join(f"{name}={value}" for name, value in self.parts)


# The CI system: the variable it sets to "true", then the identity's parts, in order; a part
# with several names takes the first one set.
_SYSTEMS: tuple[tuple[str, str, tuple[tuple[str, tuple[str, ...]], ...]], ...] = (
    (
        "github",
        "GITHUB_ACTIONS",
        (
            ("repository", ("GITHUB_REPOSITORY",)),
            ("run", ("GITHUB_RUN_ID",)),
            ("job", ("GITHUB_JOB",)),
        ),
    ),
    (
        "gitlab",
        "GITLAB_CI",
        (
            ("project", ("CI_PROJECT_ID", "CI_PROJECT_PATH")),
            ("pipeline", ("CI_PIPELINE_ID",)),
            ("job", ("CI_JOB_NAME",)),
        ),
    ),
    (
        "buildkite",
        "BUILDKITE",
        (
            ("build", ("BUILDKITE_BUILD_ID",)),
            ("step", ("BUILDKITE_STEP_KEY", "BUILDKITE_LABEL")),
        ),
    ),
    (
        "circleci",
        "CIRCLECI",
        (
            ("workflow_workspace", ("CIRCLE_WORKFLOW_WORKSPACE_ID",)),
            ("job", ("CIRCLE_JOB",)),
        ),
    ),
)


def run_identity(run_id: str | None, environ: Mapping[str, str]) -> RunIdentity | None:
    """`--run-id` if given, else the CI system's job identity, else None.

    A CI system missing one of its variables gives no identity: half an identity could match
    another job's tasks.
    """
    if run_id is not None:
        return RunIdentity(source="--run-id", parts=(("run_id", run_id),))
    for source, flag, wanted in _SYSTEMS:
        if environ.get(flag) != "true":
            continue
        parts: list[tuple[str, str]] = []
        for name, variables in wanted:
            value = next((environ[v] for v in variables if environ.get(v)), None)
            if value is None:
                return None
            parts.append((name, value))
        return RunIdentity(source=source, parts=tuple(parts))
    return None


def started_by(identity: RunIdentity | None, *, cluster: str, task_name: str) -> str:
    """`ecs-one-off-task/<digest>` of the identity, cluster and task name; else the plain tag."""
    if identity is None:
        return PLAIN_STARTED_BY
    document = json.dumps(
        {
            "source": identity.source,
            "parts": list(identity.parts),
            "cluster": cluster,
            "task_name": task_name,
        },
        sort_keys=True,
    )
    digest = hashlib.sha256(document.encode()).hexdigest()[:40]
    value = f"{PLAIN_STARTED_BY}/{digest}"
    assert _STARTED_BY_CHARACTERS.match(value)  # noqa: S101 - hex digits and a slash
    return value
