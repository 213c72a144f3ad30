"""Faults the emulator injects into its answers: throttling, 5xx, slowness, dropped connections.

Real AWS throttles GetLogEvents at about 10 TPS per account, has 5xx blips, and networks drop
connections; moto does none of that. Rules are data (`Fault`) so a test states the scenario in
one line, and the counting (every k-th matching call, at most n times) is deterministic.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass
from typing import Literal

from .calls import Call

FaultKind = Literal["throttle", "http500", "http503", "slow", "drop"]

_DEFAULTS: dict[str, tuple[int, str, str]] = {
    "throttle": (400, "ThrottlingException", "Rate exceeded"),
    "http500": (500, "InternalFailure", "We encountered an internal error. Please try again."),
    "http503": (503, "ServiceUnavailable", "Service is currently unavailable."),
}


@dataclass(frozen=True)
class Fault:
    """One injection rule.

    kinds:
      "throttle"  HTTP 400 with an AWS error (ThrottlingException by default; set `error_code`
                  to e.g. "TooManyRequestsException", "ExpiredTokenException",
                  "AccessDeniedException", and `status` if it is not a 400)
      "http500"   HTTP 500 InternalFailure;  "http503": HTTP 503 ServiceUnavailable
      "slow"      answers normally, `delay` seconds late (the request is processed first)
      "drop"      closes the connection without any response; with `after_processing` the
                  request takes effect first and only the answer is lost
    `operation`/`service` None match everything. `every=k` hits the k-th, 2k-th... matching call;
    `times=n` stops after n hits.
    """

    operation: str | None = None
    kind: FaultKind = "throttle"
    every: int = 1
    times: int | None = None
    delay: float = 0.0
    error_code: str | None = None
    message: str | None = None
    status: int | None = None
    service: str | None = None
    after_processing: bool = False

    def __post_init__(self) -> None:
        """Reject rules that could never fire or would fire nonsensically."""
        if self.every < 1:
            raise ValueError(f"Fault.every must be >= 1, got {self.every}")
        if self.times is not None and self.times < 0:
            raise ValueError(f"Fault.times must be >= 0 or None, got {self.times}")
        if self.delay < 0:
            raise ValueError(f"Fault.delay must be >= 0, got {self.delay}")
        if self.kind == "slow" and self.delay == 0:
            raise ValueError("a 'slow' fault needs a delay")

    def matches(self, call: Call) -> bool:
        """Say whether this rule applies to `call` at all (before counting)."""
        return (self.operation is None or self.operation == call.operation) and (
            self.service is None or self.service == call.service
        )

    def error(self) -> tuple[int, str, str]:
        """Return (HTTP status, error code, message) for the error kinds."""
        status, code, message = _DEFAULTS.get(self.kind, _DEFAULTS["http500"])
        return (self.status or status, self.error_code or code, self.message or message)


class FaultInjector:
    """The active rules and their counters, shared by all request threads."""

    def __init__(self) -> None:
        """Start with no rules."""
        self._lock = threading.Lock()
        self._rules: list[tuple[Fault, list[int]]] = []

    def add(self, fault: Fault) -> None:
        """Append a rule; earlier rules win when several would hit the same call."""
        with self._lock:
            self._rules.append((fault, [0, 0]))

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self._rules.clear()

    def pick(self, call: Call) -> Fault | None:
        """Count `call` against every matching rule and return the first rule that hits it.

        Every matching rule counts the call even when an earlier one hits, so each rule's
        "every k-th" means k-th call to that operation, independent of the other rules.
        """
        hit: Fault | None = None
        with self._lock:
            for fault, counters in self._rules:
                if not fault.matches(call):
                    continue
                counters[0] += 1
                exhausted = fault.times is not None and counters[1] >= fault.times
                if hit is None and not exhausted and counters[0] % fault.every == 0:
                    counters[1] += 1
                    hit = fault
        return hit


def error_response(
    fault: Fault, *, json_protocol: bool
) -> tuple[str, list[tuple[str, str]], bytes]:
    """Build the (status line, headers, body) AWS would send for an error fault.

    JSON-protocol services (ECS, CloudWatch Logs, SSM, Secrets Manager) carry the code in
    `__type`; query and REST services use XML. botocore classifies retries from these.
    """
    status, code, message = fault.error()
    request_id = str(uuid.uuid4())
    if json_protocol:
        body = json.dumps({"__type": code, "message": message}).encode()
        content_type = "application/x-amz-json-1.1"
    else:
        body = (
            "<ErrorResponse><Error><Type>Sender</Type>"
            f"<Code>{code}</Code><Message>{message}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        content_type = "text/xml"
    reasons = {400: "Bad Request", 403: "Forbidden", 500: "Internal Server Error"}
    reason = reasons.get(status, "Service Unavailable" if status == 503 else "Error")
    headers = [
        ("Content-Type", content_type),
        ("Content-Length", str(len(body))),
        ("x-amzn-RequestId", request_id),
        ("x-amzn-ErrorType", code),
    ]
    return (f"{status} {reason}", headers, body)
