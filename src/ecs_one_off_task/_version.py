"""The installed distribution's version, read once."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ecs-one-off-task")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
