"""Names: TensorFlow's and tf2onnx's additions cleaned off, Keras layer names kept.

A TensorFlow op inside a Keras layer is named ``<model scope>/<layer scope>/<op>``, where
each scope got a ``_N`` suffix from TensorFlow's uniquifier (``small_1/conv1_conv_1/
convolution``); a SavedModel adds ``StatefulPartitionedCall/``; tf2onnx appends ``:0`` to
tensors and ``__N`` to nodes it makes.  :class:`Renamer` maps each name to the layer path
the scope belongs to plus the op (``conv1_conv/convolution``):

1. ``(Stateful)PartitionedCall(_N)/`` prefixes go;
2. the longest leading run of scopes found in ``scopes`` (recorded while tracing a Keras
   model, or learned from which variable each ``ReadVariableOp`` reads) becomes that
   layer's path; the model's own scope maps to nothing (and, in a SavedModel written from
   Keras, the scope of a layer without weights loses its ``_N``);
3. a trailing ``/ReadVariableOp`` and tf2onnx's ``__N`` go; a tensor's ``:0`` goes;
4. names stay unique: a clash gets ``_1``, ``_2`` ... and names already taken (inputs,
   outputs, weights) are never handed out again.
"""

from __future__ import annotations

import re

_CALLS = re.compile(r"^(?:(?:Stateful)?PartitionedCall(?:_\d+)?/|Func/)+")
T2O_SUFFIX = re.compile(r"__\d+$")
_SUFFIX = r"(?:_\d+)?"


def learn_scopes(reads: dict[str, str]) -> tuple[dict[str, str], bool]:
    """Scopes from variable reads: ``{read op name: variable name}`` such as
    ``small_1/conv1_conv_1/convolution/ReadVariableOp -> conv1_conv/kernel`` gives
    ``small_1/conv1_conv_1 -> conv1_conv`` and (when every read agrees) ``small_1 -> ""``.

    Also says whether every layer scope found carries Keras' ``_N`` (a Keras model calls
    ``tf.name_scope`` twice per layer, so the scope its ops get is always uniquified): then
    the scopes of layers without weights can lose their suffix too."""
    scopes: dict[str, str] = {}
    roots: set[str] = set()
    suffixed = bool(reads)
    for op, var in reads.items():
        comps = _CALLS.sub("", op).split("/")
        layer = var.split("/")[:-1]
        if not layer:
            continue
        k = len(layer)
        for i in range(len(comps) - k):
            if all(re.fullmatch(re.escape(layer[j]) + _SUFFIX, comps[i + j]) for j in range(k)):
                scopes.setdefault("/".join(comps[:i + k]), "/".join(layer))
                roots.add("/".join(comps[:i]))
                suffixed = suffixed and all(comps[i + j] != layer[j] for j in range(k))
                break
    if len(roots) == 1 and "" not in roots:
        scopes.setdefault(roots.pop(), "")
    else:
        suffixed = False
    return scopes, suffixed


class Renamer:
    def __init__(self, scopes: dict[str, str], taken: set[str] = frozenset(), keras_suffix: bool = False):
        self.scopes = {k: v for k, v in scopes.items() if k}
        self.keras_suffix = keras_suffix
        self.depth = max((k.count("/") + 1 for k in self.scopes), default=0)
        self.used: set[str] = set(taken)
        self.done: dict[str, str] = {}

    def clean(self, name: str, *, tensor: bool = False) -> str:
        """The readable form of ``name`` (not yet unique)."""
        text = name
        if tensor and text.endswith(":0"):
            text = text[:-2]
        text = _CALLS.sub("", text)
        comps = text.split("/")
        for n in range(min(self.depth, len(comps)), 0, -1):
            key = "/".join(comps[:n])
            if key in self.scopes:
                head = self.scopes[key]
                comps = ([head] if head else []) + comps[n:]
                if not head and self.keras_suffix and len(comps) > 1:  # a layer without weights
                    comps[0] = re.sub(r"_\d+$", "", comps[0]) or comps[0]
                break
        if len(comps) > 1 and comps[-1] == "ReadVariableOp":
            comps = comps[:-1]
        if comps:
            comps[-1] = T2O_SUFFIX.sub("", comps[-1])
        text = "/".join(c for c in comps if c)
        return text or name

    def unique(self, name: str, *, tensor: bool = False) -> str:
        """The cleaned, unique name for ``name`` (the same answer every time it is asked)."""
        if name in self.done:
            return self.done[name]
        base = self.clean(name, tensor=tensor)
        out, k = base, 1
        while out in self.used:
            out, k = f"{base}_{k}", k + 1
        self.used.add(out)
        self.done[name] = out
        return out

    def fix(self, old: str, new: str) -> None:
        """``old`` is to be called ``new`` (already chosen, e.g. an input's signature name)."""
        self.done[old] = new
        self.used.add(new)
