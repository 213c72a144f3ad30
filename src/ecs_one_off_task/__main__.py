"""`python -m ecs_one_off_task`."""

from ecs_one_off_task.cli import main

main()
