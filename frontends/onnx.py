"""ONNX frontend: an ``.onnx`` file, bytes or ``onnx.ModelProto`` -> ``ir.Graph``.

Reads every part of a real ONNX file: raw and typed initializers, external data,
sparse initializers (made dense), value_info shapes, symbolic dims, subgraphs,
model-local functions (inlined), custom domains (kept as they are) and metadata.
Large weights stay memory-mapped from the file (see ``ir.onnx_wire``).  The graph comes
out at the model's own opset; the pipeline's ``normalize`` stage brings it to the
canonical one.

A model file is untrusted: external data is read only through :func:`resolve_external`,
which applies ONNX's own rule (a relative location inside the model's folder, no ``..``,
no link leading out of it).
"""

from __future__ import annotations

import math
import mmap
import os
import stat
import sys
import warnings

import numpy as np
import onnx
from onnx import numpy_helper

from mmconvert.ir import dtypes
from mmconvert.ir.errors import InputError, ModelLoadError
from mmconvert.ir.graph import Graph
from mmconvert.ir.onnx_proto import graph_from_proto, info_text
from mmconvert.ir.onnx_wire import WireError, is_model_file, looks_like_model, strip_raw_data
from mmconvert.ir.opset import CANONICAL_OPSET, check_opsets
from mmconvert.ir.options import Option

NAME = "onnx"
REQUIRES = None
_LIFT_THRESHOLD = 1024  # bytes; smaller raw_data stays in the parsed skeleton
_PACKED = frozenset({onnx.TensorProto.STRING, onnx.TensorProto.INT4, onnx.TensorProto.UINT4,
                     onnx.TensorProto.FLOAT4E2M1, getattr(onnx.TensorProto, "INT2", -1),
                     getattr(onnx.TensorProto, "UINT2", -1)})


def detect(source) -> bool:
    """An ``onnx.ModelProto``, bytes, or a file whose first protobuf fields are ModelProto's."""
    if isinstance(source, onnx.ModelProto):
        return True
    if isinstance(source, (bytes, bytearray)):
        return looks_like_model(bytes(source[:4096]))
    if not isinstance(source, (str, os.PathLike)) or not os.path.isfile(source):
        return False
    return is_model_file(os.fspath(source))


# the options load() takes (name -> Option: what it does): the API refuses any other
OPTIONS = {"infer_shapes": Option("run ONNX shape inference while reading (default True)")}


def load(source, *, infer_shapes: bool = True, trust_source_ops: bool = False) -> Graph:
    """Parse ``source`` (path, bytes or ModelProto) into a validated IR graph at its own opset.
    (``trust_source_ops``, which every frontend takes, changes nothing here: reading an ONNX
    file runs none of its ops.)"""
    reader = _Reader()
    if isinstance(source, onnx.ModelProto):
        model = source
    elif isinstance(source, (bytes, bytearray)):
        model = _parse(bytes(source), "<bytes>")
    else:
        model = reader.open(os.fspath(source))
    graph = reader.build(model, infer=infer_shapes)
    graph.source_files = tuple(reader.files)
    return graph


def _parse(data: bytes, where: str) -> onnx.ModelProto:
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except Exception:
        raise ModelLoadError(f"{where}: not an ONNX model, or the file is truncated") from None
    if model.ir_version <= 0 or not model.HasField("graph"):
        raise ModelLoadError(f"{where}: not an ONNX model (no IR version or no graph)")
    return model


def resolve_external(base_dir: str, location: str, what: str) -> str:
    """The path of an external data file, by ONNX's rule: ``location`` is relative to the
    model's folder and stays inside it (no absolute path, no ``..``, no link leading out),
    and names a regular file.  Anything else is refused (exit 2)."""
    if not isinstance(location, str):
        raise ModelLoadError(f"{what}: external data location is not UTF-8 text")
    if not location:
        raise ModelLoadError(f"{what} is external but names no file")
    if "\0" in location:
        raise ModelLoadError(f"{what}: external data location holds a NUL byte")
    parts = location.replace("\\", "/").split("/")
    if os.path.isabs(location) or location.startswith(("/", "\\")) or (len(location) > 1 and location[1] == ":"):
        raise ModelLoadError(f"{what}: external data location '{location}' is absolute; ONNX only allows a path"
                             " relative to the model's folder")
    if ".." in parts:
        raise ModelLoadError(f"{what}: external data location '{location}' leads out of the model's folder")
    base = os.path.realpath(base_dir)
    full = os.path.realpath(os.path.join(base, *[p for p in parts if p]))
    if not full.startswith(base.rstrip(os.sep) + os.sep):
        raise ModelLoadError(f"{what}: external data location '{location}' resolves outside the model's folder"
                             " (through a link)")
    try:
        st = os.stat(full)
    except FileNotFoundError:
        raise ModelLoadError(f"{what}: external data file '{location}' is missing") from None
    except OSError as e:
        raise ModelLoadError(f"{what}: external data file '{location}' cannot be read ({e.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        raise ModelLoadError(f"{what}: external data location '{location}' is not a regular file")
    return full


class _Reader:
    def __init__(self):
        self.base_dir: str | None = None
        self.path = "<memory>"
        self.lifted: dict[int, np.ndarray] = {}  # index of top-level initializer -> array
        self.files: list[str] = []
        self._maps: dict[str, mmap.mmap] = {}

    # ------------------------------------------------------------ reading
    def open(self, path: str) -> onnx.ModelProto:
        self.path, self.base_dir = path, os.path.dirname(os.path.abspath(path))
        if not os.path.exists(path):
            raise InputError(f"{path}: no such file")
        if os.path.isdir(path):
            raise InputError(f"{path}: is a folder, not an ONNX file")
        if not os.path.isfile(path):
            raise InputError(f"{path}: not a regular file")
        size = os.path.getsize(path)
        if size == 0:
            raise ModelLoadError(f"{path}: empty file")
        self.files.append(os.path.abspath(path))
        mm = self._map(path)
        if sys.byteorder != "little":  # raw_data is little endian; view it in place only here
            return _parse(mm[:], path)
        try:
            skeleton, spans = strip_raw_data(mm, size, _LIFT_THRESHOLD, _PACKED)
        except WireError as e:
            raise ModelLoadError(f"{path}: not an ONNX model, or the file is truncated ({e})") from None
        model = _parse(skeleton, path)
        inits = model.graph.initializer
        if len(spans) != len(inits):
            raise ModelLoadError(f"{path}: not an ONNX model, or the file is truncated")
        for i, span in enumerate(spans):
            if span is not None:
                t = inits[i]
                dt = self._np_dtype(t)
                count = span[1] // dt.itemsize
                if count != _count(t) or span[1] % dt.itemsize:
                    raise ModelLoadError(f"{path}: initializer '{t.name}' has {span[1]} bytes for shape {list(t.dims)}")
                self.lifted[i] = np.frombuffer(mm, dtype=dt, count=count, offset=span[0]).reshape(tuple(t.dims))
        return model

    def _np_dtype(self, t: onnx.TensorProto) -> np.dtype:
        try:
            return dtypes.to_numpy(dtypes.from_onnx(t.data_type))
        except Exception:  # noqa: BLE001 - an element type number ONNX does not define
            raise ModelLoadError(f"{self.path}: tensor '{t.name}' has an unknown element type {t.data_type}") from None

    def _map(self, path: str) -> mmap.mmap:
        if path not in self._maps:
            with open(path, "rb") as f:
                self._maps[path] = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        return self._maps[path]

    def array(self, t: onnx.TensorProto) -> np.ndarray:
        if t.data_location == onnx.TensorProto.EXTERNAL:
            return self._external(t)
        if any(d < 0 for d in t.dims):
            raise ModelLoadError(f"{self.path}: tensor '{t.name}' has a negative dim {list(t.dims)}")
        self._np_dtype(t)
        try:
            return numpy_helper.to_array(t)
        except Exception as e:  # noqa: BLE001
            raise ModelLoadError(f"{self.path}: cannot read tensor '{t.name}': {e}") from None

    def _external(self, t: onnx.TensorProto) -> np.ndarray:
        what = f"{self.path}: tensor '{t.name}'"
        if self.base_dir is None:
            raise ModelLoadError(f"{what} keeps its data in an external file, and an in-memory model has no"
                                 " folder to find it in; load the model from its file")
        info = {e.key: e.value for e in t.external_data}
        full = resolve_external(self.base_dir, info.get("location", ""), what)
        if full not in self.files:
            self.files.append(full)
        dt = self._np_dtype(t)
        shape = tuple(t.dims)
        if any(d < 0 for d in shape):
            raise ModelLoadError(f"{what} has a negative dim {list(shape)}")
        try:
            offset = int(info.get("offset", 0))
            count = _count(t)
            length = int(info.get("length", count * dt.itemsize))
        except ValueError:
            raise ModelLoadError(f"{what}: external data offset/length are not numbers") from None
        size = os.path.getsize(full)
        if offset < 0 or length < 0 or offset + length > size:
            raise ModelLoadError(f"{what}: external data is truncated")
        if t.data_type in _PACKED:  # packed or variable-size: read the bytes and let onnx decode them
            copy = onnx.TensorProto()
            copy.CopyFrom(t)
            del copy.external_data[:]
            copy.data_location = onnx.TensorProto.DEFAULT
            copy.raw_data = bytes(self._map(full)[offset:offset + length])
            try:
                return numpy_helper.to_array(copy)
            except Exception as e:  # noqa: BLE001
                raise ModelLoadError(f"{what}: cannot read its external data: {e}") from None
        if length < count * dt.itemsize:
            raise ModelLoadError(f"{what}: external data is truncated")
        if count == 0:
            return np.zeros(shape, dt)
        return np.frombuffer(self._map(full), dtype=dt, count=count, offset=offset).reshape(shape)

    # ----------------------------------------------------------- building
    def build(self, model: onnx.ModelProto, *, infer: bool) -> Graph:
        opsets = {("" if o.domain == "ai.onnx" else o.domain): o.version for o in model.opset_import}
        check_opsets(opsets)
        if model.functions:
            from onnx import inliner

            try:
                model = inliner.inline_local_functions(model)
            except Exception as e:  # noqa: BLE001 - onnx's inliner raises its own types
                raise ModelLoadError(f"{self.path}: its local functions cannot be inlined: {str(e)[:300]}") from None
        # our own structural and schema checks come first: ONNX's C++ shape inference is not
        # hardened against malformed graphs (a cycle through an ai.onnx.ml node crashes it)
        graph = self._graph(model, opsets)
        if infer:
            inferred = _infer(model)
            if inferred is not model:
                graph = self._graph(inferred, opsets)
        if model.training_info:
            warnings.warn("training_info in the ONNX model is dropped", stacklevel=2)
        return graph

    def _graph(self, model: onnx.ModelProto, opsets: dict[str, int]) -> Graph:
        graph = graph_from_proto(model.graph, self.array, self.lifted)
        graph.opset_imports = dict(opsets)
        graph.opset_imports.setdefault("", CANONICAL_OPSET)  # no default-domain import: no default-domain ops
        for g in graph.iter_graphs():
            g.opset_imports = graph.opset_imports
        graph.metadata = {
            "source_format": "onnx",
            "source_opset": opsets.get("", None),
            "ir_version": model.ir_version,
            "producer_name": info_text(model.producer_name),
            "producer_version": info_text(model.producer_version),
            "domain": info_text(model.domain),
            "model_version": model.model_version,
            "doc_string": info_text(model.doc_string),
            "metadata_props": {info_text(p.key): info_text(p.value) for p in model.metadata_props},
        }
        graph.validate()
        return graph


def _count(t: onnx.TensorProto) -> int:
    return math.prod(int(d) for d in t.dims)


def _infer(model: onnx.ModelProto) -> onnx.ModelProto:
    """ONNX shape inference, best effort and isolated (``ir.passes.infer.infer_model``);
    a model it cannot type is kept as it is."""
    from mmconvert.ir.passes.infer import infer_model

    return infer_model(model) or model
