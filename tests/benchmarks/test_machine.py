"""Reading CPU facts from /proc/cpuinfo text of both architectures."""

from __future__ import annotations

from benchmarks.machine import cpu_flags

X86 = "processor\t: 0\nmodel name\t: Intel(R) Xeon(R)\nflags\t\t: fpu sse avx2 avx512f popcnt\n"
ARM = "processor\t: 0\nFeatures\t: fp asimd evtstrm crc32 cpuid\nCPU part\t: 0xd08\n"


def test_cpu_flags_of_x86_and_arm():
    assert cpu_flags(X86) == ["fpu", "sse", "avx2", "avx512f", "popcnt"]
    assert "asimd" in cpu_flags(ARM)
    assert cpu_flags("nothing here") == []
