"""Option parsing: the seed's command lines keep working, bad ones are one clear error."""

from __future__ import annotations

import re

import pytest

from ecs_one_off_task.config import LogFormat
from ecs_one_off_task.errors import UsageError
from ecs_one_off_task.options import parse_args, parse_attach_args

BASE = ["--task-name", "mig", "--from-task", "myapp", "--cluster", "c", "--image", "myapp:v2"]


class TestSeedCommandLines:
    def test_seed_example(self) -> None:
        """The original README's example parses to the same task, with the seed's defaults."""
        config = parse_args(
            [
                "--task-name", "myapp-db-migrations", "--from-task", "myapp",
                "--cluster", "myEcsCluster", "--image", "myapp:v2",
                "--command", "bundle", "exec", "rake", "db:migrate",
            ]
        )  # fmt: skip
        assert config.task.command == ("bundle", "exec", "rake", "db:migrate")
        assert config.task.log_group == "/ecs/myapp-db-migrations"
        assert config.task.log_stream_prefix == "ecs"
        assert config.task.log_retention_days is None  # 7 on a new group, existing kept
        assert config.placement.cluster == "myEcsCluster"
        assert config.placement.launch_type is None  # not given: EC2 unless service/cluster say
        assert config.timing.poll_interval == 6.0
        assert config.timing.max_attempts == 100
        assert config.timing.log_interval == 1.0
        assert config.timing.drain_grace == 5.0
        assert config.log_format is LogFormat.AUTO

    def test_seed_fargate_flags(self) -> None:
        """--networks-id and --security-groups-id still work, space- or comma-separated."""
        config = parse_args(
            [*BASE, "--launch-type", "FARGATE", "--networks-id", "subnet-a", "subnet-b,subnet-c",
             "--security-groups-id", "sg-1", "--command", "true"]
        )  # fmt: skip
        assert config.placement.subnets == ("subnet-a", "subnet-b", "subnet-c")
        assert config.placement.security_groups == ("sg-1",)

    def test_profile_and_region_short_flags(self) -> None:
        """-p and -r set the profile and region."""
        config = parse_args([*BASE, "-p", "prod", "-r", "eu-west-1", "--command", "true"])
        assert (config.aws.profile, config.aws.region) == ("prod", "eu-west-1")

    def test_entrypoint_is_split_like_a_shell(self) -> None:
        """The seed's quoted entry point 'sh -c' becomes two words."""
        config = parse_args([*BASE, "--entrypoint", "sh -c", "--command", "a && b"])
        assert config.task.entrypoint == ("sh", "-c")
        assert config.task.command == ("a && b",)


class TestCommandAfterDashes:
    def test_everything_after_dashes_is_the_command(self) -> None:
        """Words after a lone -- are the command untouched, even ones that look like options."""
        config = parse_args([*BASE, "--", "sh", "-c", "migrate --verbose && seed", "--"])
        assert config.task.command == ("sh", "-c", "migrate --verbose && seed", "--")

    def test_both_ways_at_once_is_refused(self) -> None:
        """--command and -- together are ambiguous."""
        with pytest.raises(UsageError, match="not both"):
            parse_args([*BASE, "--command", "a", "--", "b"])

    def test_no_command_is_refused(self) -> None:
        """A one-off task without a command would run the image's server forever."""
        with pytest.raises(UsageError, match="no command"):
            parse_args(BASE)


class TestBadInput:
    @pytest.mark.parametrize(
        ("extra", "message"),
        [
            (["--poll-interval", "0"], "--poll-interval: must be greater than 0"),
            (["--poll-interval", "-1"], "--poll-interval: must be greater than 0"),
            (["--log-interval", "0"], "--log-interval: must be greater than 0"),
            (["--max-attempts", "0"], "--max-attempts: must be a whole number greater than 0"),
            (["--drain-grace", "-1"], "--drain-grace: must be 0 or more"),
            (["--timeout", "0"], "--timeout: must be greater than 0"),
            (["--log-retention-days", "10"], "--log-retention-days: CloudWatch accepts only 1, 3"),
            (["--launch-type", "FARGATE"], "FARGATE needs --subnets"),
            (["--image", " "], "--image must not be empty"),
            (["--entrypoint", "sh 'unclosed"], "--entrypoint cannot be split"),
        ],
    )
    def test_bad_values(self, extra: list[str], message: str) -> None:
        """Each bad value is refused with a message naming the option."""
        with pytest.raises(UsageError, match=message.replace("(", r"\(")):
            parse_args([*BASE, *extra, "--command", "true"])

    def test_missing_required_flag(self) -> None:
        """A missing required option is named."""
        with pytest.raises(UsageError, match="required: --cluster"):
            parse_args(["--task-name", "m", "--from-task", "a", "--image", "i", "--command", "x"])


class TestWaitingBudget:
    def test_timeout_lifts_the_default_attempt_limit(self) -> None:
        """With --timeout, a long migration is not cut at 100 polls unless asked."""
        assert (
            parse_args([*BASE, "--timeout", "3600", "--command", "x"]).timing.max_attempts is None
        )

    def test_explicit_attempts_stay_with_timeout(self) -> None:
        """--max-attempts given with --timeout keeps both limits."""
        config = parse_args([*BASE, "--timeout", "60", "--max-attempts", "5", "--command", "x"])
        assert (config.timing.timeout, config.timing.max_attempts) == (60.0, 5)


class TestWaitingBudgetNotice:
    @pytest.mark.parametrize(
        ("extra", "said"),
        [
            ([], "watching ends after 100 status checks (~600 s; the task goes on running)"),
            (["--timeout", "3600"], "the task is stopped after 3600 s (--timeout)"),
            (
                ["--timeout", "60", "--max-attempts", "5"],
                (
                    "the task is stopped after 60 s (--timeout), or watching ends after 5 status"
                    " checks (~30 s; the task goes on running)"
                ),
            ),
        ],
    )
    def test_the_start_says_when_waiting_ends(self, extra: list[str], said: str) -> None:
        """The 'task started' event says when watching ends and whether the task is stopped
        then (--timeout) or goes on running (--max-attempts), before it matters, not after."""
        from ecs_one_off_task.starting import waiting_budget  # noqa: PLC0415

        assert waiting_budget(parse_args([*BASE, *extra, "--", "x"]).timing) == said


class TestLaunchOptions:
    def test_a_service_can_stand_for_the_reference(self) -> None:
        """--from-service without --from-task is a whole command; the reference is then None."""
        config = parse_args(
            ["--task-name", "m", "--from-service", "web", "--cluster", "c", "--image", "i", "--",
             "x"]
        )  # fmt: skip
        assert (config.task.reference, config.placement.service) == (None, "web")

    def test_overrides_tags_and_providers_are_parsed(self) -> None:
        """Repeatable options keep their order; NAME[:WEIGHT[:BASE]] defaults to 1 and 0."""
        config = parse_args(
            [*BASE, "--env", "A=1=2", "--env", "B=", "--secret", "S=arn:x", "--tag", "t=v",
             "--capacity-provider", "FARGATE_SPOT:3", "--capacity-provider", "FARGATE:1:2",
             "--cpu", "512", "--memory", "1024", "--count", "3", "--no-assign-public-ip",
             "--dry-run", "--with-sidecars", "--", "x"]
        )  # fmt: skip
        assert config.task.overrides.environment == (("A", "1=2"), ("B", ""))
        assert config.task.overrides.secrets == (("S", "arn:x"),)
        assert (config.task.overrides.cpu, config.task.overrides.memory) == (512, 1024)
        assert config.task.tags == (("t", "v"),)
        assert [(p.name, p.weight, p.base) for p in config.placement.capacity_providers] == [
            ("FARGATE_SPOT", 3, 0),
            ("FARGATE", 1, 2),
        ]
        assert (config.placement.count, config.placement.assign_public_ip) == (3, False)
        assert config.dry_run
        assert config.task.with_sidecars

    @pytest.mark.parametrize(
        ("extra", "message"),
        [
            (["--count", "11"], "argument --count: must be 1 to 10"),
            (["--count", "0"], "argument --count: must be 1 to 10"),
            (["--env", "NOVALUE"], "argument --env: expected KEY=VALUE, got 'NOVALUE'"),
            (["--secret", "=x"], "argument --secret: expected NAME=VALUE_FROM"),
            (["--capacity-provider", "A:B"], "WEIGHT and BASE must be whole numbers"),
            (["--capacity-provider", "A:1:2:3"], "expected NAME[:WEIGHT[:BASE]]"),
            (["--capacity-provider", "A:1001"], "WEIGHT must be 0-1000"),
            (["--launch-type", "EC2", "--capacity-provider", "FARGATE"],
             "give --launch-type or --capacity-provider, not both"),
            (["--cpu", "0"], "argument --cpu: must be a whole number greater than 0"),
        ],
    )  # fmt: skip
    def test_bad_launch_options_are_named(self, extra: list[str], message: str) -> None:
        """Each malformed launch option is a usage error naming it."""
        with pytest.raises(UsageError, match=re.escape(message)):
            parse_args([*BASE, *extra, "--", "x"])

    def test_neither_reference_nor_service(self) -> None:
        """Without --from-task and --from-service there is nothing to copy from."""
        with pytest.raises(UsageError, match="--from-task REFERENCE or --from-service SERVICE"):
            parse_args(["--task-name", "m", "--cluster", "c", "--image", "i", "--", "x"])


class TestAttachOptions:
    @pytest.mark.parametrize(
        ("since", "seconds"),
        [("90s", 90), ("10m", 600), ("2h", 7200), ("1h30m", 5400), ("1d", 86400)],
    )
    def test_since_durations(self, since: str, seconds: float) -> None:
        """--since takes durations written as people write them."""
        config = parse_attach_args(["--cluster", "c", "--since", since, "abc"])
        assert config.since == seconds

    def test_reading_options_and_no_waiting_budget(self) -> None:
        """Attach takes the run's reading options, leaves tasks running by default and has no
        attempt limit (it watches until the task stops)."""
        config = parse_attach_args(
            ["--cluster", "c", "--poll-interval", "2", "--log-interval", "0.5", "-r", "eu-west-1",
             "--container", "app", "0123"]
        )  # fmt: skip
        assert (config.task, config.container, config.aws.region) == ("0123", "app", "eu-west-1")
        assert (config.timing.poll_interval, config.timing.log_interval) == (2.0, 0.5)
        assert config.timing.max_attempts is None
        assert not config.stop_on_interrupt

    @pytest.mark.parametrize("since", ["10", "m", "10x", "5m10", ""])
    def test_bad_durations_are_named(self, since: str) -> None:
        """A --since that is not a duration is a usage error."""
        with pytest.raises(UsageError, match="expected a duration such as 10m"):
            parse_attach_args(["--cluster", "c", "--since", since, "abc"])

    def test_if_running_choices(self) -> None:
        """--if-running defaults to auto and accepts the five modes only."""
        assert parse_args([*BASE, "--", "x"]).if_running.value == "auto"
        with pytest.raises(UsageError, match="invalid choice"):
            parse_args([*BASE, "--if-running", "maybe", "--", "x"])
