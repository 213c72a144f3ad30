"""Choosing the app's container, telling sidecars apart, carrying it, keeping the others."""

from __future__ import annotations

import copy
import re
from typing import Any, ClassVar

import pytest

from ecs_one_off_task.carrying import DROPPED, cleaned
from ecs_one_off_task.choosing import ONLY_APP, ONLY_CONTAINER, choose_container
from ecs_one_off_task.config import LaunchType, TaskSpec
from ecs_one_off_task.errors import UsageError
from ecs_one_off_task.keeping import UNUSED_ROUTER
from ecs_one_off_task.launch import Launch, compatibility, launch_volumes
from ecs_one_off_task.revisions import stale
from ecs_one_off_task.sidecars import agent_of, repository
from ecs_one_off_task.taskdef import build_task_definition, merged_tags

SPEC = TaskSpec(
    task_name="migrate",
    reference="app",
    image="app:v2",
    command=("rake", "db:migrate"),
    log_group="/ecs/migrate",
)


def build(reference: dict[str, Any], **changes: Any) -> Any:
    launch = changes.pop("compatibility", LaunchType.EC2)
    volumes = changes.pop("launch_volumes", None)
    spec = TaskSpec(**{**SPEC.__dict__, **changes})
    return build_task_definition(
        reference, spec, region="eu-west-1", compatibility=launch, launch_volumes=volumes
    )


class TestSidecarImages:
    @pytest.mark.parametrize(
        ("image", "agent"),
        [
            ("public.ecr.aws/aws-observability/aws-for-fluent-bit:stable", "Fluent Bit"),
            (
                "906394416424.dkr.ecr.us-east-1.amazonaws.com/aws-for-fluent-bit:latest",
                "Fluent Bit",
            ),
            ("amazon/aws-for-fluent-bit@sha256:0123abcd", "Fluent Bit"),
            ("fluent/fluentd:v1.16-1", "Fluentd"),
            ("public.ecr.aws/datadog/agent:7", "Datadog agent"),
            ("datadog/agent:latest", "Datadog agent"),
            ("amazon/aws-xray-daemon", "AWS X-Ray daemon"),
            ("public.ecr.aws/xray/aws-xray-daemon:3.x", "AWS X-Ray daemon"),
            (
                "public.ecr.aws/aws-observability/aws-otel-collector:v0.40.0",
                "OpenTelemetry collector",
            ),
            ("otel/opentelemetry-collector-contrib:0.98.0", "OpenTelemetry collector"),
            ("quay.io/signalfx/splunk-otel-collector:0.96.0", "OpenTelemetry collector"),
            ("public.ecr.aws/cloudwatch-agent/cloudwatch-agent:latest", "CloudWatch agent"),
            (
                "840364872350.dkr.ecr.eu-west-1.amazonaws.com/aws-appmesh-envoy:v1.29.6.0-prod",
                "Envoy",
            ),
            ("envoyproxy/envoy:v1.30-latest", "Envoy"),
            ("newrelic/infrastructure-bundle:3.2.0", "New Relic infrastructure agent"),
            ("public.ecr.aws/hashicorp/consul-ecs:0.8", "Consul"),
            ("123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders-api:v42", None),
            ("wordpress:6-apache", None),
            ("nginx:1.27", None),
            ("localhost:5000/agent:1", None),
        ],
    )
    def test_well_known_agents_by_repository(self, image: str, agent: str | None) -> None:
        """An image is an agent by its repository, whatever its registry, tag or digest; an
        app's image, nginx and a generic "agent" repository are not."""
        assert agent_of(image) == agent

    def test_repository_strips_registry_tag_and_digest(self) -> None:
        """The registry host (a dot or a port), the tag and the digest are not the repository."""
        assert repository("localhost:5000/team/app:1@sha256:ab") == "team/app"
        assert repository("library/nginx") == "nginx"


class TestChooseContainer:
    FIRELENS_FIRST: dict[str, Any] = {  # noqa: RUF012 - read only
        "family": "orders",
        "containerDefinitions": [
            {
                "name": "log_router",
                "image": "x/router:1",
                "firelensConfiguration": {"type": "fluentbit"},
            },
            {"name": "orders-api", "image": "orders:1"},
            {"name": "xray", "image": "amazon/aws-xray-daemon", "essential": True},
            {"name": "seed", "image": "orders:1", "essential": False},
        ],
    }

    def test_the_only_essential_non_sidecar(self) -> None:
        """A FireLens router listed first (even with an unknown image) and an essential X-Ray
        daemon are sidecars; a non-essential container is no candidate: orders-api is chosen,
        and the sidecars are named with what they are."""
        choice = choose_container(self.FIRELENS_FIRST, None)
        assert (choice.name, choice.why) == ("orders-api", ONLY_APP)
        assert dict(choice.sidecars) == {
            "log_router": "FireLens log router",
            "xray": "AWS X-Ray daemon",
        }

    def test_several_app_containers_are_named(self) -> None:
        """Two essential non-sidecars: exit 2 naming them in the reference's order."""
        reference = {"family": "app", "containerDefinitions": [{"name": "web"}, {"name": "worker"}]}
        with pytest.raises(UsageError) as raised:
            choose_container(reference, None)
        assert str(raised.value) == (
            "the reference has several app containers (web, worker): pass --container NAME"
        )

    def test_only_sidecars_names_all(self) -> None:
        """Only sidecars: exit 2 naming every container with what it is."""
        reference = {
            "family": "obs",
            "containerDefinitions": [
                {"name": "cw", "image": "amazon/cloudwatch-agent"},
                {"name": "fb", "image": "fluent/fluent-bit:3"},
            ],
        }
        with pytest.raises(
            UsageError, match=r"only sidecars \(cw: CloudWatch agent, fb: Fluent Bit\)"
        ):
            choose_container(reference, None)

    def test_one_container_is_it_whatever_it_is(self) -> None:
        """A definition of one container (an agent, not essential) is that container."""
        reference = {
            "family": "dd",
            "containerDefinitions": [{"name": "dd", "image": "datadog/agent", "essential": False}],
        }
        assert (choose_container(reference, None).why) == ONLY_CONTAINER

    def test_named_container_wins_and_unknown_is_2(self) -> None:
        """--container picks even a sidecar; an unknown name is exit 2 listing the names."""
        assert choose_container(self.FIRELENS_FIRST, "xray").why == "--container"
        with pytest.raises(UsageError, match=r"\(it has: log_router, orders-api, xray, seed\)"):
            choose_container(self.FIRELENS_FIRST, "db")


class TestCarrying:
    APP: dict[str, Any] = {  # noqa: RUF012 - read only
        "family": "app",
        "volumes": [
            {"name": "data", "efsVolumeConfiguration": {"fileSystemId": "fs-1"}},
            {"name": "other"},
        ],
        "containerDefinitions": [
            {
                "name": "app",
                "image": "app:1",
                "cpu": 0,
                "memory": 512,
                "essential": True,
                "entryPoint": ["/docker-entrypoint.sh"],
                "command": ["serve"],
                "portMappings": [{"containerPort": 80, "hostPort": 80}],
                "healthCheck": {"command": ["CMD", "true"]},
                "restartPolicy": {"enabled": True},
                "interactive": True,
                "pseudoTerminal": True,
                "mountPoints": [{"sourceVolume": "data", "containerPath": "/data"}],
                "linuxParameters": {
                    "initProcessEnabled": True,
                    "tmpfs": [{"containerPath": "/scratch", "size": 64}],
                },
                "ulimits": [{"name": "nofile", "softLimit": 65536, "hardLimit": 65536}],
                "dockerLabels": {"team": "core"},
                "user": "",
                "workingDirectory": None,
                "futureField": {"added": "later"},
                "links": [],
            }
        ],
    }

    def test_the_whole_container_but_what_a_one_off_changes(self) -> None:
        """Everything is carried as it is (a field AWS adds later too), but the fields a one-off
        must not have, each dropped with its reason; nulls and empty values are never sent;
        the mounted volume comes along, the other is dropped."""
        built = build(self.APP)
        [container] = built.definition["containerDefinitions"]
        source = self.APP["containerDefinitions"][0]
        for field in ("mountPoints", "linuxParameters", "ulimits", "dockerLabels", "futureField"):
            assert container[field] == source[field]
        assert not {"user", "workingDirectory", "links"} & set(container)
        assert {k: built.dropped[k] for k in DROPPED if k in built.dropped} == {
            k: DROPPED[k]
            for k in (
                "entryPoint",
                "portMappings",
                "healthCheck",
                "restartPolicy",
                "interactive",
                "pseudoTerminal",
            )
        }
        assert built.definition["volumes"] == [self.APP["volumes"][0]]
        assert built.dropped["volume other"] == "no container of the one-off revision mounts it"
        assert container["command"] == ["rake", "db:migrate"]
        assert "entryPoint" not in container

    def test_cleaned_drops_nulls_and_empty_fields_but_not_empty_values(self) -> None:
        """Nulls anywhere and empty fields go; an environment variable set to "" stays."""
        assert cleaned(
            {"a": None, "b": [], "c": "", "environment": [{"name": "X", "value": ""}]}
        ) == {"environment": [{"name": "X", "value": ""}]}

    def test_a_volume_configured_at_launch_needs_the_service(self) -> None:
        """An EBS volume configured at launch takes the service's configuration; without a
        service, exit 2 naming the volume."""
        reference = {**self.APP, "volumes": [{"name": "data", "configuredAtLaunch": True}]}
        with pytest.raises(
            UsageError, match=r"volume 'data' of the reference is configured at launch"
        ):
            build(reference)
        built = build(reference, launch_volumes={"data": {"roleArn": "arn:role", "sizeInGiB": 20}})
        assert built.volume_configurations == (
            {"name": "data", "managedEBSVolume": {"roleArn": "arn:role", "sizeInGiB": 20}},
        )

    def test_fargate_refuses_an_ec2_field_by_name(self) -> None:
        """A tmpfs carried from an EC2 reference is exit 2 on Fargate, naming it."""
        with pytest.raises(
            UsageError, match=r"refuses linuxParameters.tmpfs of container 'migrate'"
        ):
            build(
                {**self.APP, "volumes": self.APP["volumes"][:1]}, compatibility=LaunchType.FARGATE
            )


class TestKeeping:
    MESH: dict[str, Any] = {  # noqa: RUF012 - read only
        "family": "mesh",
        "proxyConfiguration": {"type": "APPMESH", "containerName": "envoy"},
        "containerDefinitions": [
            {
                "name": "router",
                "image": "amazon/aws-for-fluent-bit",
                "firelensConfiguration": {"type": "fluentbit"},
            },
            {
                "name": "app",
                "image": "app:1",
                "memory": 256,
                "logConfiguration": {"logDriver": "awsfirelens"},
                "dependsOn": [
                    {"containerName": "router", "condition": "START"},
                    {"containerName": "envoy", "condition": "HEALTHY"},
                ],
            },
            {
                "name": "envoy",
                "image": "envoyproxy/envoy:v1",
                "links": ["app"],
                "volumesFrom": [{"sourceContainer": "app"}],
                "dependsOn": [{"containerName": "app", "condition": "HEALTHY"}],
            },
        ],
    }

    def test_references_follow_the_one_off_container_and_the_unused_router_goes(self) -> None:
        """With --with-sidecars: links, volumesFrom and dependsOn naming the app name the
        one-off container (HEALTHY becomes START), the router nobody logs to is dropped with
        every reference to it, and the proxy configuration stays with its Envoy."""
        built = build(self.MESH, with_sidecars=True)
        containers = {c["name"]: c for c in built.definition["containerDefinitions"]}
        assert list(containers) == ["migrate", "envoy"]
        assert containers["envoy"]["links"] == ["migrate:app"]
        assert containers["envoy"]["volumesFrom"] == [{"sourceContainer": "migrate"}]
        assert containers["envoy"]["dependsOn"] == [
            {"containerName": "migrate", "condition": "START"}
        ]
        assert containers["migrate"]["dependsOn"] == [
            {"containerName": "envoy", "condition": "HEALTHY"}
        ]
        assert built.dropped["container router"] == UNUSED_ROUTER
        assert built.definition["proxyConfiguration"]["containerName"] == "envoy"

    def test_without_sidecars_the_proxy_configuration_is_dropped(self) -> None:
        """Without --with-sidecars the proxy configuration names no container: dropped, said."""
        built = build(self.MESH)
        assert "proxyConfiguration" not in built.definition
        assert "proxyConfiguration" in built.dropped


class TestTaskAround:
    def test_tags_without_aws_prefix_and_the_flag_winning(self) -> None:
        """The reference's tags come along but AWS's reserved aws:* ones (key or value);
        --tag wins a key."""
        tags = [
            {"key": "aws:cloudformation:stack-name", "value": "prod"},
            {"key": "team", "value": "a"},
            {"key": "cost", "value": "1"},
            {"key": "origin", "value": "aws:cloudformation"},
        ]
        assert merged_tags(tags, [("team", "b")]) == (("team", "b"), ("cost", "1"))

    def test_managed_instances_kept_through_a_capacity_provider(self) -> None:
        """A reference made for Managed Instances run through a (non-Fargate) capacity
        provider stays Managed Instances; one made for EC2 too stays EC2."""
        by_provider = Launch(launch_type=None, chosen_by="--capacity-provider")
        assert (
            compatibility(by_provider, {"requiresCompatibilities": ["MANAGED_INSTANCES"]})
            is LaunchType.MANAGED_INSTANCES
        )
        assert (
            compatibility(by_provider, {"requiresCompatibilities": ["EC2", "MANAGED_INSTANCES"]})
            is LaunchType.EC2
        )

    def test_the_services_primary_deployment_configures_ebs(self) -> None:
        """EBS volume configurations come from the service's PRIMARY deployment, in the fields
        RunTask accepts."""
        service = {
            "deployments": [
                {
                    "status": "ACTIVE",
                    "volumeConfigurations": [{"name": "d", "managedEBSVolume": {"roleArn": "old"}}],
                },
                {
                    "status": "PRIMARY",
                    "volumeConfigurations": [
                        {"name": "d", "managedEBSVolume": {"roleArn": "r", "unknown": 1}}
                    ],
                },
            ]
        }
        assert launch_volumes(service) == {"d": {"roleArn": "r"}}


class TestStaleRevisions:
    ARN = "arn:aws:ecs:eu-west-1:123456789012:task-definition/{}"

    def test_keeps_the_newest_and_the_busy_and_other_families(self) -> None:
        """All but the newest N of the family, never one a task runs, never another family."""
        active = [self.ARN.format(f"migrate:{n}") for n in (1, 2, 3, 10, 11)]
        active.append(self.ARN.format("migrate-worker:1"))
        gone = stale(active, family="migrate", keep=2, in_use=[self.ARN.format("migrate:2")])
        assert gone == [self.ARN.format("migrate:1"), self.ARN.format("migrate:3")]


class TestPlatformRules:
    EC2_REFERENCE: ClassVar[dict[str, Any]] = {
        "family": "legacy",
        "networkMode": "bridge",
        "containerDefinitions": [{"name": "app", "image": "app:1", "memory": 512}],
    }

    @pytest.mark.parametrize(
        ("change", "named"),
        [
            ({"privileged": True}, "privileged of container 'migrate'"),
            ({"dockerSecurityOptions": ["no-new-privileges"]}, "dockerSecurityOptions of"),
            (
                {"linuxParameters": {"devices": [{"hostPath": "/dev/fuse"}]}},
                "linuxParameters.devices",
            ),
            ({"linuxParameters": {"sharedMemorySize": 256}}, "linuxParameters.sharedMemorySize"),
            (
                {"linuxParameters": {"capabilities": {"add": ["NET_ADMIN", "SYS_PTRACE"]}}},
                "capabilities.add NET_ADMIN of",
            ),
            ({"resourceRequirements": [{"type": "GPU", "value": "1"}]}, "resourceRequirements GPU"),
            ({"hostname": "worker"}, "hostname of"),
            ({"dnsServers": ["10.0.0.2"]}, "dnsServers of"),
            ({"extraHosts": [{"hostname": "db", "ipAddress": "10.0.0.5"}]}, "extraHosts of"),
        ],
    )
    def test_fargate_refuses_each_ec2_field_by_name(
        self, change: dict[str, Any], named: str
    ) -> None:
        """Each container field Fargate (and awsvpc) refuses, carried from an EC2 reference,
        is exit 2 naming it; SYS_PTRACE alone would be accepted."""
        reference = copy.deepcopy(self.EC2_REFERENCE)
        reference["containerDefinitions"][0].update(change)
        with pytest.raises(UsageError, match=re.escape(named)):
            build(reference, compatibility=LaunchType.FARGATE)

    @pytest.mark.parametrize(
        ("change", "named"),
        [
            (
                {"placementConstraints": [{"type": "memberOf", "expression": "attribute:x == y"}]},
                "placementConstraints",
            ),
            ({"pidMode": "host"}, "pidMode host"),
            ({"ipcMode": "task"}, "ipcMode"),
        ],
    )
    def test_fargate_refuses_each_ec2_task_field_by_name(
        self, change: dict[str, Any], named: str
    ) -> None:
        """Placement constraints, a host PID mode and an IPC mode are exit 2 on Fargate."""
        with pytest.raises(UsageError, match=re.escape(f"Fargate, which refuses {named}")):
            build({**self.EC2_REFERENCE, **change}, compatibility=LaunchType.FARGATE)

    def test_fargate_accepts_sys_ptrace_and_init_process(self) -> None:
        """SYS_PTRACE and initProcessEnabled are what Fargate allows: carried, no error."""
        reference = copy.deepcopy(self.EC2_REFERENCE)
        linux = {"capabilities": {"add": ["SYS_PTRACE"]}, "initProcessEnabled": True}
        reference["containerDefinitions"][0]["linuxParameters"] = linux
        built = build(reference, compatibility=LaunchType.FARGATE)
        assert built.definition["containerDefinitions"][0]["linuxParameters"] == linux

    @pytest.mark.parametrize(
        ("change", "named"),
        [
            ({"ipcMode": "host"}, "Managed Instances, which refuses ipcMode"),
            (
                {"volumes": [{"name": "certs", "host": {"sourcePath": "/etc/certs"}}]},
                "volume 'certs' with host.sourcePath",
            ),
            (
                {"volumes": [{"name": "cache", "dockerVolumeConfiguration": {"scope": "task"}}]},
                "dockerVolumeConfiguration",
            ),
        ],
    )
    def test_managed_instances_refuse_what_they_do_not_offer(
        self, change: dict[str, Any], named: str
    ) -> None:
        """An IPC mode, host paths and Docker volumes are exit 2 on Managed Instances; a bridge
        reference becomes awsvpc there."""
        reference = copy.deepcopy({**self.EC2_REFERENCE, **change})
        if "volumes" in change:
            point = {"sourceVolume": change["volumes"][0]["name"], "containerPath": "/v"}
            reference["containerDefinitions"][0]["mountPoints"] = [point]
        with pytest.raises(UsageError, match=re.escape(named)):
            build(reference, compatibility=LaunchType.MANAGED_INSTANCES)
        plain = build(self.EC2_REFERENCE, compatibility=LaunchType.MANAGED_INSTANCES)
        assert plain.definition["networkMode"] == "awsvpc"

    def test_a_sidecar_waiting_for_the_app_to_exit_cannot_be_kept(self) -> None:
        """With --with-sidecars, a container waiting for the replaced one to exit (SUCCESS)
        is exit 2 naming both: AWS refuses that wait on the essential one-off container."""
        reference = {
            "family": "app",
            "containerDefinitions": [
                {"name": "migrate", "image": "app:1", "memory": 256, "essential": False},
                {
                    "name": "web",
                    "image": "app:1",
                    "memory": 256,
                    "dependsOn": [{"containerName": "migrate", "condition": "SUCCESS"}],
                },
            ],
        }
        with pytest.raises(
            UsageError, match=r"container 'web' waits for 'migrate' to exit \(SUCCESS\)"
        ):
            build(reference, container="migrate", with_sidecars=True)

    def test_empty_objects_are_judged_after_cleaning(self) -> None:
        """{"initProcessEnabled": null} is an empty object once cleaned: it is not sent."""
        assert cleaned({"linuxParameters": {"initProcessEnabled": None}, "user": "x"}) == {
            "user": "x"
        }

    def test_an_agent_behind_a_pull_through_cache_is_a_sidecar(self) -> None:
        """A Datadog agent pulled through the account's ECR cache is still the Datadog agent."""
        image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/docker-hub/datadog/agent:7"
        assert agent_of(image) == "Datadog agent"
