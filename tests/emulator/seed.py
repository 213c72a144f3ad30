"""The resources a real account running "myapp" on ECS would have, created in the emulator.

The tool copies its one-off task definition from a reference (`--from-task myapp`): to test that
copy honestly the reference must carry everything a production Rails service has (secrets from
SSM and Secrets Manager, an S3 environment file, two IAM roles, awslogs), and the cluster must
be able to place tasks (moto needs a registered container instance for the EC2 launch type).
Created over HTTP with boto3, as an operator would, so the calls look like AWS's own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .emulator import Emulator

PLANTED_VALUE = "planted-5d41402abc4b2a76"
"""An environment value only the reference task definition carries: copies must keep it."""

DATABASE_URL = "postgres://myapp:s3cret@db.internal:5432/myapp_production"
SECRET_KEY_BASE = "0123456789abcdef" * 8
ENV_FILE_BODY = b"FEATURE_FLAGS=new_checkout\nWEB_CONCURRENCY=2\n"
AMI_ID = "ami-760aaa0f"
"""An Amazon Linux AMI from moto's built-in list; DescribeImages would cost ~1 s per seed."""

_ECS_TASKS_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


@dataclass(frozen=True)
class Reference:
    """Names and ARNs of what `seed_reference` created."""

    cluster: str
    cluster_arn: str
    family: str
    task_definition_arn: str
    container_name: str
    log_group: str
    fargate_family: str
    fargate_task_definition_arn: str
    container_instance_arns: tuple[str, ...]
    instance_ids: tuple[str, ...]
    execution_role_arn: str
    task_role_arn: str
    database_url_parameter_arn: str
    secret_key_base_arn: str
    config_bucket: str
    env_file_arn: str
    subnets: tuple[str, ...]
    security_group_id: str
    spot_cluster: str
    """A cluster whose default capacity provider strategy is FARGATE_SPOT."""
    planted_value: str = PLANTED_VALUE
    fargate_service: str = "web"
    """FARGATE, two subnets, platform 1.4.0, ECS Exec on; task definition myapp-fargate."""
    spot_service: str = "worker"
    """Capacity providers FARGATE_SPOT:3 and FARGATE:1:1, one subnet, a public IP."""
    ec2_service: str = "legacy"
    """EC2 launch type, bridge network; task definition myapp."""

    @property
    def awsvpc_configuration(self) -> dict[str, Any]:
        """The RunTask networkConfiguration a FARGATE task of this account would use."""
        return {
            "awsvpcConfiguration": {
                "subnets": list(self.subnets),
                "securityGroups": [self.security_group_id],
                "assignPublicIp": "DISABLED",
            }
        }


def _container_definition(
    *, family: str, reference: dict[str, str], log_group: str, region: str
) -> dict[str, Any]:
    return {
        "name": family,
        "image": f"{family}:v1",
        "essential": True,
        "command": ["bundle", "exec", "rails", "server", "-b", "0.0.0.0"],  # noqa: S104 - data
        "cpu": 256,
        "memory": 512,
        "memoryReservation": 256,
        # No hostPort: dynamic ports, so several tasks fit on one container instance.
        "portMappings": [{"containerPort": 3000, "protocol": "tcp"}],
        "environment": [
            {"name": "RAILS_ENV", "value": "production"},
            {"name": "PLANTED_VALUE", "value": PLANTED_VALUE},
        ],
        "secrets": [
            {"name": "DATABASE_URL", "valueFrom": reference["parameter"]},
            {"name": "SECRET_KEY_BASE", "valueFrom": reference["secret"]},
        ],
        "environmentFiles": [{"value": reference["env_file"], "type": "s3"}],
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": log_group,
                "awslogs-region": region,
                "awslogs-stream-prefix": "web",
            },
        },
    }


def _role(iam: Any, name: str) -> str:
    """Create an ECS task role, or return the existing one (the execution role is account-wide)."""
    try:
        arn: str = iam.create_role(RoleName=name, AssumeRolePolicyDocument=_ECS_TASKS_TRUST)[
            "Role"
        ]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        arn = iam.get_role(RoleName=name)["Role"]["Arn"]
    return arn


def seed_reference(
    emu: Emulator,
    *,
    cluster: str = "myEcsCluster",
    family: str = "myapp",
    container_instances: int = 1,
) -> Reference:
    """Create the reference account: cluster, capacity, roles, secrets, env file, task definitions.

    One container instance (4096 CPU units, 7482 MiB in moto) fits 14 tasks of 512 MiB; pass more
    `container_instances` for benchmarks that keep many tasks running at once. Several references
    can live side by side under different `cluster`/`family` names; the same family twice cannot.
    """
    region = emu.region
    ecs, ec2, iam = emu.boto3_client("ecs"), emu.boto3_client("ec2"), emu.boto3_client("iam")
    ssm, secrets, s3 = (
        emu.boto3_client("ssm"),
        emu.boto3_client("secretsmanager"),
        emu.boto3_client("s3"),
    )
    logs = emu.boto3_client("logs")

    # FARGATE and FARGATE_SPOT are available, but nothing is the default: tasks go to EC2
    # unless asked, as the original script did.
    cluster_arn = ecs.create_cluster(
        clusterName=cluster, capacityProviders=["FARGATE", "FARGATE_SPOT"]
    )["cluster"]["clusterArn"]
    spot_cluster = f"{cluster}-spot"
    ecs.create_cluster(
        clusterName=spot_cluster,
        capacityProviders=["FARGATE", "FARGATE_SPOT"],
        defaultCapacityProviderStrategy=[{"capacityProvider": "FARGATE_SPOT", "weight": 1}],
    )
    reservation = ec2.run_instances(
        ImageId=AMI_ID,
        MinCount=container_instances,
        MaxCount=container_instances,
        InstanceType="m5.large",
    )
    instance_ids = tuple(i["InstanceId"] for i in reservation["Instances"])
    instance_arns = tuple(
        ecs.register_container_instance(
            cluster=cluster, instanceIdentityDocument=json.dumps({"instanceId": instance_id})
        )["containerInstance"]["containerInstanceArn"]
        for instance_id in instance_ids
    )

    execution_role_arn = _role(iam, "ecsTaskExecutionRole")
    task_role_arn = _role(iam, f"{family}TaskRole")

    parameter_name = f"/{family}/DATABASE_URL"
    ssm.put_parameter(Name=parameter_name, Value=DATABASE_URL, Type="SecureString")
    parameter_arn = ssm.get_parameter(Name=parameter_name)["Parameter"]["ARN"]
    secret_arn = secrets.create_secret(
        Name=f"{family}/SECRET_KEY_BASE", SecretString=SECRET_KEY_BASE
    )["ARN"]
    bucket = f"{family}-config"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=f"{family}.env", Body=ENV_FILE_BODY)
    env_file_arn = f"arn:aws:s3:::{bucket}/{family}.env"

    log_group = f"/ecs/{family}"
    logs.create_log_group(logGroupName=log_group)
    reference = {"parameter": parameter_arn, "secret": secret_arn, "env_file": env_file_arn}
    container = _container_definition(
        family=family, reference=reference, log_group=log_group, region=region
    )
    task_definition_arn = ecs.register_task_definition(
        family=family,
        executionRoleArn=execution_role_arn,
        taskRoleArn=task_role_arn,
        networkMode="bridge",
        requiresCompatibilities=["EC2"],
        containerDefinitions=[container],
        tags=[{"key": "app", "value": family}],
    )["taskDefinition"]["taskDefinitionArn"]

    # FARGATE: moto needs container-level memory too (task-level only crashes its run_task),
    # and awsvpc tasks need subnets plus a security group.
    fargate_family = f"{family}-fargate"
    fargate_task_definition_arn = ecs.register_task_definition(
        family=fargate_family,
        executionRoleArn=execution_role_arn,
        taskRoleArn=task_role_arn,
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        containerDefinitions=[container | {"name": fargate_family}],
    )["taskDefinition"]["taskDefinitionArn"]
    default_vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])
    vpc_id = default_vpc["Vpcs"][0]["VpcId"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
    security_group_id = ec2.create_security_group(
        GroupName=f"{family}-tasks", Description=f"{family} one-off tasks", VpcId=vpc_id
    )["GroupId"]
    subnet_ids = sorted(s["SubnetId"] for s in subnets)
    _services(
        ecs,
        cluster=cluster,
        family=family,
        subnets=subnet_ids,
        security_group_id=security_group_id,
    )

    return Reference(
        cluster=cluster,
        cluster_arn=cluster_arn,
        family=family,
        task_definition_arn=task_definition_arn,
        container_name=family,
        log_group=log_group,
        fargate_family=fargate_family,
        fargate_task_definition_arn=fargate_task_definition_arn,
        container_instance_arns=instance_arns,
        instance_ids=instance_ids,
        execution_role_arn=execution_role_arn,
        task_role_arn=task_role_arn,
        database_url_parameter_arn=parameter_arn,
        secret_key_base_arn=secret_arn,
        config_bucket=bucket,
        env_file_arn=env_file_arn,
        subnets=tuple(subnet_ids),
        security_group_id=security_group_id,
        spot_cluster=spot_cluster,
    )


def _services(
    ecs: Any, *, cluster: str, family: str, subnets: list[str], security_group_id: str
) -> None:
    """The app's services, as teams run them: Fargate, capacity providers, plain EC2."""
    ecs.create_service(
        cluster=cluster,
        serviceName="web",
        taskDefinition=f"{family}-fargate",
        desiredCount=2,
        launchType="FARGATE",
        platformVersion="1.4.0",
        enableExecuteCommand=True,
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": subnets[:2],
                "securityGroups": [security_group_id],
                "assignPublicIp": "DISABLED",
            }
        },
    )
    ecs.create_service(
        cluster=cluster,
        serviceName="worker",
        taskDefinition=f"{family}-fargate",
        desiredCount=1,
        capacityProviderStrategy=[
            {"capacityProvider": "FARGATE_SPOT", "weight": 3},
            {"capacityProvider": "FARGATE", "weight": 1, "base": 1},
        ],
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": subnets[:1],
                "securityGroups": [security_group_id],
                "assignPublicIp": "ENABLED",
            }
        },
    )
    ecs.create_service(
        cluster=cluster,
        serviceName="legacy",
        taskDefinition=family,
        desiredCount=1,
        launchType="EC2",
    )
