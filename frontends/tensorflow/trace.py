"""A TensorFlow source -> one traced concrete function, with what the translation and the
parity reference need to know about it (:class:`Traced`).

Sources: a SavedModel folder (one signature), a Keras 3 ``.keras`` file or a legacy
``.h5`` (loaded with ``keras.saving.load_model``, ``safe_mode`` on, no compile), an
in-memory ``keras.Model``, a ``tf.function`` (its ``input_signature``, or shapes given by
``input_shapes``/``example_inputs``) and a ``ConcreteFunction``.

Inputs and outputs come from the signature or the model, in the order the concrete
function takes and returns them (``tf.nest`` order: dict keys sorted); an unknown dim
stays unknown (``None``) and becomes a named symbolic dim (``batch`` on axis 0).

Nothing of the source runs before :mod:`.safety` has checked it: ``saved_model.pb`` and a
Keras file before they are loaded, the concrete function and its library right after
tracing (before tf2onnx's constant folding and the parity reference run anything).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from mmconvert.ir.errors import InputError, ModelLoadError, UnsupportedError

DEFAULT_SIGNATURE = "serving_default"


@dataclass
class Traced:
    function: Any  # tf ConcreteFunction
    kind: str  # "keras" | "saved_model" | "function"
    description: str
    input_names: list[str]
    input_tensors: list[str]  # the concrete function's placeholder tensors, same order
    output_names: list[str]
    output_tensors: list[str]
    dims: list[list]  # per input, per axis: int, or a symbolic name for an unknown dim
    variables: dict[str, str]  # captured placeholder (op name) -> variable name (``conv1_conv/kernel``)
    scopes: dict[str, str] = field(default_factory=dict)  # graph name scope -> layer path ("" = the model)
    shape_override: dict[str, list] = field(default_factory=dict)  # input tensor -> shape (None: dynamic)
    files: tuple[str, ...] = ()
    call: Callable[[list], list] | None = None  # the SOURCE run on numpy inputs (the parity reference)
    owner: Any = None  # keeps the model / loaded SavedModel (and its variables) alive
    # stateful ops no output depends on (the artifact lacks them): [{"op", "function", "node"}]
    dropped_ops: list[dict] = field(default_factory=list)
    trusted_ops: list[dict] = field(default_factory=list)  # refused ops let through by trust_source_ops


def import_tf():
    """``tensorflow``, imported quietly: its C++ INFO lines at start-up (oneDNN, CPU
    features) do not reach the terminal, and ``TF_CPP_MIN_LOG_LEVEL`` defaults to 2
    (only read at the first import) unless the user set it."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from .shield import native_stderr

    try:
        with native_stderr():
            import tensorflow as tf
    except ModuleNotFoundError:
        raise InputError("the tensorflow frontend needs tensorflow, keras and tf2onnx:"
                         " pip install 'mmconvert[tensorflow]'") from None
    return tf


def trace(source, *, signature: str | None = None, input_shapes: dict | None = None,
          input_dtypes: dict | None = None, example_inputs=None, trust_source_ops: bool = False) -> Traced:
    """The concrete function of ``source`` (see the module docstring for what it may be),
    checked by :mod:`.safety` before anything of it runs: a SavedModel's ``saved_model.pb``
    and a Keras file before they are loaded, the traced function (and its library) before it
    is returned; a refused op raises UnsafeSourceError unless ``trust_source_ops``."""
    from mmconvert.ir import tf_safety as safety

    traced = _trace(source, signature=signature, input_shapes=input_shapes, input_dtypes=input_dtypes,
                    example_inputs=example_inputs, trust=trust_source_ops)
    traced.trusted_ops = safety.check_function(traced.function, traced.description, trust=trust_source_ops)
    traced.dropped_ops = safety.dropped_ops(traced.function)
    return traced


def _trace(source, *, signature, input_shapes, input_dtypes, example_inputs, trust: bool) -> Traced:
    tf = import_tf()
    from mmconvert.ir import tf_safety as safety
    from .shield import quiet

    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if not os.path.exists(path):
            raise InputError(f"{path}: no such file or folder")
        if os.path.isdir(path):
            if not os.path.isfile(os.path.join(path, "saved_model.pb")):
                raise InputError(f"{path}: a folder, but not a SavedModel (no saved_model.pb)")
            safety.check_saved_model_file(path, trust=trust)  # loading runs resource initializers
            with quiet():
                return _override_shapes(_saved_model(tf, path, signature or DEFAULT_SIGNATURE), input_shapes)
        _no_signature(signature, "a Keras file")
        model = _load_keras_file(path)
        with quiet():
            return _keras(tf, model, input_shapes, input_dtypes, files=(os.path.abspath(path),), description=path)
    _no_signature(signature, f"a {type(source).__name__}")
    keras = sys.modules.get("keras")
    if keras is not None and isinstance(source, keras.Model):
        with quiet():
            return _keras(tf, source, input_shapes, input_dtypes, description=f"keras.Model '{source.name}'")
    if isinstance(source, tf.types.experimental.ConcreteFunction):
        with quiet():
            return _override_shapes(_function(tf, source, source, source), input_shapes)
    if isinstance(source, tf.types.experimental.PolymorphicFunction):
        with quiet():
            cf = _concrete(tf, source, input_shapes, input_dtypes, example_inputs)
            return _override_shapes(_function(tf, cf, source, source), input_shapes)
    raise UnsupportedError(f"a {type(source).__module__}.{type(source).__name__} is not a model the tensorflow"
                           " frontend reads", hint="pass a SavedModel folder, a .keras/.h5 file, a keras.Model, a"
                           " tf.function with an input_signature, or a concrete function")


def _override_shapes(traced: Traced, input_shapes: dict | None) -> Traced:
    """``input_shapes`` on a signature (SavedModel, tf.function): tf2onnx translates with those
    shapes (a string or a negative number keeps a dim dynamic, under that name)."""
    for name, dims in (input_shapes or {}).items():
        if name not in traced.input_names:
            raise InputError(f"input_shapes names '{name}', which is not an input (the inputs: "
                             f"{', '.join(traced.input_names)})")
        i = traced.input_names.index(name)
        if traced.dims[i] and len(dims) != len(traced.dims[i]):
            raise InputError(f"input '{name}' has rank {len(traced.dims[i])}, input_shapes gives {len(dims)} dims")
        traced.shape_override[traced.input_tensors[i]] = [d if isinstance(d, int) and d >= 0 else None for d in dims]
        traced.dims[i] = _dims([(name, dims, None)])[0]
    return traced


def _no_signature(signature, what):
    if signature is not None:
        raise InputError(f"--signature applies to a SavedModel folder, not to {what}")


# ----------------------------------------------------------------------------- Keras
def _load_keras_file(path: str):
    import keras

    from mmconvert.ir.tf_safety import check_keras_file

    size = os.path.getsize(path)
    if size == 0:
        raise ModelLoadError(f"{path}: empty file")
    check_keras_file(path)  # members, sizes and the objects its config names, before Keras reads it
    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as e:  # noqa: BLE001 - keras raises many types for a file it cannot read
        text = " ".join(str(e).split())[:600]
        hint = None
        if "Could not locate" in text or "Unknown layer" in text or "custom" in text.lower():
            hint = ("the model uses custom objects: load it yourself (with its custom_objects) and convert the"
                    " keras.Model, or export a SavedModel")
        raise ModelLoadError(f"{path}: Keras cannot load it: {type(e).__name__}: {text}", hint=hint) from None


def _keras_inputs(tf, model, input_shapes, input_dtypes):
    """(flat KerasTensor-like specs, their names, a function packing flat tensors for model())."""
    import keras

    struct = getattr(model, "_inputs_struct", None)
    if struct is None:
        try:
            struct = model.inputs if len(model.inputs) != 1 else model.inputs[0]
        except Exception:  # noqa: BLE001 - a subclassed model has no symbolic inputs
            struct = None
    if struct is None:
        try:
            from keras.src.export.export_utils import get_input_signature

            sig = get_input_signature(model)
            struct = sig[0] if len(sig) == 1 else list(sig)
        except Exception:  # noqa: BLE001
            struct = None
    if struct is None and input_shapes:
        names = list(input_shapes)
        struct = [keras.InputSpec(shape=tuple(None if isinstance(d, str) else d for d in input_shapes[n]),
                                  dtype=(input_dtypes or {}).get(n, "float32"), name=n) for n in names]
        struct = struct[0] if len(struct) == 1 else struct
    if struct is None:
        raise InputError(f"keras.Model '{model.name}' has no input signature (a subclassed model never called)",
                         hint="call it once on real data before converting, or give input_shapes={name: dims}")
    flat = keras.tree.flatten(struct)
    names = []
    for i, spec in enumerate(flat):
        name = getattr(spec, "name", None)
        layer = getattr(getattr(spec, "_keras_history", None), "operation", None)
        if layer is not None and getattr(layer, "name", None):
            name = layer.name  # the Input layer's name ("image"), not the tensor's ("keras_tensor_3")
        names.append(name or f"input_{i}")
    names = _unique(names, "input")
    unknown = [n for n in (input_shapes or {}) if n not in names]
    if unknown:
        raise InputError(f"input_shapes names {', '.join(unknown)}, not an input of keras.Model '{model.name}'"
                         f" (its inputs: {', '.join(names)})")
    specs = []
    for spec, name in zip(flat, names):
        shape = list(spec.shape)
        if input_shapes and name in input_shapes:
            shape = list(input_shapes[name])
        dtype = (input_dtypes or {}).get(name) or getattr(spec, "dtype", None) or "float32"
        specs.append((name, shape, tf.as_dtype(dtype)))

    def pack(tensors):
        return keras.tree.pack_sequence_as(struct, list(tensors))

    return specs, pack


def _keras(tf, model, input_shapes, input_dtypes, *, files=(), description="keras.Model") -> Traced:
    import keras

    specs, pack = _keras_inputs(tf, model, input_shapes, input_dtypes)
    tf_specs = [tf.TensorSpec([None if isinstance(d, str) else d for d in shape], dtype, name=name)
                for name, shape, dtype in specs]
    scopes: dict[str, str] = {}

    @tf.function(input_signature=tf_specs)
    def serve(*tensors):
        return model(pack(tensors), training=False)

    with _recording_scopes(tf, model, scopes):
        try:
            cf = serve.get_concrete_function()
        except Exception as e:  # noqa: BLE001 - the model's own code failed while tracing
            raise ModelLoadError(f"{description}: tracing the model failed: {type(e).__name__}: "
                                 f"{' '.join(str(e).split())[:600]}") from None
    variables = {}
    for v in model.variables:
        tfv = getattr(v, "value", v)
        if hasattr(tfv, "handle"):
            variables[id(tfv.handle)] = getattr(v, "path", None) or _var_name(tfv)
    traced = _common(tf, cf, "keras", description, [s[0] for s in specs], variables, files=files, owner=model)
    traced.scopes = scopes
    traced.dims = _dims(specs)
    outs = cf.structured_outputs
    if not isinstance(outs, dict):
        names = list(getattr(model, "output_names", None) or [])
        if len(names) == len(traced.output_names) and len(set(names)) == len(names):
            traced.output_names = names

    traced.call = _quietly(_keras_call(tf, model, pack))
    return traced


def _keras_call(tf, model, pack):
    import keras

    def call(arrays):
        out = model(pack([tf.convert_to_tensor(a) for a in arrays]), training=False)
        return [np.asarray(t) for t in keras.tree.flatten(out)]

    return call


class _recording_scopes:
    """While tracing: each layer's ``call`` (and the model's) records the name scope it runs
    in, so ``small_1/conv1_conv_1/...`` maps back to layer ``conv1_conv``.  Instance
    attributes only, removed on exit."""

    def __init__(self, tf, model, scopes: dict):
        self.tf, self.model, self.scopes, self.patched = tf, model, scopes, []

    def __enter__(self):
        for layer, path in [(self.model, "")] + list(_layers(self.model, "")):
            if "call" in vars(layer) or not callable(getattr(layer, "call", None)):
                continue
            original = layer.call

            def wrapper(*args, __original=original, __path=path, **kwargs):
                scope = self.tf.compat.v1.get_default_graph().get_name_scope()
                self.scopes.setdefault(scope, __path)
                return __original(*args, **kwargs)

            try:
                layer.call = wrapper
            except Exception:  # noqa: BLE001 - a layer that refuses attributes keeps its scope name
                continue
            self.patched.append(layer)
        return self

    def __exit__(self, *exc):
        for layer in self.patched:
            try:
                del layer.call
            except Exception:  # noqa: BLE001
                pass
        return False


def _layers(layer, prefix: str, seen=None):
    seen = set() if seen is None else seen
    for child in getattr(layer, "_layers", None) or []:
        if id(child) in seen:
            continue
        seen.add(id(child))
        path = f"{prefix}/{child.name}" if prefix else child.name
        yield child, path
        yield from _layers(child, path, seen)


# ------------------------------------------------------------------------ SavedModel
def _load_saved_model(tf, path: str, signature: str):
    """(the loaded SavedModel, the signature's concrete function)."""
    try:
        loaded = tf.saved_model.load(path)
    except Exception as e:  # noqa: BLE001 - TF raises many types for a folder it cannot read
        raise ModelLoadError(f"{path}: TensorFlow cannot load this SavedModel: {type(e).__name__}: "
                             f"{' '.join(str(e).split())[:600]}") from None
    sigs = [s for s in getattr(loaded, "signatures", {}) if not s.startswith("_")]
    if signature not in sigs:
        known = ", ".join(sorted(sigs)) if sigs else "none"
        raise InputError(f"{path}: the SavedModel has no signature '{signature}' (it has: {known})",
                         hint="choose one with --signature NAME" if sigs else
                         "save the model with a signature (tf.saved_model.save(..., signatures=...) or model.export)")
    return loaded, loaded.signatures[signature]


def _saved_model(tf, path: str, signature: str) -> Traced:
    loaded, cf = _load_saved_model(tf, path, signature)
    variables = {id(v.handle): _var_name(v) for v in _walk_variables(loaded)}
    files = tuple(os.path.abspath(os.path.join(root, f)) for root, _, fs in os.walk(path) for f in fs)
    traced = _common(tf, cf, "saved_model", f"{path} [{signature}]", None, variables, files=files, owner=loaded)

    traced.call = _quietly(_signature_call(tf, cf, traced.input_names))
    return traced


def _signature_call(tf, fn, names):
    def call(arrays):
        out = fn(**{n: tf.convert_to_tensor(a) for n, a in zip(names, arrays)})
        return [np.asarray(t) for t in tf.nest.flatten(out)]

    return call


def _walk_variables(root):
    """Every tf.Variable reachable from ``root`` through its trackable children."""
    import tensorflow as tf

    seen, stack, out = set(), [root], []
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, tf.Variable):
            out.append(obj)
            continue
        try:
            children = obj._trackable_children()  # noqa: SLF001 - TF's own traversal (tf.train.Checkpoint uses it)
        except Exception:  # noqa: BLE001
            continue
        stack.extend(children.values())
    return out


# ------------------------------------------------------------------------ tf.function
def _concrete(tf, fn, input_shapes, input_dtypes, example_inputs):
    if getattr(fn, "input_signature", None) is not None:
        return fn.get_concrete_function()
    if example_inputs is not None:
        arrays = example_inputs if isinstance(example_inputs, (list, tuple)) else (example_inputs,)
        specs = [tf.TensorSpec((None,) + tuple(np.shape(a))[1:] if np.ndim(a) else (), tf.as_dtype(np.asarray(a).dtype))
                 for a in arrays]
        return fn.get_concrete_function(*specs)
    if input_shapes:
        import inspect

        params = list(inspect.signature(fn.python_function).parameters)
        missing = [p for p in params if p not in input_shapes]
        if missing:
            raise InputError(f"input_shapes gives no shape for argument(s) {', '.join(missing)} of the tf.function")
        specs = [tf.TensorSpec([None if isinstance(d, str) else d for d in input_shapes[p]],
                               tf.as_dtype((input_dtypes or {}).get(p, "float32")), name=p) for p in params]
        return fn.get_concrete_function(*specs)
    raise InputError("the tf.function has no input_signature",
                     hint="decorate it with @tf.function(input_signature=[tf.TensorSpec(...)]), pass a concrete"
                     " function, or give input_shapes={arg: dims} / example_inputs=(array, ...)")


def _function(tf, cf, source, owner) -> Traced:
    variables = {id(v.handle): _var_name(v) for v in list(cf.graph.variables) + _walk_variables(owner)}
    traced = _common(tf, cf, "function", f"tf.function '{getattr(cf, 'name', '?')}'", None, variables, owner=owner)
    args, kwargs = cf.structured_input_signature
    by_keyword = not tf.nest.flatten(args) and bool(kwargs)

    def call(arrays):
        tensors = [tf.convert_to_tensor(a) for a in arrays]
        if by_keyword:
            out = source(**dict(zip(traced.input_names, tensors)))
        else:
            out = source(*tf.nest.pack_sequence_as(args, tensors))
        return [np.asarray(t) for t in tf.nest.flatten(out)]

    traced.call = _quietly(call)
    return traced


# ------------------------------------------------------------------------ shared
def _quietly(call):
    """``call`` with TensorFlow's logging held back (Keras' XLA-compiled grouped convolutions
    warn about retracing on every eager call)."""
    from .shield import quiet

    def run(arrays):
        with quiet():
            return call(arrays)

    return run


def _common(tf, cf, kind, description, input_names, handles: dict[int, str], *, files=(), owner=None) -> Traced:
    captured = {id(internal) for _, internal in cf.graph.captures}
    real = [t for t in cf.inputs if id(t) not in captured and t.dtype != tf.resource]
    args, kwargs = cf.structured_input_signature
    if input_names is None:
        if not tf.nest.flatten(args) and kwargs:
            input_names = sorted(kwargs)  # tf.nest order of the keyword dict
        else:
            specs = [s for s in tf.nest.flatten((args, kwargs)) if isinstance(s, tf.TensorSpec)]
            input_names = [s.name or t.name.split(":")[0] for s, t in zip(specs, real)]
            if len(input_names) != len(real):
                input_names = [t.name.split(":")[0] for t in real]
    if len(input_names) != len(real):
        raise UnsupportedError(f"{description}: {len(real)} tensor inputs for {len(input_names)} named inputs"
                               " (nested or non-tensor arguments are not supported)")
    input_names = _unique(list(input_names), "input")
    variables: dict[str, str] = {}
    for external, internal in cf.graph.captures:
        if internal.dtype == tf.resource and id(external) in handles:
            variables[internal.name.split(":")[0]] = handles[id(external)]
    outs = [t for t in cf.outputs if t.dtype != tf.resource]
    structured = cf.structured_outputs
    if isinstance(structured, dict) and all(not isinstance(v, (dict, list, tuple)) for v in structured.values()):
        names = [str(k) for k in sorted(structured)]  # tf.nest order
    else:
        names = [f"output_{i}" for i in range(len(outs))]
    if len(names) != len(outs):
        names = [f"output_{i}" for i in range(len(outs))]
    dims = [t.shape.as_list() if t.shape.rank is not None else [] for t in real]
    traced = Traced(function=cf, kind=kind, description=description, input_names=input_names,
                    input_tensors=[t.name for t in real], output_names=_unique(names, "output"),
                    output_tensors=[t.name for t in outs], dims=[], variables=variables, files=tuple(files),
                    owner=owner)
    traced.dims = _dims([(n, d, None) for n, d in zip(input_names, dims)])
    return traced


def _dims(specs) -> list[list]:
    """Per input, per axis: the static size, or a name for an unknown dim (axis 0 ``batch``,
    others ``<input>_<axis>``; a name the user gave in input_shapes is kept)."""
    out = []
    for name, shape, _ in specs:
        row = []
        for axis, d in enumerate(shape):
            if isinstance(d, int) and d >= 0:
                row.append(d)
            elif isinstance(d, str) and d:
                row.append(d)
            else:
                row.append("batch" if axis == 0 else f"{name}_{axis}")
        out.append(row)
    return out


def _var_name(v) -> str:
    name = getattr(v, "path", None) or v.name
    return name[:-2] if name.endswith(":0") else name


def _unique(names: list[str], default: str) -> list[str]:
    out, used = [], set()
    for i, n in enumerate(names):
        n = n or f"{default}_{i}"
        base, k = n, 1
        while n in used:
            n, k = f"{base}_{k}", k + 1
        used.add(n)
        out.append(n)
    return out
