"""Which containers of a task definition are sidecars, not the app. Pure: no I/O.

A real task definition often lists its log router first, and marks its agents essential, so
neither order nor `essential` tells the app apart. A container is a sidecar when it is:

- a FireLens log router (it has `firelensConfiguration`);
- the proxy named by `proxyConfiguration.containerName` (App Mesh's Envoy);
- a well-known agent, by its image's repository: the table `AGENTS` below, the one place to
  add an agent to (the README lists it too).

The image is matched by its repository path, without registry host, tag or digest, so
`public.ecr.aws/aws-observability/aws-for-fluent-bit:stable`, a copy of it in the account's own
ECR and `amazon/aws-for-fluent-bit@sha256:…` are all Fluent Bit; a path is matched as a suffix,
so a pull-through cache's `…/docker-hub/datadog/agent` is the Datadog agent too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Agent -> repository paths (compared whole) and repository names (compared with the last part
# of the path). Names that are too common alone ("agent") appear only as whole paths.
AGENTS: Mapping[str, tuple[frozenset[str], frozenset[str]]] = {
    "Fluent Bit": (
        frozenset({"fluent/fluent-bit"}),
        frozenset({"aws-for-fluent-bit", "fluent-bit"}),
    ),
    "Fluentd": (frozenset({"fluent/fluentd"}), frozenset({"fluentd"})),
    "Datadog agent": (
        frozenset({"datadog/agent", "datadoghq/agent", "datadog/docker-dd-agent"}),
        frozenset(),
    ),
    "AWS X-Ray daemon": (frozenset(), frozenset({"aws-xray-daemon", "xray-daemon"})),
    "OpenTelemetry collector": (
        frozenset(),
        frozenset(
            {
                "aws-otel-collector",
                "opentelemetry-collector",
                "opentelemetry-collector-contrib",
                "splunk-otel-collector",
            }
        ),
    ),
    "CloudWatch agent": (frozenset(), frozenset({"cloudwatch-agent"})),
    "Envoy": (
        frozenset({"envoyproxy/envoy"}),
        frozenset({"aws-appmesh-envoy", "envoy", "ecs-service-connect-agent"}),
    ),
    "New Relic infrastructure agent": (
        frozenset({"newrelic/infrastructure", "newrelic/nri-ecs"}),
        frozenset({"infrastructure-bundle"}),
    ),
    "Dynatrace OneAgent": (frozenset({"dynatrace/oneagent"}), frozenset({"oneagent"})),
    "Grafana agent": (frozenset({"grafana/agent", "grafana/alloy"}), frozenset()),
    "Vector": (frozenset({"timberio/vector"}), frozenset()),
    "Elastic agent": (frozenset({"elastic/elastic-agent"}), frozenset({"elastic-agent"})),
    "Instana agent": (frozenset({"instana/agent"}), frozenset()),
    "Consul": (
        frozenset({"hashicorp/consul", "hashicorp/consul-ecs", "hashicorp/consul-dataplane"}),
        frozenset(),
    ),
    "Sumo Logic collector": (frozenset({"sumologic/collector"}), frozenset()),
}


def repository(image: str) -> str:
    """The repository path of an image reference: no registry host, tag or digest."""
    path = image.split("@", 1)[0].strip().lower()
    head, _, tail = path.rpartition("/")
    if ":" in tail:
        tail = tail.split(":", 1)[0]
    path = f"{head}/{tail}" if head else tail
    first, _, rest = path.partition("/")
    # A registry host has a dot or a port (or is localhost); Docker Hub images have neither.
    if rest and ("." in first or ":" in first or first == "localhost"):
        path = rest
    return path.removeprefix("library/")


def agent_of(image: str) -> str | None:
    """The well-known agent an image is, or None."""
    path = repository(image)
    name = path.rpartition("/")[2]
    for agent, (paths, names) in AGENTS.items():
        if name in names or any(path == p or path.endswith("/" + p) for p in paths):
            return agent
    return None


def sidecar_reason(container: Mapping[str, Any], reference: Mapping[str, Any]) -> str | None:
    """Why `container` of `reference` is a sidecar, or None when it may be the app.

    The reason is "FireLens log router", "proxy of proxyConfiguration" or the agent's name.
    """
    if container.get("firelensConfiguration"):
        return "FireLens log router"
    proxy = reference.get("proxyConfiguration") or {}
    if proxy.get("containerName") and proxy.get("containerName") == container.get("name"):
        return "proxy of proxyConfiguration"
    return agent_of(str(container.get("image") or ""))
