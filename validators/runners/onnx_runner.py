"""ONNX Runtime runner (the reference, and ONNX candidates): CPU provider, graph
optimizations disabled so that every intermediate tensor exists as written."""

from __future__ import annotations

import os

import numpy as np
import onnx
import onnxruntime as ort

from mmconvert.ir.errors import InputError, ModelLoadError


def session(model: bytes | str) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.log_severity_level = 3
    try:
        return ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001 - ORT raises its own exception types
        where = model if isinstance(model, str) else "<model>"
        raise ModelLoadError(f"{where}: ONNX Runtime cannot load it: {ort_message(e)}") from None


def ort_message(e: Exception, limit: int = 4000) -> str:
    """ONNX Runtime's message on one line, whole (its shapes come at the end)."""
    text = " ".join(line.strip() for line in str(e).splitlines() if line.strip())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _value(v):
    if isinstance(v, list):
        return [_value(x) for x in v]
    return v if v is None else np.asarray(v)


class Runner:
    target = "onnx"
    layouts: dict[str, list[int]] = {}

    def __init__(self, path: str):
        self.path = os.path.abspath(path)
        self.sess = session(self.path)
        self.input_names = [i.name for i in self.sess.get_inputs()]
        self.output_names = [o.name for o in self.sess.get_outputs()]
        self._model: onnx.ModelProto | None = None

    def run(self, inputs: list) -> list:
        try:
            return [_value(v) for v in self.sess.run(None, dict(zip(self.input_names, inputs)))]
        except Exception as e:  # noqa: BLE001
            raise InputError(f"{self.path}: ONNX Runtime failed on these inputs: {ort_message(e)}") from None

    @property
    def model(self) -> onnx.ModelProto:
        if self._model is None:
            self._model = onnx.load(self.path)
        return self._model

    def capture(self, inputs: list, tensors: list[str], reference: dict | None = None) -> dict:
        if reference is not None:
            return self._isolated(reference)
        model = onnx.ModelProto()
        model.CopyFrom(self.model)
        produced = {o for n in model.graph.node for o in n.output if o}
        have = {o.name for o in model.graph.output}
        extra = [t for t in tensors if t in produced and t not in have]
        model.graph.output.extend(onnx.ValueInfoProto(name=t) for t in extra)
        sess = session(model.SerializeToString())
        names = [o.name for o in sess.get_outputs()]
        values = sess.run(None, dict(zip(self.input_names, inputs)))
        return {n: _value(v) for n, v in zip(names, values) if not isinstance(v, list) and v is not None}

    def _isolated(self, reference: dict) -> dict:
        """Each top-level node run alone on the reference values of its inputs."""
        g = self.model.graph
        inits = {t.name: t for t in g.initializer}
        out: dict = {}
        for node in g.node:
            needed = [t for t in node.input if t] + sorted(_outer_names(node))
            if any(t not in reference and t not in inits for t in needed):
                continue
            sub = onnx.helper.make_graph([node], "isolated", [], [onnx.ValueInfoProto(name=o) for o in node.output if o])
            feeds = {}
            for t in dict.fromkeys(needed):
                if t in inits:
                    sub.initializer.append(inits[t])
                else:
                    arr = np.asarray(reference[t])
                    sub.input.append(onnx.helper.make_tensor_value_info(
                        t, onnx.helper.np_dtype_to_tensor_dtype(arr.dtype), arr.shape))
                    feeds[t] = arr
            m = onnx.helper.make_model(sub, opset_imports=self.model.opset_import, ir_version=self.model.ir_version)
            try:
                values = session(m.SerializeToString()).run(None, feeds)
            except Exception:  # noqa: BLE001 - a node ORT cannot run alone is reported as missing
                continue
            for name, v in zip([o for o in node.output if o], values):
                if not isinstance(v, list) and v is not None:
                    out[name] = np.asarray(v)
        return out


def _outer_names(node: onnx.NodeProto) -> set[str]:
    names: set[str] = set()
    for a in node.attribute:
        for g in ([a.g] if a.type == onnx.AttributeProto.GRAPH else list(a.graphs)):
            defined = {i.name for i in g.input} | {t.name for t in g.initializer} | {o for n in g.node for o in n.output}
            used = {i for n in g.node for i in n.input if i}
            for n in g.node:
                used |= _outer_names(n)
            names |= used - defined
    return names
