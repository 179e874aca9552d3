"""Inputs for a parity run: seeded, reproducible, chosen by dtype and by role.

Policy (docs/validation.md):
- symbolic dims take the value given by ``dims={"batch": 2}`` (CLI ``--dim batch=2``); otherwise
  a dim on axis 0 gets 2 and any other unknown dim 16;
- float inputs: standard normal; bool: fair coin;
- integer inputs read as indices by a Gather on a constant table (embeddings): uniform in
  ``[0, table size)``; inputs named like a mask: ones; like a length: within ``[1, dim]``;
  other integers: uniform in ``[0, 10)``;
- inputs that are shapes (read by Reshape, Expand, ConstantOfShape, Tile, Slice, Resize,
  ...) cannot be guessed: give them as data (``.npz`` or a ``test_data_set_N`` folder).
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass

import numpy as np

from mmconvert.ir import dtypes
from mmconvert.ir.errors import InputError
from mmconvert.ir.graph import Graph

SHAPE_SLOTS = {("Reshape", 1), ("Expand", 1), ("ConstantOfShape", 0), ("Tile", 1), ("Slice", 1), ("Slice", 2),
               ("Slice", 3), ("Slice", 4), ("Resize", 2), ("Resize", 3), ("Range", 0), ("Range", 1), ("Range", 2),
               ("OneHot", 1), ("TopK", 1), ("Pad", 1), ("Unsqueeze", 1), ("Squeeze", 1), ("Split", 1)}
_MASK = re.compile(r"mask", re.I)
MAX_ELEMENTS = 1 << 28  # per generated input (1 GiB of float32): a larger one is a shape mistake
_LENGTH = re.compile(r"(^|_)(len|lens|length|lengths|seq_len|sequence_length)s?$", re.I)


@dataclass
class InputSpec:
    name: str
    dtype: str
    shape: list
    role: str  # activation | index | mask | length | integer | bool | string | data

    def to_dict(self):
        return {"name": self.name, "dtype": self.dtype, "shape": self.shape, "role": self.role}


def resolve_shape(shape, dims: dict[str, int]) -> list[int]:
    out = []
    for axis, d in enumerate(shape or ()):
        if isinstance(d, int):
            out.append(d)
        elif isinstance(d, str) and d in dims:
            out.append(int(dims[d]))
        else:
            value = 2 if axis == 0 else 16
            if isinstance(d, str):
                dims[d] = value
            out.append(value)
    return out


def _role(graph: Graph, name: str, dtype: str) -> tuple[str, int | None]:
    """(role, upper bound for indices) of a graph input, from how the graph reads it."""
    for node in graph.consumers(name):
        slots = [i for i, t in enumerate(node.inputs) if t == name]
        for slot in slots:
            if (node.op_type, slot) in SHAPE_SLOTS:
                return "shape", None
            if node.op_type in ("Gather", "GatherElements") and slot == 1:
                table = graph.type_of(node.inputs[0])
                axis = node.attr("axis", 0)
                if table is not None and table.shape and isinstance(table.shape[axis], int):
                    return "index", table.shape[axis]
    if dtype == "bool":
        return "bool", None
    if dtype == "string":
        return "string", None
    if dtype in dtypes.INT_TYPES:
        if _MASK.search(name):
            return "mask", None
        if _LENGTH.search(name):
            return "length", None
        return "integer", None
    return "activation", None


def generate(graph: Graph, *, seed: int = 0, samples: int = 2, dims: dict[str, int] | None = None
             ) -> tuple[list[list[np.ndarray]], list[InputSpec], dict[str, int]]:
    """``samples`` lists of arrays, one per real graph input, plus their specs and the dims used."""
    dims = dict(dims or {})
    specs: list[InputSpec] = []
    plans = []
    for name in graph.real_inputs:
        vt = graph.type_of(name)
        if vt is None or vt.kind != "tensor" or vt.dtype is None:
            raise InputError(f"input '{name}' has no known tensor type; give inputs as data (--inputs)")
        if vt.shape is None:
            raise InputError(f"input '{name}' has an unknown rank; give its shape (--input-shape) or data (--inputs)")
        shape = resolve_shape(vt.shape, dims)
        elements = 1
        for d in shape:
            elements *= d
        if any(d < 0 for d in shape) or elements > MAX_ELEMENTS:
            raise InputError(f"input '{name}' would have shape {shape} ({elements:,} elements), more than the parity"
                             f" check generates ({MAX_ELEMENTS:,})", hint="give smaller symbolic dims (--dim NAME=V)"
                             " or the inputs as data (--inputs data.npz)")
        role, bound = _role(graph, name, vt.dtype)
        if role == "shape":
            raise InputError(f"input '{name}' is read as a shape; give inputs as data (--inputs data.npz)")
        specs.append(InputSpec(name, vt.dtype, shape, role))
        plans.append((vt.dtype, shape, role, bound))
    batches = []
    for s in range(samples):
        rng = np.random.default_rng(seed + s)
        batch = []
        for dtype, shape, role, bound in plans:
            batch.append(np.asarray(_make(rng, dtype, shape, role, bound)))
        batches.append(batch)
    return batches, specs, dims


def _make(rng, dtype: str, shape, role: str, bound: int | None) -> np.ndarray:
    if role == "string":
        words = np.array(["alpha", "beta", "gamma", "delta"], dtype=object)
        return np.asarray(rng.choice(words, size=shape), dtype=object)
    if role == "bool":
        return np.asarray(rng.random(shape) < 0.5)
    npd = dtypes.to_numpy(dtype)
    if role == "index":
        return rng.integers(0, max(bound, 1), size=shape).astype(npd)
    if role == "mask":
        return np.ones(shape, npd)
    if role == "length":
        top = max(shape[-1] if shape else 1, 1)
        return rng.integers(1, top + 1, size=shape).astype(npd)
    if role == "integer":
        low = 0
        return rng.integers(low, 10, size=shape).astype(npd)
    return rng.standard_normal(shape).astype(np.float32).astype(npd)


def load_data(path: str, names: list[str]) -> list[list[np.ndarray]]:
    """User data: an ``.npz`` (keys = input names, or arr_0, arr_1 ... in input order), a
    ``test_data_set_N`` folder (``input_K.pb``), or a folder holding several of them."""
    if not os.path.exists(path):
        raise InputError(f"{path}: no such input data")
    if os.path.isfile(path):
        try:
            data = np.load(path, allow_pickle=False)
        except Exception as e:  # noqa: BLE001
            raise InputError(f"{path}: not an .npz file ({e})") from None
        keys = list(data.keys())
        if all(n in keys for n in names):
            return [[data[n] for n in names]]
        if len(keys) == len(names):
            return [[data[k] for k in keys]]
        raise InputError(f"{path}: has arrays {keys}, the model takes {names}")
    sets = sorted(glob.glob(os.path.join(path, "test_data_set_*"))) or [path]
    import onnx
    from onnx import numpy_helper

    samples = []
    for folder in sets:
        files = sorted(glob.glob(os.path.join(folder, "input_*.pb")), key=lambda p: int(re.findall(r"\d+", os.path.basename(p))[0]))
        if len(files) != len(names):
            raise InputError(f"{folder}: {len(files)} input_*.pb files, the model takes {len(names)} inputs")
        samples.append([numpy_helper.to_array(onnx.load_tensor(f)) for f in files])
    return samples
