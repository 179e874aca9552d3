"""Just enough of the protobuf wire format to move ONNX weights without copying them.

``onnx.load`` copies every weight into Python memory, and ``onnx.save`` serializes the
whole model once more; for a 1 GB model that is 2-3 GB of RSS.  Instead, the ONNX
frontend lifts large ``raw_data`` fields out of the file (they stay memory-mapped and
are viewed by numpy in place) and parses only the small skeleton; the ONNX backend
writes the skeleton and streams each weight's bytes after it.  Field numbers are from
onnx.proto: ModelProto.graph = 7, GraphProto.initializer = 5, TensorProto.raw_data = 9.
"""

from __future__ import annotations

MODEL_GRAPH = 7
GRAPH_INITIALIZER = 5
TENSOR_DATA_TYPE = 2
TENSOR_RAW_DATA = 9
VARINT, I64, LEN, I32 = 0, 1, 2, 5


class WireError(ValueError):
    pass


def encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def tag(field: int, wire_type: int) -> bytes:
    return encode_varint((field << 3) | wire_type)


def len_field(field: int, length: int) -> bytes:
    """The header of a length-delimited field (tag + length); the payload follows."""
    return tag(field, LEN) + encode_varint(length)


def _varint(buf, pos: int, end: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= end:
            raise WireError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise WireError("varint too long")


def iter_fields(buf, start: int, end: int):
    """Yield (field, wire_type, field_start, value_start, value_end, varint_value)."""
    pos = start
    while pos < end:
        field_start = pos
        key, pos = _varint(buf, pos, end)
        field, wt = key >> 3, key & 7
        if field == 0:
            raise WireError("field number 0")
        value = None
        if wt == VARINT:
            value, pos2 = _varint(buf, pos, end)
            vstart, pos = pos, pos2
        elif wt == I64:
            vstart, pos = pos, pos + 8
        elif wt == I32:
            vstart, pos = pos, pos + 4
        elif wt == LEN:
            length, vstart = _varint(buf, pos, end)
            pos = vstart + length
        else:
            raise WireError(f"unsupported wire type {wt}")
        if pos > end:
            raise WireError("field runs past the end of its message")
        yield field, wt, field_start, vstart, pos, value


def strip_raw_data(buf, size: int, threshold: int, keep_types=frozenset()):
    """Split a serialized ModelProto into a small skeleton and the places of big weights.

    Returns ``(skeleton_bytes, spans)`` where ``spans[i] = (offset, length)`` gives the
    raw bytes of the i-th top-level initializer whose ``raw_data`` was lifted out (and
    None for initializers left in place).  Tensors whose data type is in ``keep_types``
    are never lifted.
    """
    spans: list[tuple[int, int] | None] = []
    model_parts: list[bytes] = []
    for field, wt, fstart, vstart, vend, _ in iter_fields(buf, 0, size):
        if field != MODEL_GRAPH or wt != LEN:
            model_parts.append(bytes(buf[fstart:vend]))
            continue
        graph_parts: list[bytes] = []
        for gfield, gwt, gfs, gvs, gve, _ in iter_fields(buf, vstart, vend):
            if gfield != GRAPH_INITIALIZER or gwt != LEN:
                graph_parts.append(bytes(buf[gfs:gve]))
                continue
            fields = list(iter_fields(buf, gvs, gve))
            dtype = next((v for f, w, *_, v in fields if f == TENSOR_DATA_TYPE and w == VARINT), 0)
            raw = [(vs, ve) for f, w, _, vs, ve, _ in fields if f == TENSOR_RAW_DATA and w == LEN]
            if len(raw) != 1 or raw[0][1] - raw[0][0] < threshold or dtype in keep_types:
                spans.append(None)
                graph_parts.append(bytes(buf[gfs:gve]))
                continue
            spans.append((raw[0][0], raw[0][1] - raw[0][0]))
            tensor = b"".join(bytes(buf[fs:ve]) for f, w, fs, _, ve, _ in fields if not (f == TENSOR_RAW_DATA and w == LEN))
            graph_parts.append(len_field(GRAPH_INITIALIZER, len(tensor)) + tensor)
        graph = b"".join(graph_parts)
        model_parts.append(len_field(MODEL_GRAPH, len(graph)) + graph)
    return b"".join(model_parts), spans


# the field numbers of onnx.ModelProto
_MODEL_FIELDS = frozenset({1, 2, 3, 4, 5, 6, 7, 8, 14, 20, 25})


def looks_like_model(head: bytes) -> bool:
    """Whether ``head`` (a file's first bytes) starts like a serialized ModelProto: its first
    fields are ModelProto's, up to the graph or three of them."""
    seen = 0
    try:
        for field, _wt, _, _vstart, _vend, _ in iter_fields(head, 0, len(head)):
            if field not in _MODEL_FIELDS:
                return False
            seen += 1
            if field == MODEL_GRAPH or seen >= 3:
                return True
    except WireError:
        return seen > 0  # the head cuts a long field: what came before was ModelProto's
    return seen > 0


def is_model_file(path: str) -> bool:
    """A file whose first bytes look like a ModelProto (see :func:`looks_like_model`)."""
    try:
        with open(path, "rb") as f:
            return looks_like_model(f.read(4096))
    except OSError:
        return False
