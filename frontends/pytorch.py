"""PyTorch frontend (not built yet): recognizes PyTorch sources so that they get a clear
"unsupported" answer instead of a misleading parse error."""

from __future__ import annotations

import os
import zipfile

from ir.errors import UnsupportedError

NAME = "pytorch"
REQUIRES = "torch"


def detect(source) -> bool:
    """A torch object in memory, or a zip archive laid out as torch.save / torch.export /
    TorchScript write it (``<name>/data.pkl``, ``<name>/archive_format`` ...)."""
    if type(source).__module__.split(".")[0] == "torch":
        return True
    if not isinstance(source, (str, os.PathLike)) or not os.path.isfile(source):
        return False
    try:
        with zipfile.ZipFile(os.fspath(source)) as z:
            names = z.namelist()[:2000]
    except (zipfile.BadZipFile, OSError, ValueError):
        return False
    markers = ("/data.pkl", "/archive_format", "/constants.pkl", "/version", "/byteorder", "/.data/version")
    return any(n.endswith(markers) for n in names) and not any(n == "config.json" for n in names)


def load(source, **_options):
    raise UnsupportedError("the pytorch frontend is not available in this version yet",
                           hint="export the model to ONNX (torch.onnx.export) and convert the .onnx file")
