"""A traced concrete function -> ONNX (tf2onnx as a library) -> ``ir.Graph``.

Steps (the route of Keras 3's ``model.export(format="onnx")``, with the weights kept):

1. freeze the function (TensorFlow's own variable-to-constant conversion, functions
   inlined), then turn every constant that came from a variable back into a
   ``Placeholder`` of its dtype and shape, keeping its value aside;
2. grappler (``tf2onnx.tf_loader.tf_optimize``) and tf2onnx's op conversion and
   optimizers, with the placeholders as inputs: nothing folds a weight away;
3. in the ONNX model: inputs, outputs and weights get their names from the signature and
   the variables; every other name is cleaned (:mod:`.names`); unknown dims get names
   (``batch``);
4. the ONNX frontend reads it; the weight inputs become initializers, and the layout ops
   tf2onnx put on them (HWIO -> OIHW transposes, bias reshapes) are folded into them
   (``ir.passes.weights.fold_weight_layout``) so each keeps its Keras name.

Ops tf2onnx cannot convert are all listed in one ``UnsupportedError`` (exit 3).
"""

from __future__ import annotations

import sys
from collections import defaultdict

import numpy as np
import onnx

from mmconvert.ir.errors import ModelLoadError, UnsupportedError
from mmconvert.ir.graph import Graph

from .handlers import HANDLERS
from .names import T2O_SUFFIX, Renamer, learn_scopes
from .shield import shielded
from .trace import Traced, import_tf

OPSET = 18  # the newest opset tf2onnx 1.17 writes; the pipeline normalizes to the canonical one
# run on what tf2onnx gives: weights keep their names, transposes go back to the boundary
PASSES = ("fold_weight_layout", "sink_transposes", "cancel_transposes", "remove_dead_nodes",
          "remove_unused_initializers")


def to_graph(traced: Traced, *, infer_shapes: bool = True) -> Graph:
    """The IR graph of ``traced`` (validated, at tf2onnx's opset)."""
    from mmconvert.frontends.onnx import load as load_onnx
    from mmconvert.ir.passes import get

    model, weights, names = translate(traced)
    graph = load_onnx(model, infer_shapes=infer_shapes)
    for name, value in weights.items():
        if name in graph.inputs:
            graph.inputs.remove(name)
        graph.initializers[name] = value
        graph.values.pop(name, None)
    passes = [get(p) for p in PASSES]
    for _ in range(8):  # each pass works through the graph in one call: a round or two is the fixed point
        if not sum(int(p(graph) or 0) for p in passes):
            break
    tf = import_tf()
    import tf2onnx

    keras = sys.modules.get("keras")
    graph.metadata.update({
        "source_format": "tensorflow",
        "source_kind": traced.kind,
        "source": traced.description,
        "producer_name": "tf2onnx",
        "producer_version": tf2onnx.__version__,
        "tensorflow_version": tf.__version__,
        "keras_version": getattr(keras, "__version__", None),
        # the source's own weights: passes and backends keep them as they are, under their names
        "state_dict": sorted(n for n in names if n in graph.initializers),
    })
    graph.source_files = tuple(traced.files)
    graph.validate()
    return graph


def translate(traced: Traced) -> tuple[onnx.ModelProto, dict[str, np.ndarray], set[str]]:
    """The ONNX model of ``traced`` with its weights as inputs, the weights by name, and the
    names of every Keras weight (those read inside loops stay constants of the model)."""
    tf = import_tf()
    with shielded():
        from tf2onnx import optimizer, tf_loader
        from tf2onnx.tfonnx import process_tf_graph

        graph_def, values, reads, kept = _freeze(tf, traced)
        weights = _weight_names(traced, list(values) + sorted(kept))
        weight_tensors = [f"{p}:0" for p in values]
        inputs = list(traced.input_tensors) + weight_tensors
        outputs = list(traced.output_tensors)
        rename = dict(zip(traced.input_tensors, traced.input_names))
        rename.update({f"{p}:0": weights[p] for p in weights})
        rename.update(zip(traced.output_tensors, traced.output_names))

        def convert(careful: bool):
            with tf.Graph().as_default() as tf_graph:
                tf.import_graph_def(graph_def, name="")
                g = process_tf_graph(tf_graph, continue_on_error=True, opset=OPSET, input_names=inputs,
                                     output_names=outputs, tensors_to_rename=rename,
                                     shape_override=dict(traced.shape_override) or None,
                                     custom_op_handlers=dict(HANDLERS))
            # careful: tf2onnx copies the whole graph before each of its optimizers (to skip one
            # that fails), which is most of its run time; that is only worth it once one failed
            g = optimizer.optimize_graph(g, catch_errors=careful)
            return g.make_model(f"converted from {traced.description}")

        try:
            with tf.Graph().as_default():
                graph_def = tf_loader.tf_optimize(inputs, outputs, graph_def)
            try:
                model = convert(careful=False)
            except Exception:  # noqa: BLE001 - an optimizer failed: again, skipping what fails
                model = convert(careful=True)
        except UnsupportedError:
            raise
        except Exception as e:  # noqa: BLE001 - tf2onnx raises anything when a graph defeats it
            raise UnsupportedError(f"{traced.description}: tf2onnx cannot translate it: {type(e).__name__}: "
                                   f"{' '.join(str(e).split())[:600]}") from None
    taken = set(traced.input_names) | set(traced.output_names) | set(weights.values())
    scopes, suffixed = learn_scopes({op: weights[p] for op, p in reads.items() if op.endswith("ReadVariableOp")})
    keras_suffix = suffixed and not traced.scopes
    scopes.update(traced.scopes)  # recorded while tracing: exact
    _name_rnn_weights(model, Renamer(scopes, keras_suffix=keras_suffix), {weights[p] for p in kept})
    tensors = Renamer(scopes, taken, keras_suffix)
    present = {t for g in _graphs(model.graph) for t in [i.name for i in g.initializer] +
               [o for n in g.node for o in n.output]}
    for alias, p in reads.items():  # a kept constant tf2onnx knows by a forwarding Identity's name
        if p in kept and f"{alias}:0" in present and weights[p] not in present:
            tensors.fix(f"{alias}:0", weights[p])
            present.add(weights[p])
    _rename(model, tensors, Renamer(scopes, keras_suffix=keras_suffix), set(weights.values()))
    _check_ops(model, traced.description)
    _name_dims(model, traced)
    _place_weight_work(model.graph, set(traced.input_names))
    return model, {weights[p]: v for p, v in values.items()}, set(weights.values())


# ------------------------------------------------------------------------- freezing
def _freeze(tf, traced: Traced):
    """(frozen GraphDef with variables as Placeholders, {placeholder: value}, {read op: variable const},
    {variable const kept constant}).

    A variable a while loop reads (an RNN cell's kernels) stays a constant: tf2onnx's LSTM
    rewriter only fuses the loop into an ONNX LSTM when it can read the weights."""
    from tf2onnx import tf_loader

    cf = traced.function
    try:
        graph_def = tf_loader.convert_variables_to_constants_large_model(cf)
    except ValueError as e:
        if "incompatible with expected resource" not in str(e):
            raise ModelLoadError(f"{traced.description}: TensorFlow cannot freeze it: "
                                 f"{' '.join(str(e).split())[:600]}") from None
        graph_def = tf_loader.fix_freezing_errors(tf_loader.convert_variables_to_constants_large_model(cf))
    graph_def = tf_loader.fix_freezing_errors_part2(graph_def)
    _allow_inlining(graph_def)
    by_name = {n.name: n for n in graph_def.node}
    readers = defaultdict(list)
    for node in graph_def.node:
        for i in node.input:
            readers[i.split(":")[0].lstrip("^")].append(node)

    def reaches_loop(name: str, hops: int = 0) -> bool:
        for r in readers.get(name, ()):
            if r.op in _CONTROL_FLOW or (r.op == "Identity" and hops < 16 and reaches_loop(r.name, hops + 1)):
                return True
        return False

    values: dict[str, np.ndarray] = {}
    kept: set[str] = set()
    for node in graph_def.node:
        if node.op == "Const" and node.name in traced.variables:
            if reaches_loop(node.name):
                kept.add(node.name)
                continue
            value = tf.make_ndarray(node.attr["value"].tensor)
            dtype = node.attr["dtype"].type
            node.op = "Placeholder"
            node.ClearField("attr")
            node.attr["dtype"].type = dtype
            node.attr["shape"].shape.CopyFrom(tf.TensorShape(value.shape).as_proto())
            values[node.name] = value
    # which variable each Identity forwards: ReadVariableOps became Identity chains from the
    # placeholder (a read), and a SavedModel passes a variable into its function through one
    reads: dict[str, str] = {}
    for node in graph_def.node:
        if node.op == "Identity":
            src, hops = node.input[0].split(":")[0], 0
            while src in by_name and by_name[src].op == "Identity" and hops < 16:
                src, hops = by_name[src].input[0].split(":")[0], hops + 1
            if src in values or src in kept:
                reads[node.name] = src
    return graph_def, values, reads, kept


def _allow_inlining(graph_def) -> None:
    """Calls TensorFlow keeps as calls after freezing because they must compile with XLA
    (Keras 3 runs a grouped convolution through ``tf.function(jit_compile=True)`` on CPU) lose
    that mark, so grappler inlines them and tf2onnx sees the ops inside."""
    for node in graph_def.node:
        if node.op in ("StatefulPartitionedCall", "PartitionedCall"):
            for key in _NO_INLINE:
                if key in node.attr:
                    del node.attr[key]
    for fn in graph_def.library.function:
        for key in _NO_INLINE:
            if key in fn.attr:
                del fn.attr[key]


_NO_INLINE = ("_XlaMustCompile", "_noinline", "_XlaCompile", "_XlaScope")
_CONTROL_FLOW = frozenset({"While", "StatelessWhile", "If", "StatelessIf", "Case", "StatelessCase"})


def _weight_names(traced: Traced, consts: list[str]) -> dict[str, str]:
    """variable const -> a unique weight name (the variable's), never an input's or output's."""
    used = set(traced.input_names) | set(traced.output_names)
    out = {}
    for p in consts:
        base = traced.variables.get(p, p)
        name, k = base, 1
        while name in used:
            name, k = f"{base}_{k}", k + 1
        used.add(name)
        out[p] = name
    return out


# ------------------------------------------------------------------------- the ONNX model
def _graphs(g: onnx.GraphProto):
    yield g
    for node in g.node:
        for a in node.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                yield from _graphs(a.g)
            elif a.type == onnx.AttributeProto.GRAPHS:
                for sub in a.graphs:
                    yield from _graphs(sub)


def _rename(model: onnx.ModelProto, tensors: Renamer, nodes: Renamer, weights: set[str]) -> None:
    """Clean every tensor and node name (inputs, outputs and weights are already right).

    The op that reads a layer's weights (a Conv, MatMul, Gather ...) takes the layer's name
    (``conv1_conv``); TensorFlow's own names are handed out before the ones tf2onnx made up
    (``__N``), so a clash renames tf2onnx's node, not the model's."""
    for name in list(tensors.used):
        tensors.fix(name, name)
    layers = _main_readers(model.graph, weights)

    def t(name: str) -> str:
        return tensors.unique(name, tensor=True) if name else name

    graphs = list(_graphs(model.graph))
    every = [(gi, ni, n) for gi, g in enumerate(graphs) for ni, n in enumerate(g.node)]
    made_up = [e for e in every if T2O_SUFFIX.search(e[2].name)]
    ours = [e for e in every if not T2O_SUFFIX.search(e[2].name)]
    for gi, ni, node in ours + made_up:
        node.output[:] = [t(o) for o in node.output]
        layer = layers.get(ni) if gi == 0 else None
        if layer and layer not in nodes.used:
            nodes.fix(node.name, layer)
            node.name = layer
        else:
            node.name = nodes.unique(node.name or node.output[0])
    for g in graphs:
        for vi in list(g.input) + list(g.output) + list(g.value_info):
            vi.name = t(vi.name)
        for init in g.initializer:
            init.name = t(init.name)
        for sparse in g.sparse_initializer:
            sparse.values.name = t(sparse.values.name)
        for node in g.node:
            node.input[:] = [t(i) for i in node.input]


# ops that hold a layer's weights: the first of them reading a layer's weight is named after the layer
_MAIN_OPS = frozenset({"Conv", "ConvTranspose", "MatMul", "Gemm", "Gather", "Einsum", "LSTM", "GRU", "RNN",
                       "BatchNormalization", "LayerNormalization", "InstanceNormalization", "GroupNormalization",
                       "PRelu", "Loop", "Scan"})
_LAYOUT_OPS = frozenset({"Transpose", "Reshape", "Squeeze", "Unsqueeze", "Identity", "Flatten", "Cast"})


def _main_readers(graph: onnx.GraphProto, weights: set[str]) -> dict[int, str]:
    """node index -> layer path, for the first main op reading each layer's weights (directly or
    through layout ops)."""
    source = {w: w for w in weights}  # tensor -> the weight it is a rearrangement of
    out: dict[int, str] = {}
    claimed: set[str] = set()
    for index, node in enumerate(graph.node):
        if node.op_type in _LAYOUT_OPS and node.input and node.input[0] in source:
            for o in node.output:
                source[o] = source[node.input[0]]
            continue
        if node.op_type not in _MAIN_OPS:
            continue
        for i in node.input:
            w = source.get(i)
            layer = w.rsplit("/", 1)[0] if w and "/" in w else None
            if layer and layer not in claimed:
                claimed.add(layer)
                out[index] = layer
                break
    return out


_RNN_SLOTS = {"LSTM": ("kernel", "recurrent_kernel", "bias"), "GRU": ("kernel", "recurrent_kernel", "bias"),
              "RNN": ("kernel", "recurrent_kernel", "bias")}


def _name_rnn_weights(model: onnx.ModelProto, renamer: Renamer, kept: set[str]) -> None:
    """tf2onnx fuses a Keras LSTM loop into an ONNX LSTM whose W, R and B it builds from the
    cell's kernel, recurrent_kernel and bias (gates reordered, biases padded): those
    initializers take the Keras names back (``lstm/lstm_cell/kernel`` ...)."""
    inits = {t.name: t for t in model.graph.initializer}
    alive = {i for n in model.graph.node for i in n.input}
    gone = sorted(k for k in kept if k not in alive and k not in inits)
    for node in model.graph.node:
        slots = _RNN_SLOTS.get(node.op_type)
        if slots is None or not node.input:
            continue
        where = renamer.clean(node.input[0], tensor=True).split("/")
        best, score = None, 0
        for var in gone:
            layer = var.split("/")[:-1]
            common = next((i for i, (a, b) in enumerate(zip(layer, where)) if a != b), min(len(layer), len(where)))
            if common > score:
                best, score = layer, common
        if best is None:
            continue
        prefix = "/".join(best)
        for slot, role in zip((1, 2, 3), slots):
            old = node.input[slot] if len(node.input) > slot else ""
            new = f"{prefix}/{role}"
            if old in inits and new in gone and sum(1 for n in model.graph.node for i in n.input if i == old) == 1:
                inits[old].name = new
                node.input[slot] = new
                gone.remove(new)


def _place_weight_work(graph: onnx.GraphProto, inputs: set[str]) -> None:
    """Nodes that compute from weights only (a BatchNorm's scale and shift) move to just
    before their first reader on the inputs' path; tf2onnx puts them all first, in no useful
    order, and emitted code would read them that way."""
    nodes = list(graph.node)
    producer = {o: i for i, n in enumerate(nodes) for o in n.output if o}
    # what each node reads, its subgraphs' reads from this scope included
    reads = [list(n.input) + [t for a in n.attribute for g in ([a.g] if a.type == onnx.AttributeProto.GRAPH
                                                              else a.graphs) for s in _graphs(g)
                              for m in s.node for t in m.input] for n in nodes]
    live = [False] * len(nodes)
    for i in range(len(nodes)):  # tf2onnx's order is topological
        live[i] = any(t in inputs or (t in producer and live[producer[t]]) for t in reads[i])
    placed: list[int] = []
    done = [False] * len(nodes)

    def place(i: int) -> None:
        stack = [(i, False)]
        while stack:
            j, expanded = stack.pop()
            if done[j]:
                continue
            if expanded:
                done[j] = True
                placed.append(j)
                continue
            stack.append((j, True))
            for t in reversed(reads[j]):
                k = producer.get(t)
                if k is not None and not done[k] and not live[k]:
                    stack.append((k, False))

    for i in range(len(nodes)):
        if live[i]:
            place(i)
    for i in range(len(nodes)):
        if not done[i]:
            place(i)
    if placed != list(range(len(nodes))):
        reordered = [nodes[i] for i in placed]
        copies = [onnx.NodeProto() for _ in reordered]
        for c, n in zip(copies, reordered):
            c.CopyFrom(n)
        del graph.node[:]
        graph.node.extend(copies)


def _check_ops(model: onnx.ModelProto, description: str) -> None:
    """Every op tf2onnx could not convert, listed with counts and node names."""
    imports = {o.domain or "": o.version for o in model.opset_import}
    missing: dict[str, list[str]] = defaultdict(list)
    for g in _graphs(model.graph):
        for node in g.node:
            domain = node.domain or ""
            if domain in ("", "ai.onnx") and not onnx.defs.has(node.op_type, ""):
                missing[node.op_type].append(node.name)
            elif domain not in imports and domain not in ("", "ai.onnx"):
                missing[f"{domain}::{node.op_type}"].append(node.name)
    if missing:
        lines = [f"{description}: tf2onnx cannot convert {len(missing)} TensorFlow op type(s):"]
        for op, names in sorted(missing.items()):
            shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
            lines.append(f"  {op} x{len(names)}: {shown}")
        raise UnsupportedError("\n".join(lines), hint="rewrite those ops in the model, or export it to ONNX yourself")


def _name_dims(model: onnx.ModelProto, traced: Traced) -> None:
    """Inputs get the signature's dims (``batch`` ...); tf2onnx's ``unk__N`` dims elsewhere are
    cleared so that shape inference derives them from the inputs."""
    dims = dict(zip(traced.input_names, traced.dims))
    for vi in model.graph.input:
        row = dims.get(vi.name)
        if row is None or not vi.type.HasField("tensor_type"):
            continue
        shape = vi.type.tensor_type.shape
        if len(shape.dim) != len(row):
            continue
        for dim, d in zip(shape.dim, row):
            if isinstance(d, int):
                dim.dim_value = d
            else:
                dim.dim_param = d
    for vi in model.graph.output:
        if vi.type.HasField("tensor_type"):
            for dim in vi.type.tensor_type.shape.dim:
                if dim.HasField("dim_param") and dim.dim_param.startswith("unk__"):
                    dim.ClearField("dim_param")
    del model.graph.value_info[:]
