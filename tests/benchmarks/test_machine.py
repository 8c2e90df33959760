"""Reading CPU facts from /proc/cpuinfo text of both architectures."""

from __future__ import annotations

from benchmarks.machine import cpu_flags

X86 = "processor\t: 0\nmodel name\t: Intel(R) Xeon(R)\nflags\t\t: fpu sse avx2 avx512f popcnt\n"
ARM = "processor\t: 0\nFeatures\t: fp asimd evtstrm crc32 cpuid\nCPU part\t: 0xd08\n"


def test_cpu_flags_of_x86_and_arm():
    assert cpu_flags(X86) == ["fpu", "sse", "avx2", "avx512f", "popcnt"]
    assert "asimd" in cpu_flags(ARM)
    assert cpu_flags("nothing here") == []


def test_others_busy_subtracts_our_own_cpu_time():
    from benchmarks.machine import CpuSnapshot, others_busy

    start, end = CpuSnapshot(100.0, 5.0, 0.0), CpuSnapshot(118.0, 13.0, 10.0)
    assert others_busy(start, end) == 1.0  # 18 s busy in 10 s, 8 of them ours
    assert others_busy(start, CpuSnapshot(104.0, 13.0, 10.0)) == 0.0  # never negative
    assert others_busy(start, start) == 0.0
