"""Section 5: ARM cost without a board, as guest instruction counts under qemu-aarch64.

Emulated time says little about a Cortex-A72, but the number of aarch64 instructions
our runner executes is exact and repeatable, so the binary/float instruction ratio is
the proxy for a Raspberry Pi's speedup until real boards report. Debian's qemu-user
supports TCG plugins but ships none (and no ``qemu-plugin.h``), so the suite compiles
its own ~50-line counting plugin (``qemu_plugin/insn_count.c``) with the host ``cc``
(or zig's, where there is none) into the cache at bench time.

One inference's count is a difference: the runner is counted with ``r`` and with
``r + m`` timed runs (it always runs one more, untimed, first inference), so start-up
(loading the runtime library, preparing the model) drops out. Start-up itself varies
by some hundred instructions from one process to the next, so ``m`` is chosen, from a
first difference with m = 1, to put at least ``target`` (10^8) instructions into each
difference: a model of 40,000 instructions is run 2,500 more times, a network of 2
billion once more. Three invocations at r, r + m, r + 2m give two differences, and so
a spread.

>>> parse_count("insns 12890756\\n")
12890756
>>> per_inference([100, 150, 201], [1, 2, 3])
[50.0, 51.0]
>>> per_inference([100, 1100, 2110], [1, 11, 21])
[100.0, 101.0]
>>> step_for(40_000, 10**8)
2500
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import math
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bgnn_deploy.targets.build import RunnerBuild

__all__ = [
    "CountJob",
    "PluginUnavailable",
    "build_plugin",
    "parse_count",
    "per_inference",
    "plugin_facts",
    "run_counts",
    "step_for",
]

PLUGIN_SOURCE = Path(__file__).resolve().parent / "qemu_plugin" / "insn_count.c"


class PluginUnavailable(RuntimeError):
    """The counting plugin cannot be built or loaded here; the message says why."""


def parse_count(text: str) -> int:
    """The count from the plugin's output file (``insns <n>``)."""
    for line in text.splitlines():
        key, _, value = line.strip().partition(" ")
        if key == "insns" and value.strip().isdigit():
            return int(value)
    raise ValueError(f"no 'insns <count>' line in the plugin's output: {text[:200]!r}")


def per_inference(totals: list[int], runs: list[int]) -> list[float]:
    """Counts of invocations with ``runs`` timed runs each -> the count of one inference,
    once per consecutive pair: (T_b - T_a) / (r_b - r_a)."""
    if len(totals) != len(runs):
        raise ValueError(f"{len(totals)} counts for {len(runs)} invocations")
    if len(totals) < 2:
        raise ValueError("need at least two invocations to difference")
    per = []
    for (ta, ra), (tb, rb) in itertools.pairwise(zip(totals, runs, strict=True)):
        if rb <= ra or tb <= ta:
            raise ValueError(f"instruction counts did not grow with the runs: {totals} {runs}")
        per.append((tb - ta) / (rb - ra))
    return per


def step_for(per_inference_estimate: float, target: float) -> int:
    """Extra runs per difference so that it holds at least ``target`` instructions."""
    if per_inference_estimate <= 0:
        raise ValueError("the estimate must be positive")
    return max(1, math.ceil(target / per_inference_estimate))


def plugin_facts() -> dict:
    """What Debian's qemu-user ships for plugins (recorded in the report)."""
    listed = subprocess.run(
        ["dpkg", "-L", "qemu-user"], capture_output=True, text=True, check=False
    )
    shipped = [p for p in listed.stdout.splitlines() if "plugin" in p.lower()]
    headers = [str(p) for p in Path("/usr/include").rglob("qemu-plugin.h")]
    return {"debian_plugins": shipped, "qemu_plugin_h": headers}


def _compiler() -> list[str]:
    """The host's ``cc``, else zig's (PyPI ``ziglang``, already installed for the runner):
    a fresh Debian has no C compiler unless build tools were installed."""
    cc = shutil.which("cc")
    if cc is not None:
        return [cc]
    try:
        import ziglang  # noqa: F401
    except ImportError:
        raise PluginUnavailable(
            "no C compiler to build the qemu plugin (neither 'cc' nor PyPI 'ziglang')"
        ) from None
    return [sys.executable, "-m", "ziglang", "cc"]


def build_plugin() -> Path:
    """Compile the counting plugin for the host (cached by its source's hash)."""
    from bgnn_deploy.targets.toolchain.cache import cache_dir

    compiler = _compiler()
    source = PLUGIN_SOURCE.read_bytes()
    folder = cache_dir("qemu-plugin", hashlib.sha256(source).hexdigest()[:16])
    lib = folder / "libinsn_count.so"
    if lib.is_file():
        return lib
    tmp = folder / "libinsn_count.so.tmp"
    flags = ["-shared", "-fPIC", "-O2", "-fvisibility=hidden", "-o", str(tmp)]
    done = subprocess.run(
        [*compiler, *flags, str(PLUGIN_SOURCE)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise PluginUnavailable(f"could not build the plugin: {done.stderr.strip()[-400:]}")
    tmp.replace(lib)
    return lib


@dataclass(frozen=True)
class CountJob:
    """Count one model, with at least ``target`` instructions in each difference."""

    name: str
    model: Path
    group: str = ""
    target: float = 1e8
    input_path: Path | None = None  # the runner's --input (else its generated input)


def _count_once(
    build: RunnerBuild, plugin: Path, model: Path, runs: int, input_path: Path | None = None
) -> int:
    from bgnn_deploy.targets.execute import run_runner

    with tempfile.TemporaryDirectory(prefix="bench-count-") as tmp:
        out = Path(tmp) / "count.txt"
        launcher = (*build.target.launcher, "-plugin", f"{plugin},out={out}")
        counted = dataclasses.replace(
            build, target=dataclasses.replace(build.target, launcher=launcher)
        )
        run_runner(
            counted,
            model,
            num_runs=runs,
            warmup_runs=0,
            threads=1,
            input_path=input_path,
            timeout=1800,
        )
        if not out.is_file():
            raise PluginUnavailable("qemu ran the runner but the plugin wrote no count")
        return parse_count(out.read_text())


def _count(build: RunnerBuild, plugin: Path, job: CountJob) -> dict:
    def once(runs: int) -> int:
        return _count_once(build, plugin, job.model, runs, job.input_path)

    first = [once(r) for r in (1, 2)]
    step = step_for(first[1] - first[0], job.target)
    if step == 1:
        runs, totals = [1, 2, 3], [*first, once(3)]
    else:
        runs = [1, 1 + step, 1 + 2 * step]
        totals = [first[0], *(once(r) for r in runs[1:])]
    per = per_inference(totals, runs)
    spread = (max(per) - min(per)) / statistics.median(per)
    return {
        "name": job.name,
        "group": job.group,
        "runs": runs,
        "totals": totals,
        "per_inference": per,
        "median": statistics.median(per),
        "relative_difference": spread,
        "startup_instructions": totals[0] - per[0] * 2,  # two inferences in the r = 1 run
    }


def run_counts(
    build: RunnerBuild,
    jobs: list[CountJob],
    *,
    workers: int = 2,
    say: Callable[[str], None] = lambda _m: None,
) -> list[dict]:
    """Count every job, ``workers`` qemu processes at a time (counts do not depend on
    machine load, so they may run side by side). Results keep the jobs' order."""
    plugin = build_plugin()
    say(f"qemu counts: {len(jobs)} models, {workers} at a time (plugin {plugin})")

    def one(job: CountJob) -> dict:
        result = _count(build, plugin, job)
        say(f"counted {job.name}: {result['median']:,.0f} instructions per inference")
        return result

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, jobs))
