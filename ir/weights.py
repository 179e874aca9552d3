"""Weights on disk: the safetensors format, written streaming and read memory-mapped.

The format is small and documented (8-byte little-endian header length, a JSON header,
then the raw bytes), so we read and write it directly: a 2 GB model never needs a
second copy in memory, and dtypes safetensors does not know (string aside) are kept
as raw bytes with their real dtype recorded in the header's ``__metadata__``.
"""

from __future__ import annotations

import json
import mmap
import os
import struct
from typing import BinaryIO, Iterable

import numpy as np

from . import dtypes
from .errors import ModelLoadError

_ALIGN = 8
_CHUNK = 64 << 20


def write_array(f: BinaryIO, array: np.ndarray) -> None:
    """Write an array's bytes in C order, little endian, in chunks of at most 64 MB: a view
    (a transposed weight, a memory-mapped slice) is never copied whole."""
    if array.dtype.byteorder == ">":
        array = array.astype(array.dtype.newbyteorder("<"))
    if array.flags.c_contiguous:
        raw = array.reshape(-1).view(np.uint8)
        for start in range(0, raw.size, _CHUNK):
            f.write(memoryview(raw[start:start + _CHUNK]))
        return
    if array.ndim == 0 or array.shape[0] == 0:
        f.write(memoryview(np.ascontiguousarray(array).reshape(-1).view(np.uint8)))
        return
    row = array.nbytes // array.shape[0]
    step = max(1, _CHUNK // max(row, 1))
    for start in range(0, array.shape[0], step):
        block = array[start:start + step]
        if row > _CHUNK and block.ndim > 1:
            for sub in block:
                write_array(f, sub)
        else:
            f.write(memoryview(np.ascontiguousarray(block).reshape(-1).view(np.uint8)))


def save_safetensors(path: str, arrays: Iterable[tuple[str, np.ndarray]], metadata: dict[str, str] | None = None) -> None:
    arrays = list(arrays)
    header: dict[str, object] = {}
    meta = dict(metadata or {})
    offset = 0
    for key, arr in arrays:
        name = dtypes.of_array(arr)
        if name == "string":
            raise ValueError(f"string tensor '{key}' cannot go to safetensors")
        code = dtypes.SAFETENSORS_CODES.get(name)
        shape = list(arr.shape)
        if code is None:  # stored as bytes; the real dtype goes into the metadata
            code, shape = "U8", [int(arr.nbytes)]
            meta[f"dtype:{key}"] = name
        header[key] = {"dtype": code, "shape": shape, "data_offsets": [offset, offset + int(arr.nbytes)]}
        offset += int(arr.nbytes)
    if meta:
        header["__metadata__"] = meta
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % _ALIGN)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(blob)))
        f.write(blob)
        for _, arr in arrays:
            write_array(f, arr)


def load_safetensors(path: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Arrays (read-only views on a memory map of the file) and the metadata."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size < 8:
                raise ModelLoadError(f"{path}: truncated safetensors file")
            mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except FileNotFoundError:
        raise ModelLoadError(f"{path}: file not found") from None
    (n,) = struct.unpack("<Q", mm[:8])
    if 8 + n > size:
        raise ModelLoadError(f"{path}: truncated safetensors header")
    try:
        header = json.loads(mm[8:8 + n])
    except ValueError:
        raise ModelLoadError(f"{path}: not a safetensors file") from None
    if not isinstance(header, dict):
        raise ModelLoadError(f"{path}: not a safetensors file")
    meta = header.pop("__metadata__", {}) or {}
    if not isinstance(meta, dict):
        raise ModelLoadError(f"{path}: malformed safetensors metadata")
    base = 8 + n
    out: dict[str, np.ndarray] = {}
    for key, info in header.items():
        try:
            begin, end = (int(v) for v in info["data_offsets"])
            real = meta.get(f"dtype:{key}")
            name = real or dtypes.SAFETENSORS_TO_NAME[info["dtype"]]
            dt = dtypes.to_numpy(name)
            shape = [int(d) for d in info["shape"]] if real is None else None
        except (KeyError, TypeError, ValueError) as e:
            raise ModelLoadError(f"{path}: malformed entry for tensor '{key}' ({type(e).__name__}: {e})") from None
        if not 0 <= begin <= end or base + end > size:
            raise ModelLoadError(f"{path}: truncated data for tensor '{key}'")
        count = (end - begin) // dt.itemsize if dt.itemsize else 0
        if shape is not None and (any(d < 0 for d in shape) or int(np.prod(shape, dtype=object)) * dt.itemsize != end - begin):
            raise ModelLoadError(f"{path}: tensor '{key}' has {end - begin} bytes for shape {shape}")
        arr = np.frombuffer(mm, dtype=dt, count=count, offset=base + begin) if count else np.zeros(0, dt)
        out[key] = arr.reshape(shape) if shape is not None else arr
    return out, meta
