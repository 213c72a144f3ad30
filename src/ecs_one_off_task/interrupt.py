"""SIGINT and SIGTERM as cancellation: the first ends what the run is doing, a second quits now.

A cancelled pipeline sends SIGTERM; a person presses Ctrl-C. Either way the task must not be
left running unseen (or, for `attach`, must be left running on purpose), so signals never kill
the process outright: they cancel the scope of the current phase, and the phase's own cleanup
(StopTask, the drain) runs in shielded scopes.
"""

from __future__ import annotations

import signal
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio
import structlog
from anyio.abc import TaskStatus

from ecs_one_off_task.errors import EXIT_SIGINT, EXIT_SIGTERM, OneOffTaskError

T = TypeVar("T")

log = structlog.get_logger("ecs_one_off_task")

STOPPING_SAYS = "signal received: stopping the task"
"""What the first signal says while this command's tasks run: it stops them."""

_SIGNAL_EXIT_CODES = {signal.SIGINT: EXIT_SIGINT, signal.SIGTERM: EXIT_SIGTERM}


class Interrupt:
    """Turns SIGINT/SIGTERM into cancellation: the first cancels the phase, a second `hard`."""

    def __init__(self, *, first_says: str = STOPPING_SAYS) -> None:
        """`first_says` is the warning printed on the first signal; it may change as a run goes.

        Before any task exists a signal stops nothing, and the warning must not say it does.
        """
        self.signum: int | None = None
        self.hard = anyio.CancelScope()
        self._phase = anyio.CancelScope()
        self.first_says = first_says

    @property
    def received(self) -> bool:
        """Whether a signal came."""
        return self.signum is not None

    def phase(self) -> anyio.CancelScope:
        """A new scope for what the run does now, for the first signal to cancel."""
        return self.track(anyio.CancelScope())

    def track(self, scope: anyio.CancelScope) -> anyio.CancelScope:
        """Make `scope` the one the first signal cancels (at once if a signal already came)."""
        self._phase = scope
        if self.signum is not None:
            scope.cancel()
        return scope

    @property
    def exit_code(self) -> int:
        """130 for SIGINT, 143 for SIGTERM."""
        assert self.signum is not None  # noqa: S101 - only read after a signal
        return _SIGNAL_EXIT_CODES.get(signal.Signals(self.signum), 128 + self.signum)

    async def listen(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Receive signals until cancelled."""
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            task_status.started()
            async for signum in signals:
                if self.signum is None:
                    self.signum = signum
                    log.warning(self.first_says, signal=signal.strsignal(signum))
                    self._phase.cancel()
                else:
                    log.warning("second signal: quitting without waiting for the logs")
                    self.hard.cancel()

    async def guard(self, body: Callable[[], Awaitable[T]], *, listen: bool = True) -> T | None:
        """Run `body` with signals turned into cancellation; None if a second signal cut it.

        Our errors are raised outside the task group, so that callers see them, not a group.
        """
        result: T | None = None
        failure: OneOffTaskError | None = None
        async with anyio.create_task_group() as signals:
            if listen:
                await signals.start(self.listen)
            try:
                with self.hard:
                    result = await body()
            except OneOffTaskError as error:
                failure = error
            finally:
                signals.cancel_scope.cancel()
        if failure is not None:
            raise failure
        return result
