"""Use from CI: the sdist and wheel build, the installed command works, and action.yml runs it.

The wheel is built once per session from the sdist (so the sdist is complete), without network
(hatchling is a dev dependency), and installed into a fresh virtual environment with `--no-deps`;
the dependencies come from this environment's site-packages through a .pth file, since nothing
may be downloaded here.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pytest
import yaml

from ecs_one_off_task import __version__
from tests.emulator import Emulator
from tests.emulator.seed import Reference

REPO_ROOT = Path(__file__).resolve().parents[1]


def run(*command: str | Path, **options: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, check=True, **options
    )


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin/ of a fresh virtual environment with the wheel built from the sdist installed."""
    dist = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "hatchling", "build", "-t", "sdist", "-d", dist, cwd=REPO_ROOT)
    (sdist,) = dist.glob("ecs_one_off_task-*.tar.gz")
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
        "--no-index", "--wheel-dir", dist, sdist)  # fmt: skip
    (wheel,) = dist.glob("ecs_one_off_task-*.whl")
    venv = tmp_path_factory.mktemp("venv")
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index",
        wheel)  # fmt: skip
    site = run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    (Path(site.stdout.strip()) / "_dependencies.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n"
    )
    return venv / "bin"


class TestInstalledCommand:
    def test_version_and_help(self, installed: Path) -> None:
        """The wheel's console script answers --version with the package version, and --help,
        running the installed copy, not this source tree."""
        command = installed / "ecs-one-off-task"
        assert run(command, "--version").stdout == f"ecs-one-off-task {__version__}\n"
        assert "--summary-json FILE" in run(command, "--help").stdout
        where = run(
            installed / "python", "-c", "import ecs_one_off_task; print(ecs_one_off_task.__file__)"
        )
        assert where.stdout.startswith(str(installed.parent))

    def test_runs_a_task(self, installed: Path, emulator: Emulator, reference: Reference) -> None:
        """The installed command runs a task against the emulator to its exit code."""
        del reference
        result = subprocess.run(
            [installed / "ecs-one-off-task", "--task-name", "packaged", "--from-task", "myapp",
             "--cluster", "myEcsCluster", "--image", "myapp:v2", "--poll-interval", "0.1",
             "--drain-grace", "0.2", "--", "true"],
            env=emulator.subprocess_env(),
            capture_output=True,
            text=True,
            check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert result.stdout == "emulator: container started\nemulator: container done\n"


def action() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((REPO_ROOT / "action.yml").read_text())
    return document


class TestAction:
    def test_a_composite_action_with_the_two_outputs(self) -> None:
        """action.yml is a composite action exposing task-arn and exit-code from the step that
        runs the tool, and every input a step reads is declared."""
        spec = action()
        assert spec["runs"]["using"] == "composite"
        assert spec["outputs"] == {
            "task-arn": {
                "description": spec["outputs"]["task-arn"]["description"],
                "value": "${{ steps.run.outputs.task-arn }}",
            },
            "exit-code": {
                "description": spec["outputs"]["exit-code"]["description"],
                "value": "${{ steps.run.outputs.exit-code }}",
            },
        }
        read = {
            name
            for step in spec["runs"]["steps"]
            for value in step.get("env", {}).values()
            for name in re.findall(r"\$\{\{ inputs\.([a-z-]+) \}\}", value)
        }
        assert read == set(spec["inputs"])

    def test_the_run_step_runs_the_tool(
        self,
        emulator: Emulator,
        reference: Reference,
        tmp_path: Path,
    ) -> None:
        """The run step, as the runner would run it with the inputs in its environment, splits
        command and args like a shell, runs the tool, and leaves the step outputs."""
        del reference
        step = next(s for s in action()["runs"]["steps"] if s.get("id") == "run")
        outputs = tmp_path / "output"
        inputs = {
            "task-name": "from-action",
            "from-task": "myapp",
            "from-service": "",
            "cluster": "myEcsCluster",
            "image": "myapp:v2",
            "command": "sh -c 'exit 0'",
            "args": "--poll-interval 0.1 --drain-grace '0.2'",
            "summary-json": str(tmp_path / "summary.json"),
        }
        env = emulator.subprocess_env() | {
            name: inputs[re.findall(r"inputs\.([a-z-]+)", value)[0]]
            for name, value in step["env"].items()
        }
        env |= {
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}",
            "GITHUB_ACTIONS": "true",
            "GITHUB_OUTPUT": str(outputs),
            "RUNNER_TEMP": str(tmp_path),
        }
        result = subprocess.run(
            ["bash", "-c", step["run"]], env=env, capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stderr
        assert re.fullmatch(r"task-arn=arn:aws:ecs:\S+\nexit-code=0\n", outputs.read_text())
        assert (tmp_path / "summary.json").exists()
        run_task = emulator.calls_to("RunTask")[-1].params
        assert run_task["taskDefinition"].endswith("task-definition/from-action:1")
        definition = emulator.boto3_client("ecs").describe_task_definition(
            taskDefinition="from-action"
        )["taskDefinition"]
        assert definition["containerDefinitions"][0]["command"] == ["sh", "-c", "exit 0"]
