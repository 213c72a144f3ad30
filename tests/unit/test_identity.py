"""The run's identity from the CI system, and the `startedBy` it gives the tasks."""

from __future__ import annotations

import re

import pytest

from ecs_one_off_task.identity import RunIdentity, run_identity, started_by
from ecs_one_off_task.startpolicy import StartPolicy

GITHUB = {
    "GITHUB_ACTIONS": "true",
    "GITHUB_REPOSITORY": "acme/shop",
    "GITHUB_RUN_ID": "9123456789",
    "GITHUB_RUN_ATTEMPT": "1",
    "GITHUB_JOB": "migrate",
}


@pytest.mark.parametrize(
    ("environ", "described"),
    [
        (GITHUB, "github: repository=acme/shop run=9123456789 job=migrate"),
        (
            {"GITLAB_CI": "true", "CI_PROJECT_ID": "42", "CI_PIPELINE_ID": "777",
             "CI_JOB_NAME": "migrate: [eu]"},
            "gitlab: project=42 pipeline=777 job=migrate: [eu]",
        ),
        (
            {"BUILDKITE": "true", "BUILDKITE_BUILD_ID": "0190-ab",
             "BUILDKITE_LABEL": ":db: migrate"},
            "buildkite: build=0190-ab step=:db: migrate",
        ),
        (
            {"BUILDKITE": "true", "BUILDKITE_BUILD_ID": "0190-ab", "BUILDKITE_STEP_KEY": "migrate",
             "BUILDKITE_LABEL": ":db: migrate"},
            "buildkite: build=0190-ab step=migrate",
        ),
        (
            {"CIRCLECI": "true", "CIRCLE_WORKFLOW_WORKSPACE_ID": "5f1c-9a",
             "CIRCLE_JOB": "migrate"},
            "circleci: workflow_workspace=5f1c-9a job=migrate",
        ),
    ],
)  # fmt: skip
def test_each_ci_gives_its_job_identity(environ: dict[str, str], described: str) -> None:
    """Each CI system's job identity, from the variables a retry of the job keeps."""
    identity = run_identity(None, environ)
    assert identity is not None
    assert identity.describe() == described


def test_a_rerun_of_the_job_has_the_same_identity() -> None:
    """GitHub's "re-run jobs" changes GITHUB_RUN_ATTEMPT only: the same identity, the same
    startedBy."""
    again = GITHUB | {"GITHUB_RUN_ATTEMPT": "2"}
    first, second = run_identity(None, GITHUB), run_identity(None, again)
    assert first == second
    tags = {started_by(i, cluster="prod", task_name="m") for i in (first, second)}
    assert len(tags) == 1


def test_no_ci_and_no_run_id_is_no_identity() -> None:
    """Outside a known CI, without --run-id: no identity, the plain startedBy of before."""
    assert run_identity(None, {"CI": "true"}) is None
    assert started_by(None, cluster="prod", task_name="m") == "ecs-one-off-task"


def test_a_ci_missing_a_variable_gives_no_identity() -> None:
    """Half an identity could match another job's tasks: none at all instead."""
    assert run_identity(None, GITHUB | {"GITHUB_JOB": ""}) is None


def test_run_id_wins_over_the_ci() -> None:
    """--run-id names the run whatever the CI says."""
    assert run_identity("deploy-42", GITHUB) == RunIdentity(
        source="--run-id", parts=(("run_id", "deploy-42"),)
    )


def test_started_by_is_what_ecs_accepts_and_covers_cluster_and_task() -> None:
    """`ecs-one-off-task/<digest>`: at most 128 of [A-Za-z0-9/_-], whatever the identity;
    another cluster or task name gives another digest."""
    identity = run_identity("ü" * 500 + " spaces/and:colons", {})
    tag = started_by(identity, cluster="prod", task_name="m")
    assert len(tag) <= 128
    assert re.fullmatch(r"ecs-one-off-task/[0-9a-f]{40}", tag)
    assert tag != started_by(identity, cluster="staging", task_name="m")
    assert tag != started_by(identity, cluster="prod", task_name="other")


@pytest.mark.parametrize(("attempt", "step"), [(2, 10.0), (3, 30.0), (4, 60.0), (7, 60.0)])
def test_waits_between_starts(attempt: int, step: float) -> None:
    """10 s, 30 s, then 60 s; jitter moves each at most 20 % either way."""
    policy = StartPolicy()
    assert policy.wait_before(attempt) == pytest.approx(step)
    assert policy.wait_before(attempt, 0.0) == pytest.approx(step * 0.8)
    assert policy.wait_before(attempt, 0.999999) == pytest.approx(step * 1.2)
