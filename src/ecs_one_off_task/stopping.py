"""StopTask that gets through: retried while AWS is unavailable, shielded, bounded, once.

It is sent when a run is cancelled, gives up or loses track of its task, so it must survive the
cancellation that caused it, yet never hang the exit; if AWS refuses it, the user is told the
exact command to run.
"""

from __future__ import annotations

import anyio
import structlog

from ecs_one_off_task.aws import Aws
from ecs_one_off_task.errors import AwsUnavailable, OneOffTaskError

log = structlog.get_logger("ecs_one_off_task")

# StopTask must get through even while the run is being cancelled, but not hang the exit.
STOP_TASK_TIMEOUT = 15.0
RETRY_EVERY = 1.0


class TaskStopper:
    """Sends StopTask for the tasks of one cluster, at most once per task."""

    def __init__(self, *, aws: Aws, cluster: str) -> None:
        """Stop tasks of `cluster` through `aws`."""
        self.aws = aws
        self.cluster = cluster
        self._requested: set[str] = set()

    async def stop(self, task_arn: str, reason: str) -> None:
        """StopTask, retried while AWS is unavailable, shielded from cancellation, bounded."""
        if task_arn in self._requested:
            return
        self._requested.add(task_arn)
        by_hand = f"aws ecs stop-task --cluster {self.cluster} --task {task_arn}"
        with anyio.move_on_after(STOP_TASK_TIMEOUT, shield=True) as scope:
            while True:
                try:
                    await self.aws.stop_task(cluster=self.cluster, task_arn=task_arn, reason=reason)
                except AwsUnavailable as error:
                    log.warning("StopTask failed: retrying", error=str(error))
                    await anyio.sleep(RETRY_EVERY)
                    continue
                except OneOffTaskError as error:
                    log.error(
                        "could not stop the task: stop it yourself",
                        error=str(error),
                        command=by_hand,
                    )
                    return
                log.info("StopTask sent", task_arn=task_arn)
                return
        if scope.cancelled_caught:
            log.error("StopTask did not get through in time: stop it yourself", command=by_hand)
