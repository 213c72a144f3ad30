"""Opening the AWS clients, as a run against real AWS does (no endpoint override), and how
AWS errors become ours."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from ecs_one_off_task.aws import Aws, _translated
from ecs_one_off_task.config import AwsSettings
from ecs_one_off_task.errors import AwsUnavailable, Throttled, UsageError


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


@pytest.mark.parametrize(
    ("code", "status", "raised"),
    [
        ("ThrottlingException", 400, Throttled),
        ("TooManyRequestsException", 400, Throttled),
        ("RequestLimitExceeded", 400, Throttled),
        ("InternalFailure", 500, AwsUnavailable),
        ("ServiceUnavailable", 503, AwsUnavailable),
    ],
)
def test_throttling_is_told_apart_from_other_failures(
    code: str, status: int, raised: type[AwsUnavailable]
) -> None:
    """Throttling codes become Throttled (the follower and watcher slow their pace); 5xx stay
    plain AwsUnavailable (retried with backoff); both are worth another try."""
    answer = {
        "Error": {"Code": code, "Message": "m"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    with pytest.raises(AwsUnavailable) as caught, _translated("logs:GetLogEvents"):
        raise ClientError(answer, "GetLogEvents")
    assert type(caught.value) is raised
    assert code in str(caught.value)
