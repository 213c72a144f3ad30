"""Real-shaped references run through the real CLI, not only planned with --dry-run.

The references are fixtures of tests/fixtures/taskdefs/ (see test_real_taskdefs.py), registered
in the emulator under a family of this test's own.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FAST, CliRun, writes
from tests.emulator import Emulator
from tests.emulator.seed import AMI_ID, Reference
from tests.emulator.timeline import Timeline, lines_every
from tests.test_real_taskdefs import register

Cli = Callable[..., CliRun]
FIXTURES = Path(__file__).parent / "fixtures" / "taskdefs"


def fixture_reference(emu: Emulator, stem: str, family: str) -> dict[str, Any]:
    """Register fixture `stem` as `family`; return its describe answer."""
    fixture: dict[str, Any] = json.loads((FIXTURES / f"{stem}.json").read_text())
    register(emu, fixture, family)
    emu.clear_calls()
    return fixture


def run_args(task_name: str, family: str, reference: Reference, *extra: str) -> list[str]:
    """A run of `task_name` from `family` on myEcsCluster, on the account's subnets."""
    return [
        "--task-name", task_name, "--from-task", family, "--cluster", "myEcsCluster",
        "--image", "app:v2", "--subnets", *reference.subnets,
        "--security-groups", reference.security_group_id, *FAST, *extra,
        "--", "rake", "db:migrate",
    ]  # fmt: skip


def registered(emu: Emulator) -> dict[str, Any]:
    [call] = emu.calls_to("RegisterTaskDefinition")
    return call.params


class TestRealReferencesRun:
    def test_a_firelens_first_fargate_reference_runs_in_the_app_container(
        self, emu: Emulator, cli: Cli, reference: Reference, task_name: str
    ) -> None:
        """AWS's FireLens sample lists the essential log router first: the migration runs in
        orders-api's container (its secret, its environment), logs with awslogs, and its lines
        are streamed and its exit code returned."""
        fixture_reference(emu, "02-firelens-fluentbit-cloudwatch", f"{task_name}-ref")
        emu.script(task_name, Timeline(lines=lines_every(4, 0.2), runs_for=1.0, exit_code=3))
        run = cli(*run_args(task_name, f"{task_name}-ref", reference))
        assert run.exit_code == 3, run.stderr
        assert run.lines == [f"line {i}" for i in range(1, 5)]
        [container] = registered(emu)["containerDefinitions"]
        assert [s["name"] for s in container["secrets"]] == ["DATABASE_PASSWORD"]
        assert container["logConfiguration"]["logDriver"] == "awslogs"
        read = run.event_with("container")
        assert read["container"] == "orders-api (the only essential non-sidecar container)"

    def test_an_efs_reference_one_off_mounts_the_volume(
        self, emu: Emulator, cli: Cli, reference: Reference, task_name: str
    ) -> None:
        """WordPress on EFS: the task the one-off starts has the wp-content EFS volume with its
        access point and IAM authorisation, mounted where the app mounts it."""
        fixture = fixture_reference(emu, "16-wordpress-efs-accesspoint", f"{task_name}-ref")
        emu.script(task_name, Timeline(lines=lines_every(1, 0.1), runs_for=0.3))
        run = cli(*run_args(task_name, f"{task_name}-ref", reference))
        assert run.exit_code == 0, run.stderr
        [task_arn] = [c.params["tasks"][0] for c in emu.calls_to("DescribeTasks")][:1]
        ecs = emu.boto3_client("ecs")
        task = ecs.describe_tasks(cluster="myEcsCluster", tasks=[task_arn])["tasks"][0]
        revision = ecs.describe_task_definition(taskDefinition=task["taskDefinitionArn"])
        definition = revision["taskDefinition"]
        [volume] = fixture["describe"]["taskDefinition"]["volumes"]
        assert definition["volumes"] == [volume]
        [container] = definition["containerDefinitions"]
        app = fixture["describe"]["taskDefinition"]["containerDefinitions"][1]
        assert container["mountPoints"] == app["mountPoints"]
        assert volume["efsVolumeConfiguration"]["authorizationConfig"]["iam"] == "ENABLED"

    def test_with_sidecars_an_app_mesh_reference_keeps_its_envoy_and_proxy(
        self, emu: Emulator, cli: Cli, reference: Reference, task_name: str
    ) -> None:
        """--with-sidecars on an App Mesh reference registers the proxyConfiguration naming
        envoy, the envoy and X-Ray containers, and the one-off container still waiting for a
        HEALTHY envoy; the task runs and exits 0."""
        fixture_reference(emu, "09-appmesh-envoy-proxyconfig", f"{task_name}-ref")
        emu.script(task_name, Timeline(lines=lines_every(2, 0.1), runs_for=0.5))
        run = cli(*run_args(task_name, f"{task_name}-ref", reference, "--with-sidecars"))
        assert run.exit_code == 0, run.stderr
        request = registered(emu)
        assert request["proxyConfiguration"]["containerName"] == "envoy"
        names = [c["name"] for c in request["containerDefinitions"]]
        assert names == [task_name, "envoy", "xray-daemon"]
        one_off = request["containerDefinitions"][0]
        assert {"containerName": "envoy", "condition": "HEALTHY"} in one_off["dependsOn"]
        assert run.lines == ["line 1", "line 2"]

    def test_an_ec2_field_fargate_refuses_is_2_with_no_write(
        self, emu: Emulator, cli: Cli, reference: Reference, task_name: str
    ) -> None:
        """An EC2 reference with an IPC mode, tmpfs and shared memory, run on Fargate: exit 2
        naming the first field, nothing registered or started (never dropped silently)."""
        fixture_reference(emu, "24-ec2-linuxparams-chrome-renderer", f"{task_name}-ref")
        fargate = ("--launch-type", "FARGATE", "--cpu", "4096", "--memory", "8192")
        run = cli(*run_args(task_name, f"{task_name}-ref", reference, *fargate))
        assert run.exit_code == 2
        assert run.final_error.startswith("the one-off task would run on Fargate, which refuses")
        assert "refuses ipcMode (carried from the reference)" in run.final_error
        assert writes(emu) == []

    def test_names_made_of_a_plain_word_value_stay_whole(
        self, emu: Emulator, cli: Cli, reference: Reference, task_name: str
    ) -> None:
        """A reference with RAILS_ENV=production and a family, task name and log group with
        "production" in them: every name and link stays whole in the tool's lines (the word is
        not a secret), while the reference's long secret-like value is still masked."""
        family = f"{task_name}-production"
        fixture_reference(emu, "34-hand-edited-nulls-datadog-bridge", family)
        emu.script(f"{family}-migrate", Timeline(lines=lines_every(1, 0.1), runs_for=0.2))
        run = cli(*run_args(f"{family}-migrate", family, reference))
        assert run.exit_code == 0, run.stderr
        assert "********" not in run.stderr
        assert f"/ecs/{family}-migrate" in run.stderr
        wrong = cli(*run_args(f"{family}-migrate", family, reference, "--container", "production"))
        assert wrong.final_error.startswith("container 'production' is not in reference")

    @pytest.mark.parametrize(
        ("container", "shown"),
        [("info", "info"), ("orders.cluster-cx81lq0a7t.us-east-1.rds.amazonaws.com", "********")],
    )
    def test_short_values_do_not_mask_words(
        self,
        emu: Emulator,
        cli: Cli,
        reference: Reference,
        task_name: str,
        container: str,
        shown: str,
    ) -> None:
        """The reference's LOG_LEVEL=info no longer blanks out the word "info" in the tool's
        lines; a value of 8 characters or more (its DATABASE_HOST) still is masked."""
        fixture_reference(emu, "02-firelens-fluentbit-cloudwatch", f"{task_name}-ref")
        run = cli(*run_args(task_name, f"{task_name}-ref", reference, "--container", container))
        assert run.exit_code == 2
        assert run.final_error.startswith(f"container '{shown}' is not in reference")


class TestKeepRevisions:
    def test_five_deploys_leave_two_active_revisions(
        self, emu: Emulator, cli: Cli, task_name: str
    ) -> None:
        """Five deploys with --keep-revisions 2 leave the one-off family's two newest revisions
        ACTIVE, deregister the others, and never touch the app's family."""
        ecs = emu.boto3_client("ecs")
        app_before = ecs.list_task_definitions(familyPrefix="myapp")["taskDefinitionArns"]
        emu.script(task_name, Timeline(runs_for=0.1))
        for version in range(1, 6):
            run = cli(
                "--task-name", task_name, "--from-task", "myapp", "--cluster", "myEcsCluster",
                "--image", f"app:v{version}", "--keep-revisions", "2", *FAST,
                "--", "rake", "db:migrate",
            )  # fmt: skip
            assert run.exit_code == 0, run.stderr
        active = ecs.list_task_definitions(familyPrefix=task_name)["taskDefinitionArns"]
        assert [arn.rsplit(":", 1)[1] for arn in active] == ["4", "5"]
        assert ecs.list_task_definitions(familyPrefix="myapp")["taskDefinitionArns"] == app_before
        said = run.event_with("deregistered")
        assert said["event"] == "1 older revision deregistered (--keep-revisions 2; 2 active)"


class TestVolumesConfiguredAtLaunch:
    def test_the_services_ebs_configuration_goes_to_runtask(
        self, emu: Emulator, cli: Cli, reference: Reference, task_name: str
    ) -> None:
        """A reference whose app mounts an EBS volume configured at launch, run with
        --from-service: RunTask gets the service's volume configuration for it (RunTask's
        fields only), and the revision keeps the volume configured at launch."""
        fixture_reference(emu, "23-ebs-configured-at-launch-otel", f"{task_name}-ref")
        ebs = {
            "roleArn": "arn:aws:iam::123456789012:role/ecsInfrastructureRole",
            "volumeType": "gp3",
            "sizeInGiB": 100,
            "filesystemType": "ext4",
        }
        emu.boto3_client("ecs").create_service(
            cluster="myEcsCluster",
            serviceName=f"{task_name}-svc",
            taskDefinition=f"{task_name}-ref",
            desiredCount=1,
            launchType="FARGATE",
            networkConfiguration={
                "awsvpcConfiguration": {
                    "subnets": list(reference.subnets),
                    "securityGroups": [reference.security_group_id],
                }
            },
            volumeConfigurations=[{"name": "etl-data", "managedEBSVolume": ebs}],
        )
        emu.clear_calls()
        emu.script(task_name, Timeline(lines=lines_every(1, 0.1), runs_for=0.3))
        run = cli(
            *("--task-name", task_name, "--from-service", f"{task_name}-svc"),
            *("--cluster", "myEcsCluster", "--image", "etl:v2", *FAST, "--", "etl", "backfill"),
        )
        assert run.exit_code == 0, run.stderr
        [call] = emu.calls_to("RunTask")
        assert call.params["volumeConfigurations"] == [
            {"name": "etl-data", "managedEBSVolume": ebs}
        ]
        [volume] = registered(emu)["volumes"]
        assert (volume["name"], volume["configuredAtLaunch"]) == ("etl-data", True)


@pytest.fixture
def managed_cluster(emu: Emulator, task_name: str) -> str:
    """A cluster whose default capacity provider strategy is a (non-Fargate) provider, with a
    container instance for it: how a Managed Instances cluster looks to RunTask."""
    ecs, ec2 = emu.boto3_client("ecs"), emu.boto3_client("ec2")
    provider = f"{task_name}-managed"
    asg = (
        "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:1:"
        f"autoScalingGroupName/{provider}"
    )
    ecs.create_capacity_provider(
        name=provider, autoScalingGroupProvider={"autoScalingGroupArn": asg}
    )
    cluster = f"{task_name}-cluster"
    ecs.create_cluster(
        clusterName=cluster,
        capacityProviders=[provider],
        defaultCapacityProviderStrategy=[{"capacityProvider": provider, "weight": 1}],
    )
    [instance] = ec2.run_instances(
        ImageId=AMI_ID, MinCount=1, MaxCount=1, InstanceType="m5.xlarge"
    )["Instances"]
    document = json.dumps({"instanceId": instance["InstanceId"]})
    ecs.register_container_instance(cluster=cluster, instanceIdentityDocument=document)
    emu.clear_calls()
    return cluster


class TestManagedInstances:
    def test_a_managed_instances_reference_keeps_managed_instances(
        self, emu: Emulator, cli: Cli, reference: Reference, task_name: str, managed_cluster: str
    ) -> None:
        """A reference made for Managed Instances, run on a cluster whose default strategy
        places them, registers a MANAGED_INSTANCES revision; RunTask names no launch type (ECS
        places Managed Instances only through a capacity provider)."""
        fixture_reference(emu, "31-managed-instances-awsvpc-firelens", f"{task_name}-ref")
        emu.script(task_name, Timeline(lines=lines_every(1, 0.1), runs_for=0.3))
        run = cli(*run_args(task_name, f"{task_name}-ref", reference, "--cluster", managed_cluster))
        assert run.exit_code == 0, run.stderr
        assert registered(emu)["requiresCompatibilities"] == ["MANAGED_INSTANCES"]
        [call] = emu.calls_to("RunTask")
        assert "launchType" not in call.params
        assert run.lines == ["line 1"]

    def test_launch_type_managed_instances_is_accepted(
        self, emu: Emulator, cli: Cli, reference: Reference, task_name: str, managed_cluster: str
    ) -> None:
        """--launch-type MANAGED_INSTANCES makes the seed's EC2 (bridge) reference an awsvpc
        Managed Instances revision placed by the cluster's default strategy; --dry-run says so."""
        flags = ("--launch-type", "MANAGED_INSTANCES", "--cluster", managed_cluster)
        dry = cli(*run_args(task_name, "myapp", reference, *flags, "--dry-run"))
        assert dry.exit_code == 0, dry.stderr
        plan = json.loads(dry.stdout)
        assert plan["launch"] == (
            "Managed Instances, the cluster's default capacity provider strategy (--launch-type)"
        )
        emu.script(task_name, Timeline(lines=lines_every(1, 0.1), runs_for=0.3))
        run = cli(*run_args(task_name, "myapp", reference, *flags))
        assert run.exit_code == 0, run.stderr
        request = registered(emu)
        assert (request["requiresCompatibilities"], request["networkMode"]) == (
            ["MANAGED_INSTANCES"],
            "awsvpc",
        )
        [call] = emu.calls_to("RunTask")
        assert "launchType" not in call.params

    def test_a_cluster_that_cannot_place_them_is_2_with_no_write(
        self, emu: Emulator, cli: Cli, reference: Reference, task_name: str
    ) -> None:
        """The seed's cluster has no default capacity provider strategy: RunTask would fall back to
        EC2, where a Managed Instances revision cannot run. Exit 2 naming the way out, and
        nothing written."""
        run = cli(*run_args(task_name, "myapp", reference, "--launch-type", "MANAGED_INSTANCES"))
        assert run.exit_code == 2
        assert run.final_error.startswith("Managed Instances run through a capacity provider")
        assert "pass --capacity-provider NAME" in run.final_error
        assert writes(emu) == []


class TestAttach:
    def test_attach_follows_the_one_off_container_beside_its_sidecars(
        self, emu: Emulator, cli: Cli, reference: Reference, task_name: str
    ) -> None:
        """A one-off task run --with-sidecars from nginx + web has two essential containers;
        `attach TASK` follows the one-off container (named after its family) without asking
        for --container."""
        fixture_reference(emu, "12-rails-nginx-links-volumesfrom", f"{task_name}-ref")
        emu.script(task_name, Timeline(lines=lines_every(2, 0.1), runs_for=0.3))
        flags = ("--container", "web", "--with-sidecars")
        run = cli(*run_args(task_name, f"{task_name}-ref", reference, *flags))
        assert run.exit_code == 0, run.stderr
        [task_arn] = [t.task_arn for t in emu.task_records() if t.family == task_name]
        attached = cli("attach", "--cluster", "myEcsCluster", *FAST, task_arn)
        assert attached.exit_code == 0, attached.stderr
        assert attached.lines == ["line 1", "line 2"]
