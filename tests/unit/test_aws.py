"""Opening the AWS clients, as a run against real AWS does (no endpoint override)."""

from __future__ import annotations

import pytest

from ecs_one_off_task.aws import Aws
from ecs_one_off_task.config import AwsSettings
from ecs_one_off_task.errors import UsageError


@pytest.fixture(autouse=True)
def no_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real AWS's path: no AWS_ENDPOINT_URL, fake keys (no call is made)."""
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "example")


async def test_known_region_opens_clients_without_an_endpoint() -> None:
    """Without an endpoint override the region is checked and the clients open: the path every
    run against real AWS takes, which no emulator test covers."""
    async with Aws.connect(AwsSettings(region="eu-west-1")) as aws:
        assert aws.region == "eu-west-1"


async def test_unknown_region_is_a_usage_error() -> None:
    """A region the SDK does not know is refused before any call."""
    with pytest.raises(UsageError, match="unknown AWS region 'mars-1'"):
        async with Aws.connect(AwsSettings(region="mars-1")):
            pass  # pragma: no cover
