"""IR folder save/load is bit-exact: same structure, identical weight bytes."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import conformance as C
from mmconvert import ir
import mmconvert
from mmconvert.ir.serialize import to_document


def _assert_same(a: ir.Graph, b: ir.Graph) -> None:
    doc_a, arrays_a = to_document(a)
    doc_b, arrays_b = to_document(b)
    assert json.dumps(doc_a, sort_keys=True) == json.dumps(doc_b, sort_keys=True)
    assert [k for k, _ in arrays_a] == [k for k, _ in arrays_b]
    for (key, x), (_, y) in zip(arrays_a, arrays_b):
        assert x.dtype == y.dtype and x.shape == y.shape, key
        assert np.ascontiguousarray(x).tobytes() == np.ascontiguousarray(y).tobytes(), key


@pytest.mark.parametrize("name", sorted(C.node_cases()))
def test_node_case_ir_folder_bit_exact(name, tmp_path):
    case = C.node_cases()[name]
    try:
        graph = mmconvert.load(case.model)
    except ir.MMConvertError as e:
        pytest.skip(f"not loadable: {e}")
    ir.save(graph, tmp_path / "ir")
    _assert_same(graph, ir.load(tmp_path / "ir"))


@pytest.mark.parametrize("path", C.light_models(), ids=lambda p: os.path.basename(p)[:-5])
def test_light_model_ir_folder_bit_exact_and_readable_by_safetensors(path, tmp_path):
    from safetensors.numpy import load_file

    graph = mmconvert.load(path)
    ir.save(graph, tmp_path / "ir")
    back = ir.load(tmp_path / "ir")
    _assert_same(graph, back)
    theirs = load_file(str(tmp_path / "ir" / "weights.safetensors"))
    for name, arr in graph.initializers.items():
        np.testing.assert_array_equal(theirs[name], arr)
    # and the reloaded IR still converts to a model that reproduces the expected output
    case = C.light_case(path)
    mmconvert.save(back, tmp_path / "m.onnx")
    C.check_outputs(C.run_model(str(tmp_path / "m.onnx"), case.model, case.data_sets[0][0]),
                    case.data_sets[0][1], case.rtol, case.atol)


def test_exotic_dtypes_round_trip(tmp_path):
    from mmconvert.ir import dtypes

    g = ir.Graph("g")
    for name in ("bfloat16", "float8e4m3fnuz", "float8e5m2", "int4", "uint4", "float4e2m1", "complex64", "bool", "float16"):
        dt = dtypes.to_numpy(name)
        raw = np.arange(6, dtype=np.uint8).astype(np.float32) if dt.kind not in "bc" else np.array([0, 1, 0, 1, 1, 0])
        g.initializers[name] = raw.astype(dt).reshape(2, 3)
    g.initializers["strings"] = np.array([b"a", b"\xff\x00", b"longer text"], dtype=object)
    ir.save(g, tmp_path / "ir")
    back = ir.load(tmp_path / "ir")
    for name, arr in g.initializers.items():
        got = back.initializers[name]
        assert got.dtype == arr.dtype and got.shape == arr.shape, name
        if arr.dtype == object:
            assert list(got) == list(arr)
        else:
            assert got.tobytes() == arr.tobytes(), name


def test_weights_are_memory_mapped(tmp_path):
    g = ir.Graph("g")
    g.initializers["w"] = np.random.default_rng(0).standard_normal((256, 256)).astype(np.float32)
    ir.save(g, tmp_path / "ir")
    w = ir.load(tmp_path / "ir").initializers["w"]
    assert not w.flags.owndata and not w.flags.writeable  # a view on the mapped file


def test_save_is_atomic_and_replaces_only_with_force(tmp_path):
    g = ir.Graph("g")
    g.initializers["w"] = np.ones(3, np.float32)
    ir.save(g, tmp_path / "ir")
    g.initializers["w"] = np.zeros(3, np.float32)
    with pytest.raises(ir.InputError, match="already exists.*--force"):
        ir.save(g, tmp_path / "ir")
    assert ir.load(tmp_path / "ir").initializers["w"].tolist() == [1, 1, 1]
    ir.save(g, tmp_path / "ir", force=True)
    assert ir.load(tmp_path / "ir").initializers["w"].tolist() == [0, 0, 0]
    assert sorted(os.listdir(tmp_path)) == ["ir"]  # no temporary folder left behind


def test_load_rejects_a_folder_that_is_not_ir(tmp_path):
    with pytest.raises(ir.ModelLoadError, match="not an mmconvert IR folder"):
        ir.load(tmp_path)


def test_the_comparison_catches_a_flipped_bit_and_a_changed_attribute():
    g = mmconvert.load(C.light_models()[0])
    other = g.copy()
    name = next(iter(other.initializers))
    arr = np.array(other.initializers[name])
    arr.view(np.uint8).reshape(-1)[0] ^= 1
    other.initializers[name] = arr
    with pytest.raises(AssertionError):
        _assert_same(g, other)
    other = g.copy()
    node = next(n for n in other.nodes if "INTS" in n.attr_types.values())
    key = next(k for k, t in node.attr_types.items() if t == "INTS")
    node.attrs[key] = list(node.attrs[key]) + [1]
    with pytest.raises(AssertionError):
        _assert_same(g, other)


@pytest.mark.parametrize("chunk", [7, 64, 1 << 26])
def test_views_are_written_in_bounded_chunks(monkeypatch, chunk):
    import io

    from mmconvert.ir import weights

    monkeypatch.setattr(weights, "_CHUNK", chunk)
    base = np.arange(4 * 6 * 5, dtype=np.float32).reshape(4, 6, 5)
    for a in (base, base.transpose(2, 0, 1), base[:, ::2], base.T[1:], np.float32(2) * np.ones(())):
        f = io.BytesIO()
        weights.write_array(f, a)
        assert f.getvalue() == np.ascontiguousarray(a).tobytes()
