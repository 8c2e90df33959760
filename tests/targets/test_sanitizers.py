"""The runner's native code under AddressSanitizer + UndefinedBehaviorSanitizer: the kernel
tests, every input the op fuzzer ever crashed on (each with the error our checks now give),
the committed corpus, a bounded fuzzing run (tests/targets/fuzzing.py), and the whole runner
(main.c and the runtime glue) end to end through both runtime APIs on converted models and
bad inputs (tests/targets/sanitized_runner.py)."""

from __future__ import annotations

import pytest

from tests.targets import fuzz_seeds, fuzzing, sanitized_runner

pytestmark = pytest.mark.skipif(
    fuzzing.clang() is None, reason="clang is not installed (make system-deps installs it)"
)

# fuzz/regressions/<file>: what the harness reports for it now (FUZZ_OPS_VERBOSE); before
# the fix each one crashed under ASan or UBSan
REGRESSIONS = {
    "output-shape-rank-negative": "LceQuantize: input 0 has rank -1",
    "quantize-negative-dims": "LceQuantize: input 0 has dim 0 = -1",
    "knn-tie-rule-unterminated": "BgnnHammingKnn: ran",  # the unterminated string is ignored
    "knn-output-rows-short": "BgnnHammingKnn: output must be int32 [1, 64, 6]",
}
FUZZ_SECONDS = 45


def test_kernel_tests_clean_under_sanitizers():
    done = fuzzing.run_kernel_tests()
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert not fuzzing.findings(done.stdout + done.stderr)
    assert "dispatch picks" in done.stdout


def test_every_regression_is_listed():
    assert sorted(p.name for p in fuzzing.REGRESSIONS.iterdir()) == sorted(REGRESSIONS)


@pytest.mark.parametrize("name", sorted(REGRESSIONS))
def test_fuzz_regression_is_rejected_cleanly(name):
    done = fuzzing.replay([fuzzing.REGRESSIONS / name], verbose=True)
    assert done.returncode == 0, done.stderr[-4000:]
    assert not fuzzing.findings(done.stderr)
    assert REGRESSIONS[name] in done.stderr.splitlines()


def test_corpus_replays_clean():
    files = sorted(fuzzing.CORPUS.iterdir())
    assert len(files) > 100
    done = fuzzing.replay(files)
    assert done.returncode == 0, done.stderr[-4000:]
    assert not fuzzing.findings(done.stderr)


def test_corpus_reaches_every_op_run():
    """The seeds come from real converted models: every op runs on some of them."""
    done = fuzzing.replay(sorted(fuzzing.CORPUS.iterdir()), verbose=True)
    ran = {line.split(":")[0] for line in done.stderr.splitlines() if line.endswith(": ran")}
    assert ran == set(fuzz_seeds.KINDS)  # every op kind the runner has


def test_bounded_fuzzing_finds_nothing(tmp_path):
    done = fuzzing.fuzz(FUZZ_SECONDS, tmp_path)
    crashes = sorted(p.name for p in tmp_path.iterdir() if p.is_file())
    assert done.returncode == 0 and not crashes, (crashes, done.stderr[-6000:])
    assert not fuzzing.findings(done.stderr)
    assert "stat::number_of_executed_units" in done.stderr


RUNNER_CASES = [
    pytest.param(api, case, id=f"{api}-{case.name}")
    for api in ("litert", "tflite-c")
    for case in sanitized_runner.CASES
    if api in case.apis
]


def test_runner_builds_are_sanitized(sanitized_runners):
    """The cases below prove nothing from a build without the sanitizers' runtimes."""
    asan = sanitized_runners["litert"].binary.read_bytes()
    assert b"__asan_report_load" in asan and b"__ubsan_handle" in asan and b"__lsan" in asan
    ubsan = sanitized_runners["tflite-c"].binary.read_bytes()
    assert b"__ubsan_handle" in ubsan and b"\xb7\x00" in ubsan[18:20]  # e_machine: AArch64


@pytest.mark.parametrize(("api", "case"), RUNNER_CASES)
def test_runner_case_under_sanitizers(api, case, sanitized_runners, sanitizer_files):
    """The runner's JSON is the expected success or error (stage, message, exit code), and
    the sanitizers report nothing (leaks included, for litert)."""
    sanitized_runner.check(sanitized_runners[api], case, sanitizer_files[api])


def test_fuzzing_from_a_large_process_measures_its_own_memory(tmp_path):
    """Linux keeps the peak RSS across execve and libFuzzer's RSS limit reads it: started
    straight from a process holding more than the limit (pytest with torch and TF loaded
    holds 2+ GiB), the fuzzer stopped at once as out-of-memory."""
    held = bytearray(1200 << 20)  # above the 1 GiB RSS limit, every page touched
    held[::4096] = b"\1" * len(held[::4096])
    done = fuzzing.fuzz(3, tmp_path)
    del held
    assert done.returncode == 0, done.stderr[-3000:]
    assert "out-of-memory" not in done.stderr
