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
import tempfile
from concurrent.futures import ThreadPoolExecutor
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


def build(
    name: str,
    compile_cmd: list[str],
    sources: list[Path],
    libs: list[str],
    version_cmd: list[str] | None = None,
) -> Path:
    """``compile_cmd`` (compiler and flags) over ``sources``, one object per core at a
    time, linked with the same flags and ``libs``; cached under the tool's cache dir,
    keyed by a digest of the command, the compiler's version (``version_cmd``, default
    ``CC --version``) and every source and header of the runner."""
    version = subprocess.run(
        version_cmd or [compile_cmd[0], "--version"], capture_output=True, text=True, check=False
    ).stdout
    digest = hashlib.sha256("\0".join([*compile_cmd[1:], *libs, version]).encode())
    headers = [*RUNNER_DIR.rglob("*.h"), *RUNNER_DIR.rglob("*.inc")]
    for path in sorted({*sources, *headers}):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    binary = cache_dir("test-sanitize") / f"{name}-{digest.hexdigest()[:16]}"
    if binary.is_file():
        return binary
    with tempfile.TemporaryDirectory(dir=binary.parent, prefix=f"{name}.") as tmp:
        objects = [Path(tmp) / f"{i}-{src.stem}.o" for i, src in enumerate(sources)]

        def compile_one(pair: tuple[Path, Path]) -> subprocess.CompletedProcess:
            src, obj = pair
            cmd = [*compile_cmd, "-c", str(src), "-o", str(obj)]
            return subprocess.run(
                cmd, capture_output=True, text=True, errors="replace", check=False
            )

        with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
            done = list(pool.map(compile_one, zip(sources, objects, strict=True)))
        link = [*compile_cmd, "-o", str(Path(tmp) / "out"), *map(str, objects), *libs]
        if all(d.returncode == 0 for d in done):
            done.append(
                subprocess.run(link, capture_output=True, text=True, errors="replace", check=False)
            )
        for d in done:
            if d.returncode != 0:
                raise RuntimeError(f"{' '.join(d.args)}\n{d.stderr[-3000:]}")
        (Path(tmp) / "out").replace(binary)
    return binary


def _build(name: str, main: Path, *, fuzzer: bool) -> Path:
    sanitize = [SANITIZE[0].replace("=", "=fuzzer,") if fuzzer else SANITIZE[0], *SANITIZE[1:]]
    return build(
        name,
        [clang() or "clang", *FLAGS, *sanitize],
        _sources(main, with_ops=fuzzer),
        ["-lm"],
    )


def kernel_tests_binary() -> Path:
    return _build("kernel_tests-asan", RUNNER_DIR / "tests" / "kernel_tests.c", fuzzer=False)


def fuzz_binary() -> Path:
    return _build("fuzz_ops", FUZZ_DIR / "fuzz_ops.c", fuzzer=True)


def _env() -> dict[str, str]:
    # leaks are findings too; abort so that a finding is a failed exit status
    return {**os.environ, "ASAN_OPTIONS": "abort_on_error=1:detect_leaks=1"}


# libFuzzer's RSS limit reads getrusage's ru_maxrss, and Linux keeps a process's peak RSS
# across execve: a fuzzer started straight from this Python process (2+ GiB of RSS in a
# full `make test`, with torch and TensorFlow loaded) began with that peak and stopped at
# once as "out-of-memory (used: 2320Mb)". Started by a shell that forks it, its peak is
# its own (checked: direct 2320 MiB at the first input, via the shell 116 MiB).
_OWN_PEAK_RSS = ["sh", "-c", '"$@"; exit $?', "sh"]


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
        [*_OWN_PEAK_RSS, str(fuzz_binary()), *map(str, files)],
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
        *_OWN_PEAK_RSS,
        str(fuzz_binary()),
        f"-max_total_time={seconds}",
        f"-seed={seed}",
        "-print_final_stats=1",
        # one allocation above 1 GiB is a finding (a model may not make us ask for that),
        # and so is a process above 1 GiB (bounded runs peak at ~135 MiB)
        "-malloc_limit_mb=1024",
        "-rss_limit_mb=1024",
        f"-artifact_prefix={work}/",
        str(corpus),
        str(CORPUS),
        str(REGRESSIONS),
    ]
    if jobs > 1:
        at = len(_OWN_PEAK_RSS) + 1  # after the fuzzer's path
        cmd[at:at] = [f"-fork={jobs}", "-ignore_crashes=0"]
    # ASan keeps up to 256 MiB of freed memory (its quarantine, to catch use after free):
    # a run's RSS climbed from 50 to ~395 MiB within 45 s, ~90 MiB with a 32 MiB quarantine.
    # No input asked for more than 32 MiB in 2 x 45 s (-malloc_limit_mb=32): 64 MiB still
    # holds what many inputs freed.
    env = _env()
    env["ASAN_OPTIONS"] += ":quarantine_size_mb=64"
    return subprocess.run(
        cmd, capture_output=True, text=True, errors="replace", env=env, check=False
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
        from tests.targets import sanitized_runner

        print("== the whole runner under the sanitizers, on converted models and bad inputs")
        with tempfile.TemporaryDirectory(prefix="bgnn-sanitize-") as work:
            models = sanitized_runner.sample_models()
            runner_failures = sanitized_runner.run_all(models, Path(work))
        print(f"== the runner (litert: ASan+UBSan+LSan, tflite-c: UBSan): {runner_failures} failed")
        return int(done.returncode != 0 or again.returncode != 0 or runner_failures != 0)
    done = fuzz(args.seconds, args.work)
    print(done.stderr[-6000:])
    print(f"== fuzzed {args.seconds} s: exit {done.returncode}; new inputs in {args.work}/corpus")
    return int(done.returncode != 0)


if __name__ == "__main__":
    sys.exit(main())
