"""A local AWS for testing ecs-one-off-task: moto over HTTP plus a fake ECS agent.

See `Emulator` for the entry point, `Timeline` for scripting a task's life and `Fault` for
injected failures. This module only re-exports.
"""

from .calls import Call
from .emulator import Emulator
from .faults import Fault, FaultKind
from .logdriver import LogDriver
from .seed import PLANTED_VALUE, Reference, seed_reference
from .timeline import (
    DEFAULT_TIMELINE,
    FailedStart,
    LineRecord,
    LogLine,
    StatusChange,
    TaskRecord,
    Timeline,
    lines_every,
)

__all__ = [
    "DEFAULT_TIMELINE",
    "PLANTED_VALUE",
    "Call",
    "Emulator",
    "FailedStart",
    "Fault",
    "FaultKind",
    "LineRecord",
    "LogDriver",
    "LogLine",
    "Reference",
    "StatusChange",
    "TaskRecord",
    "Timeline",
    "lines_every",
    "seed_reference",
]
