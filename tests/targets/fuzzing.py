"""The runner's native code under AddressSanitizer + UndefinedBehaviorSanitizer (Debian's
clang: zig's has no ASan runtime): the kernel tests, and a libFuzzer harness over the ops'
custom options and tensors (targets/runner/fuzz/fuzz_ops.c). Builds are cached, keyed by a
digest of their sources.

    python -m tests.targets.fuzzing sanitize        # `make sanitize`
    python -m tests.targets.fuzzing fuzz --seconds 600   # `make fuzz`
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from bgnn_deploy.targets.toolchain.cache import cache_dir
from bgnn_deploy.targets.toolchain.compiler import RUNNER_DIR

FUZZ_DIR = RUNNER_DIR / "fuzz"
CORPUS = FUZZ_DIR / "corpus"
REGRESSIONS = FUZZ_DIR / "regressions"
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]
FLAGS = ["-std=c11", "-D_GNU_SOURCE", "-O1", "-g", "-pthread"]
# what the sanitizers print on a finding (with -fno-sanitize-recover the process also fails)
FINDINGS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: libFuzzer", "deadly signal")


def clang() -> str | None:
    return shutil.which("clang")


def _sources(main: Path, with_ops: bool) -> list[Path]:
    core = sorted((RUNNER_DIR / "core").glob("*.c"))
    ops = [RUNNER_DIR / "ops" / "op_impl.c", RUNNER_DIR / "flexbuffers.c"] if with_ops else []
    return [main, *ops, *core]


def _build(name: str, main: Path, *, fuzzer: bool) -> Path:
    sources = _sources(main, with_ops=fuzzer)
    digest = hashlib.sha256(" ".join([*SANITIZE, *FLAGS, str(fuzzer)]).encode())
    headers = [*RUNNER_DIR.rglob("*.h"), *RUNNER_DIR.rglob("*.inc")]
    for path in sorted({*sources, *headers}):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    binary = cache_dir("test-sanitize") / f"{name}-{digest.hexdigest()[:16]}"
    if binary.is_file():
        return binary
    tmp = binary.with_name(f"{binary.name}.{os.getpid()}.tmp")
    sanitize = [SANITIZE[0].replace("=", "=fuzzer,") if fuzzer else SANITIZE[0], *SANITIZE[1:]]
    cmd = [clang() or "clang", *FLAGS, *sanitize, "-o", str(tmp), *map(str, sources), "-lm"]
    done = subprocess.run(cmd, capture_output=True, text=True, errors="replace", check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}\n{done.stderr[-3000:]}")
    tmp.replace(binary)
    return binary


def kernel_tests_binary() -> Path:
    return _build("kernel_tests-asan", RUNNER_DIR / "tests" / "kernel_tests.c", fuzzer=False)


def fuzz_binary() -> Path:
    return _build("fuzz_ops", FUZZ_DIR / "fuzz_ops.c", fuzzer=True)


def _env() -> dict[str, str]:
    # leaks are findings too; abort so that a finding is a failed exit status
    return {**os.environ, "ASAN_OPTIONS": "abort_on_error=1:detect_leaks=1"}


def run_kernel_tests() -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(kernel_tests_binary())],
        capture_output=True,
        text=True,
        errors="replace",
        env=_env(),
        check=False,
    )


def replay(files: list[Path], *, verbose: bool = False) -> subprocess.CompletedProcess:
    """Each file through the harness once (no fuzzing)."""
    env = _env() | ({"FUZZ_OPS_VERBOSE": "1"} if verbose else {})
    return subprocess.run(
        [str(fuzz_binary()), *map(str, files)],
        capture_output=True,
        text=True,
        errors="replace",
        env=env,
        check=False,
    )


def fuzz(seconds: int, work: Path, *, seed: int = 1, jobs: int = 1) -> subprocess.CompletedProcess:
    """libFuzzer for `seconds` from the committed corpus and regressions; new inputs go to
    work/corpus, a crashing input to work/crash-* (libFuzzer's artifact)."""
    corpus = work / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    cmd = [
        str(fuzz_binary()),
        f"-max_total_time={seconds}",
        f"-seed={seed}",
        "-print_final_stats=1",
        # one allocation above 1 GiB is a finding (a model may not make us ask for that);
        # the process as a whole may hold up to 4 GiB: ASan's quarantine and size-class
        # caches keep freed memory, and one 45 s run from a clean clone peaked at 2.4 GiB
        # (libFuzzer's default limit is 2 GiB) with no single allocation above 256 MiB
        "-malloc_limit_mb=1024",
        "-rss_limit_mb=4096",
        f"-artifact_prefix={work}/",
        str(corpus),
        str(CORPUS),
        str(REGRESSIONS),
    ]
    if jobs > 1:
        cmd[1:1] = [f"-fork={jobs}", "-ignore_crashes=0"]
    return subprocess.run(
        cmd, capture_output=True, text=True, errors="replace", env=_env(), check=False
    )


def findings(output: str) -> list[str]:
    return [line for line in output.splitlines() if any(f in line for f in FINDINGS)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["sanitize", "fuzz"])
    parser.add_argument("--seconds", type=int, default=600)
    parser.add_argument("--work", type=Path, default=Path("out/fuzz"))
    args = parser.parse_args()
    if not clang():
        print("error: clang is not installed (make system-deps installs it)", file=sys.stderr)
        return 2
    if args.mode == "sanitize":
        done = run_kernel_tests()
        print(done.stdout[-2000:], done.stderr[-4000:], sep="")
        print(f"== kernel tests under ASan+UBSan: exit {done.returncode}")
        files = sorted([*CORPUS.iterdir(), *REGRESSIONS.iterdir()])
        again = replay(files)
        print(again.stderr[-4000:] if again.returncode else "", end="")
        print(
            f"== {len(files)} corpus and regression inputs under ASan+UBSan:"
            f" exit {again.returncode}"
        )
        return int(done.returncode != 0 or again.returncode != 0)
    done = fuzz(args.seconds, args.work)
    print(done.stderr[-6000:])
    print(f"== fuzzed {args.seconds} s: exit {done.returncode}; new inputs in {args.work}/corpus")
    return int(done.returncode != 0)


if __name__ == "__main__":
    sys.exit(main())
