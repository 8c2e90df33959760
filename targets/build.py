"""`bgnn-deploy build --target NAME`: the runner binary and runtime library for a target."""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path

from bgnn_deploy.targets.profiles import TargetProfile, get_target
from bgnn_deploy.targets.toolchain.compiler import compile_runner
from bgnn_deploy.targets.toolchain.runtimes import fetch_runtime

from bgnn_deploy.progress import StageFn, Stages

__all__ = ["RunnerBuild", "build_runner"]


@dataclass(frozen=True)
class RunnerBuild:
    target: TargetProfile
    runner: Path
    runtime_library: Path
    runtime_sha256: str
    runtime_version: str

    def to_dict(self) -> dict:
        return {
            "target": self.target.name,
            "arch": self.target.arch,
            "emulated": self.target.emulated,
            "runner": str(self.runner),
            "runtime_library": str(self.runtime_library),
            "runtime_sha256": self.runtime_sha256,
            "runtime": self.runtime_version,
        }


def build_runner(target: str | TargetProfile, *, progress: StageFn | None = None) -> RunnerBuild:
    """Compile (or reuse) the runner and fetch (or reuse) the runtime for ``target``;
    ``progress`` hears each of the two stages start and end (:mod:`bgnn_deploy.progress`)."""
    profile = get_target(target)
    native = profile.arch == platform.machine() and not profile.launcher
    stages = Stages(progress)
    with stages.stage(f"fetching {profile.runtime} for {profile.arch}"):
        runtime = fetch_runtime(profile.runtime, profile.arch)
    with stages.stage(f"compiling the runner for {profile.arch}"):
        runner = compile_runner(profile.arch, native=native)
    return RunnerBuild(
        profile, runner, runtime.path, runtime.sha256, f"{runtime.package} {runtime.version}"
    )
