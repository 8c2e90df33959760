"""Installation facts users rely on: no generic top-level names, Keras 2 selected by us."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_python(code: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("TF_USE_LEGACY_KERAS", "PYTHONPATH")}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_subsystems_live_in_the_bgnn_deploy_tree_only(tmp_path):
    code = (
        "import importlib.util, bgnn_deploy.converters as c, bgnn_deploy.targets as t\n"
        "print(c.__file__); print(t.__file__)\n"
        "print(importlib.util.find_spec('converters'), importlib.util.find_spec('targets'))\n"
    )
    result = run_python(code, tmp_path)
    assert result.returncode == 0, result.stderr
    conv, targ, top = result.stdout.splitlines()
    assert Path(conv) == ROOT / "converters" / "__init__.py"
    assert Path(targ) == ROOT / "targets" / "__init__.py"
    assert top == "None None"


def test_package_selects_keras_2_for_larq(tmp_path):
    result = run_python(
        "import bgnn_deploy, os; print(os.environ['TF_USE_LEGACY_KERAS'])", tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1"


def test_every_python_package_is_listed_for_the_wheel():
    # packages are listed explicitly (package-dir maps converters/ and targets/); one
    # left out installs fine in editable mode and breaks every regular install
    import tomllib

    setup = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(setup["packages"])
    roots = {name: ROOT / folder for name, folder in setup["package-dir"].items()}
    found = set()
    for name, folder in roots.items():
        for init in folder.rglob("__init__.py"):
            parts = init.parent.relative_to(folder).parts
            if not any(p.startswith(".") or p == "__pycache__" for p in parts):
                found.add(".".join((name, *parts)))
    assert found - listed == set()
