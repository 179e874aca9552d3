"""torch <-> IR element types, and torch tensors as numpy arrays without a copy."""

from __future__ import annotations

import numpy as np
import torch

from mmconvert.ir import dtypes

IR_DTYPE = {
    torch.float32: "float32", torch.float64: "float64", torch.float16: "float16", torch.bfloat16: "bfloat16",
    torch.int8: "int8", torch.int16: "int16", torch.int32: "int32", torch.int64: "int64", torch.uint8: "uint8",
    torch.uint16: "uint16", torch.uint32: "uint32", torch.uint64: "uint64", torch.bool: "bool",
    torch.complex64: "complex64", torch.complex128: "complex128",
    torch.float8_e4m3fn: "float8e4m3fn", torch.float8_e5m2: "float8e5m2",
    torch.float8_e4m3fnuz: "float8e4m3fnuz", torch.float8_e5m2fnuz: "float8e5m2fnuz",
}
TORCH_DTYPE = {v: k for k, v in IR_DTYPE.items()}
# ``--input-dtype`` spellings
DTYPE_NAMES = {**{v: k for k, v in IR_DTYPE.items()}, "float": torch.float32, "double": torch.float64,
               "half": torch.float16, "long": torch.int64, "int": torch.int32}


def np_dtype(name: str) -> np.dtype:
    return dtypes.to_numpy(name)


def to_numpy(t: torch.Tensor) -> np.ndarray:
    """A numpy view of ``t`` (a copy only when it is not contiguous, or lives off the CPU)."""
    t = t.detach()
    if t.device.type != "cpu":
        t = t.cpu()
    if not t.is_contiguous():
        t = t.contiguous()
    dt = IR_DTYPE.get(t.dtype)
    if dt in ("bfloat16", "float8e4m3fn", "float8e5m2", "float8e4m3fnuz", "float8e5m2fnuz"):
        bits = t.view(torch.int16 if dt == "bfloat16" else torch.uint8).numpy()
        return bits.view(np_dtype(dt))
    return t.numpy()


def to_torch(a) -> torch.Tensor:
    """A tensor holding a copy of numpy array ``a`` (bfloat16 and float8 arrays of ml_dtypes
    included, by their bits)."""
    a = np.asarray(a)
    dt = dtypes.of_array(a) if a.dtype.kind == "V" else None  # ml_dtypes' types
    if dt in ("bfloat16", "float8e4m3fn", "float8e5m2", "float8e4m3fnuz", "float8e5m2fnuz"):
        bits = torch.from_numpy(np.ascontiguousarray(a).view(np.int16 if dt == "bfloat16" else np.uint8).copy())
        return bits.view(TORCH_DTYPE[dt])
    return torch.from_numpy(np.array(a))  # a writeable C-order copy; keeps 0-d arrays 0-d
