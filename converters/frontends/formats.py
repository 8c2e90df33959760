"""What kind of file a model file is, from its first bytes (suffixes only where a format
has no magic number: ONNX), so that each file goes to the frontend that reads it and a
file no frontend reads is named for what it is.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp(), "m.tflite")
    >>> _ = p.write_bytes(b"\\x1c\\x00\\x00\\x00TFL3" + bytes(32))
    >>> sniff(p)
    'tflite'
"""

from __future__ import annotations

import zipfile
from pathlib import Path

__all__ = ["FOREIGN", "sniff"]

#: Formats no frontend reads: what they are, and what to do instead.
FOREIGN: dict[str, tuple[str, str]] = {
    "keras-h5": (
        "an HDF5 file (a Keras/Larq .h5 model, or a data set)",
        "Keras and Larq models convert with LCE's own converter (larq_compute_engine."
        "convert_keras_model); the .tflite it writes runs with `bgnn-deploy run`",
    ),
    "keras-v3": (
        "a Keras v3 .keras archive",
        "Keras and Larq models convert with LCE's own converter (larq_compute_engine."
        "convert_keras_model); the .tflite it writes runs with `bgnn-deploy run`",
    ),
    "saved-model": (
        "a TensorFlow SavedModel folder",
        "convert it with LCE's converter (larq_compute_engine.convert_saved_model); the "
        ".tflite it writes runs with `bgnn-deploy run`",
    ),
    "tflite": (
        "a TFLite flatbuffer (already converted)",
        "`bgnn-deploy run FILE --target NAME` measures it as it is; `bgnn-deploy inspect` "
        "lists its ops",
    ),
    "safetensors": (
        "a safetensors file (weights without a graph)",
        "load it into your PyTorch model and export that with torch.onnx.export, or save a "
        "state_dict of the paper's layout and pass --arch",
    ),
    "numpy": (
        "a NumPy array file",
        "a model is a PyTorch checkpoint or an ONNX file; data sets go to --data",
    ),
    "zip": ("a zip archive that is not a PyTorch checkpoint", "unpack it first"),
}


def sniff(path: Path) -> str:
    """``'onnx'``, ``'pytorch'``, a key of :data:`FOREIGN`, ``'folder'`` or ``'unknown'``."""
    path = Path(path)
    if path.is_dir():
        return "saved-model" if (path / "saved_model.pb").is_file() else "folder"
    if path.suffix.lower() == ".onnx":
        return "onnx"
    try:
        with path.open("rb") as f:
            head = f.read(16)
    except OSError:
        return "unknown"
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return "keras-h5"
    if head[4:8] == b"TFL3":
        return "tflite"
    if head.startswith(b"\x93NUMPY"):
        return "numpy"
    if head.startswith(b"PK\x03\x04"):
        return _zip_kind(path)
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "pytorch"  # a pickle: torch.save's legacy format
    if _safetensors_header(path, head):
        return "safetensors"
    return "unknown"


def _zip_kind(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
    except (zipfile.BadZipFile, OSError):
        return "unknown"  # cut short: let the PyTorch reader say what it sees
    if any(n.endswith("data.pkl") for n in names):
        return "pytorch"
    if "config.json" in names and any(n.endswith(".weights.h5") for n in names):
        return "keras-v3"
    if names and all(n.endswith(".npy") for n in names):
        return "numpy"
    return "zip"


def _safetensors_header(path: Path, head: bytes) -> bool:
    """An 8-byte little-endian header length, then a JSON object."""
    size = int.from_bytes(head[:8], "little")
    return 2 <= size <= 100_000_000 and head[8:10] == b'{"'
