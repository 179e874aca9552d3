"""Value types: tensors with a dtype and a (possibly symbolic) shape, and the ONNX
container types (sequence, optional, map, sparse tensor) built from them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union

Dim = Union[int, str, None]
KINDS = ("tensor", "sparse_tensor", "sequence", "optional", "map")  # int: static; str: symbolic name; None: unknown, unnamed


@dataclass(frozen=True)
class ValueType:
    """``kind`` is "tensor", "sparse_tensor", "sequence", "optional" or "map".

    Tensors (and sparse tensors) use ``dtype`` and ``shape`` (``shape=None``: rank
    unknown).  Sequences and optionals wrap ``elem``; maps have ``key_dtype`` and ``elem``.
    """

    kind: str = "tensor"
    dtype: str | None = None
    shape: tuple[Dim, ...] | None = None
    elem: "ValueType | None" = None
    key_dtype: str | None = None

    @staticmethod
    def tensor(dtype: str | None, shape=None) -> "ValueType":
        return ValueType("tensor", dtype, None if shape is None else tuple(shape))

    @property
    def is_tensor(self) -> bool:
        return self.kind == "tensor"

    @property
    def rank(self) -> int | None:
        return None if self.shape is None else len(self.shape)

    @property
    def is_static(self) -> bool:
        return self.shape is not None and all(isinstance(d, int) for d in self.shape)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind}
        if self.dtype is not None:
            d["dtype"] = self.dtype
        if self.shape is not None:
            d["shape"] = list(self.shape)
        if self.elem is not None:
            d["elem"] = self.elem.to_dict()
        if self.key_dtype is not None:
            d["key_dtype"] = self.key_dtype
        return d

    @staticmethod
    def from_dict(d: dict[str, Any]) -> "ValueType":
        """Read a ValueType back (raises ValueError on anything an IR document may not hold)."""
        from . import dtypes

        if not isinstance(d, dict) or d.get("kind", "tensor") not in KINDS:
            raise ValueError(f"not a value type: {d!r:.80}")
        for key in ("dtype", "key_dtype"):
            if d.get(key) is not None and not dtypes.is_known(d[key]):
                raise ValueError(f"unknown dtype {d[key]!r:.40}")
        shape = d.get("shape")
        if shape is not None and (not isinstance(shape, list) or not all(
                d_ is None or (isinstance(d_, int) and not isinstance(d_, bool)) or isinstance(d_, str)
                for d_ in shape)):
            raise ValueError(f"malformed shape {shape!r:.80}")
        return ValueType(
            d.get("kind", "tensor"),
            d.get("dtype"),
            None if d.get("shape") is None else tuple(d["shape"]),
            None if d.get("elem") is None else ValueType.from_dict(d["elem"]),
            d.get("key_dtype"),
        )

    def __str__(self) -> str:
        if self.kind in ("tensor", "sparse_tensor"):
            shape = "?" if self.shape is None else "[" + ", ".join("?" if d is None else str(d) for d in self.shape) + "]"
            prefix = "sparse " if self.kind == "sparse_tensor" else ""
            return f"{prefix}{self.dtype or '?'}{shape}"
        if self.kind == "map":
            return f"map({self.key_dtype}, {self.elem})"
        return f"{self.kind}({self.elem})"
