"""Every example and every README console command runs as documented."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from bgnn_deploy.cli.main import app

ROOT = Path(__file__).resolve().parent.parent


def test_library_example_trains_above_chance(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "train_and_evaluate.py"), str(tmp_path / "m.pt")],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    accuracy = float(re.search(r"test accuracy ([0-9.]+)", result.stdout).group(1))
    assert accuracy > 0.4  # chance is 0.25
    assert (tmp_path / "m.pt").exists()


def readme_commands() -> list[list[str]]:
    """`bgnn-deploy ...` lines of the README's ```console blocks, in order."""
    text = (ROOT / "README.md").read_text()
    commands = []
    for block in re.findall(r"```console\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            line = line.strip().removeprefix("$ ")
            if line.startswith("bgnn-deploy "):
                commands.append(shlex.split(line)[1:])
    return commands


def test_readme_has_console_examples():
    assert len(readme_commands()) >= 8


def test_readme_console_commands_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    for args in readme_commands():
        result = runner.invoke(app, args)
        assert result.exit_code == 0, f"bgnn-deploy {' '.join(args)}\n{result.output}"
