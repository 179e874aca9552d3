"""Element types: one canonical lowercase name per ONNX ``TensorProto.DataType``."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper

from .errors import GraphValidationError


class UnknownDTypeError(GraphValidationError, ValueError):
    """An element type no ONNX release defines (a typed error, and still a ValueError)."""

_ONNX_TO_NAME = {
    TensorProto.FLOAT: "float32",
    TensorProto.DOUBLE: "float64",
    TensorProto.FLOAT16: "float16",
    TensorProto.BFLOAT16: "bfloat16",
    TensorProto.INT8: "int8",
    TensorProto.INT16: "int16",
    TensorProto.INT32: "int32",
    TensorProto.INT64: "int64",
    TensorProto.UINT8: "uint8",
    TensorProto.UINT16: "uint16",
    TensorProto.UINT32: "uint32",
    TensorProto.UINT64: "uint64",
    TensorProto.BOOL: "bool",
    TensorProto.STRING: "string",
    TensorProto.COMPLEX64: "complex64",
    TensorProto.COMPLEX128: "complex128",
}
# Types added in later ONNX releases: named after their enum, lowercased.
for _name, _value in TensorProto.DataType.items():
    if _value and _value not in _ONNX_TO_NAME:
        _ONNX_TO_NAME[_value] = _name.lower()

_NAME_TO_ONNX = {v: k for k, v in _ONNX_TO_NAME.items()}

# dtypes the safetensors format knows natively (name -> safetensors code)
SAFETENSORS_CODES = {
    "float64": "F64", "float32": "F32", "float16": "F16", "bfloat16": "BF16",
    "int64": "I64", "int32": "I32", "int16": "I16", "int8": "I8",
    "uint64": "U64", "uint32": "U32", "uint16": "U16", "uint8": "U8", "bool": "BOOL",
    "float8e4m3fn": "F8_E4M3", "float8e5m2": "F8_E5M2",
}
SAFETENSORS_TO_NAME = {v: k for k, v in SAFETENSORS_CODES.items()}

FLOAT_TYPES = frozenset({"float32", "float64", "float16", "bfloat16"})
INT_TYPES = frozenset({"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"})


def from_onnx(elem_type: int) -> str | None:
    """ONNX enum -> canonical name (None for UNDEFINED)."""
    if not elem_type:
        return None
    try:
        return _ONNX_TO_NAME[elem_type]
    except (KeyError, TypeError):
        raise UnknownDTypeError(f"unknown ONNX element type {elem_type}") from None


def to_onnx(name: str | None) -> int:
    if name is None:
        return TensorProto.UNDEFINED
    try:
        return _NAME_TO_ONNX[name]
    except (KeyError, TypeError):
        raise UnknownDTypeError(f"unknown element type '{name}'") from None


def to_numpy(name: str) -> np.dtype:
    """Numpy dtype for a canonical name (ml_dtypes types for bfloat16, float8, int4 ...)."""
    return np.dtype(helper.tensor_dtype_to_np_dtype(to_onnx(name)))


def of_array(array: np.ndarray) -> str:
    """Canonical name of a numpy array's dtype."""
    if array.dtype == object or array.dtype.kind in "SU":
        return "string"
    return from_onnx(helper.np_dtype_to_tensor_dtype(array.dtype))


def all_names() -> list[str]:
    return sorted(_NAME_TO_ONNX)


def is_known(name) -> bool:
    """Whether ``name`` is one of the canonical element type names."""
    return isinstance(name, str) and name in _NAME_TO_ONNX
