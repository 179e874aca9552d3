"""The TensorFlow dialect of the shared code-generation core (``backends/codegen``).

The core walks each graph in topological order and asks the op registry for one
statement per node, named after the node, releasing values after their last use.  This
module says what is TensorFlow about the result: dtypes, how a constant is stored (a
``tf.Variable`` named after the source tensor, read from ``weights.safetensors``), how a
small tensor is written (``tf.constant``), the ``tf.Module`` template whose ``__call__``
is a ``tf.function`` with an input signature (symbolic dims are ``None``), and its loader.

Shapes are tensors here (``tf.shape(x)``): inside a ``tf.function`` a dynamic dim has no
Python value.  Shapes known at conversion time are folded by the core, so a static model
has no shape arithmetic left in its code.
"""

from __future__ import annotations

import os
import re

import numpy as np

from mmconvert.backends.codegen.core import Codegen, Dialect, EmitError, NodeCtx, Val  # noqa: F401 - used by ops/
from mmconvert.backends.codegen.helpers import HelperSource
from mmconvert.backends.codegen.namespace import lit, pystr
from mmconvert.ir import dtypes
from mmconvert.ir.graph import Graph

from .registry import REGISTRY

_RUNTIME = HelperSource(os.path.join(os.path.dirname(os.path.abspath(__file__)), "runtime.py"))
TF_DTYPE = {
    "float32": "tf.float32", "float64": "tf.float64", "float16": "tf.float16", "bfloat16": "tf.bfloat16",
    "int8": "tf.int8", "int16": "tf.int16", "int32": "tf.int32", "int64": "tf.int64", "uint8": "tf.uint8",
    "uint16": "tf.uint16", "uint32": "tf.uint32", "uint64": "tf.uint64", "bool": "tf.bool", "string": "tf.string",
    "complex64": "tf.complex64", "complex128": "tf.complex128",
}
# integer constants up to this many elements (axes, shapes) are written inline (tf.constant), as
# are one-element constants; every other constant is a variable named after its source tensor
INLINE_MAX = 16
# dtypes safetensors' numpy reader returns as they are (bfloat16 is stored as its uint16 bits)
_STORABLE = {"float32", "float64", "float16", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
             "uint64", "bool", "complex64", "complex128"}


def variable_name(source: str) -> str:
    """A tf.Variable name for a source tensor name, in the characters a SavedModel accepts
    (``[A-Za-z0-9.][A-Za-z0-9_.\\/>-]*``): others become ``_`` (``onnx::Conv_1`` -> ``onnx_Conv_1``)."""
    name = re.sub(r"[^A-Za-z0-9_.\\/>-]+", "_", source).lstrip("/_>-\\")
    return name or "constant"


class TFDialect(Dialect):
    target = "tensorflow"
    dtypes = TF_DTYPE
    registry = REGISTRY
    module_names = ("math", "os", "np", "tf", "safe_open", "Model", "load_model", "WEIGHTS")

    def attr_reserved(self) -> set[str]:
        # tf.Module's public API (listed here so that emitting never imports TensorFlow)
        return {"name", "name_scope", "non_trainable_variables", "submodules", "trainable_variables", "variables",
                "with_name_scope", "weights"}

    def runtime(self):
        return _RUNTIME

    def scalar_tensor(self, value: np.ndarray) -> str:
        return f"tf.constant({lit(value.item())}, {TF_DTYPE[dtypes.of_array(value)]})"

    def int_list_tensor(self, expr: str) -> str:
        return f"tf.constant({expr}, tf.int64)"

    def python_tensor(self, expr: str, dtype: str) -> str:
        return f"tf.constant({expr}, {TF_DTYPE[dtype]})"

    def python_int(self, expr: str) -> str:
        return f"int(tf.get_static_value({expr}))"  # sequences are Python lists while tracing

    def ones_like(self, expr: str, dtype: str) -> str:
        return f"tf.ones_like({expr}, dtype={TF_DTYPE[dtype]})"

    def store_constant(self, cg: Codegen, array: np.ndarray, attr: str, source: str = "") -> str:
        name = dtypes.of_array(array)
        dt = TF_DTYPE[name]
        if array.size == 0:
            return f"tf.zeros({list(array.shape)}, {dt})"
        small = array.size == 1 or (array.size <= INLINE_MAX and (name in dtypes.INT_TYPES or name == "bool"))
        if name == "string" or (small and name not in ("bfloat16", "complex64", "complex128")):
            return f"tf.constant({lit(array.astype(object) if name == 'string' else array)}, {dt})"
        if name == "bfloat16":
            cg.state[attr] = array.view(np.uint16)
            read = f"tf.bitcast(w.get_tensor({attr!r}), tf.bfloat16)"
        elif name in _STORABLE:
            cg.state[attr] = array
            read = f"w.get_tensor({attr!r})"
        else:
            raise EmitError(f"constant '{source}' has dtype {name}, which the tensorflow backend cannot store")
        cg.init_lines.append(f"self.{attr} = tf.Variable({read}, trainable=False, name={pystr(variable_name(source))})")
        return f"self.{attr}"

    def signature(self, graph: Graph) -> str | None:
        """The ``input_signature`` of ``__call__`` (None when an input is a sequence or an
        optional: those are traced per call)."""
        specs = []
        for name in graph.real_inputs:
            vt = graph.type_of(name)
            if vt is None or vt.kind != "tensor" or vt.dtype not in TF_DTYPE:
                return None
            shape = "None" if vt.shape is None else lit([d if isinstance(d, int) else None for d in vt.shape])
            specs.append(f"tf.TensorSpec({shape}, {TF_DTYPE[vt.dtype]})")
        return "[" + ", ".join(specs) + "]"

    def module_source(self, cg: Codegen, header: str, args: list[str], body: list[str], rets: list[str]) -> str:
        sig = self.signature(cg.graph)
        rets = [f"tf.identity({r})" if r.startswith(("self.", "tf.constant(", "tf.zeros(")) else r for r in rets]
        lines = list(body)
        lines.append(f"return {', '.join(rets)}" if rets else "return None")
        body_text = "\n".join("        " + ln if ln else "" for ln in lines)
        helper_src = self.helper_source(cg)
        init = ["super().__init__()"]
        if cg.init_lines:
            init.append('with safe_open(weights or WEIGHTS, framework="np") as w:')
            init += ["    " + ln for ln in cg.init_lines]
        init_text = "\n".join("        " + ln for ln in init)
        text = body_text + init_text + helper_src
        imports = ["import os", ""]
        if "math." in text:
            imports.insert(0, "import math")
        if "np." in text:
            imports.append("import numpy as np")
        imports.append("import tensorflow as tf")
        if cg.init_lines:
            imports.append("from safetensors import safe_open")
        deco = "@tf.function(input_signature=" + sig + ")" if sig is not None else "@tf.function(reduce_retracing=True)"
        parts = [header + "\n", "\n".join(imports), "",
                 'WEIGHTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights.safetensors")', "\n"]
        if helper_src:
            parts.append(helper_src + "\n")
        parts.append(
            "\nclass Model(tf.Module):\n"
            "    def __init__(self, weights=None):\n"
            + init_text + "\n"
            + "\n"
            + f"    {deco}\n"
            + f"    def __call__(self{''.join(', ' + a for a in args)}):\n"
            + body_text + "\n")
        parts.append(_LOADER)
        return "\n".join(parts)

    def weights_metadata(self) -> dict[str, str]:
        return {"format": "tf"}


DIALECT = TFDialect()


def tf_dtype(name: str | None) -> str:
    return DIALECT.dtype(name)


_LOADER = '''
def load_model(weights=None):
    """The model with its weights loaded; call it with tensors or numpy arrays in the graph's input order."""
    return Model(weights)
'''
