"""TensorFlow / Keras frontend (not built yet): recognizes TensorFlow sources so that they
get a clear "unsupported" answer instead of a misleading parse error."""

from __future__ import annotations

import os
import zipfile

from ir.errors import UnsupportedError

NAME = "tensorflow"
REQUIRES = "tensorflow"
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def detect(source) -> bool:
    """A keras / tensorflow object in memory, a SavedModel folder, a Keras 3 ``.keras`` zip
    (``config.json`` + weights) or an HDF5 file."""
    if type(source).__module__.split(".")[0] in ("keras", "tensorflow", "tf_keras"):
        return True
    if not isinstance(source, (str, os.PathLike)):
        return False
    path = os.fspath(source)
    if os.path.isdir(path):
        return os.path.isfile(os.path.join(path, "saved_model.pb"))
    if not os.path.isfile(path):
        return False
    try:
        with open(path, "rb") as f:
            head = f.read(8)
        if head == _HDF5_MAGIC:
            return True
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist()[:2000])
        return "config.json" in names and any(n.endswith(".weights.h5") or n == "model.weights.h5" for n in names)
    except (zipfile.BadZipFile, OSError, ValueError):
        return False


def load(source, **_options):
    raise UnsupportedError("the tensorflow frontend is not available in this version yet",
                           hint="export the model to ONNX (tf2onnx) and convert the .onnx file")
