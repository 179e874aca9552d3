"""The emitted model's module tree, built from dotted source names.

A weight named ``encoder.layer.0.attention.self.query.weight`` makes the layer
``self.encoder.layer[0].attention.self.query`` (an ``nn.Linear``), so the emitted model's
``state_dict()`` keys are the source's and an original state dict loads into it.  Parents
are plain ``nn.Module`` containers, and ``nn.ModuleList`` where every child is an index
(gaps are empty placeholders), declared before their children in ``__init__``:

    self.encoder = nn.Module()
    self.encoder.layer = nn.ModuleList(nn.Module() for _ in range(2))
    self.encoder.layer[0].attention = nn.Module()
    self.encoder.layer[0].attention.self = nn.Module()
    self.encoder.layer[0].attention.self.query = nn.Linear(32, 32)

A path component becomes an attribute only when it is one as it is: an identifier that
is no keyword, does not start with ``__`` (Python would mangle it inside ``class Model``)
and is no attribute ``nn.Module`` already has (``named_children``, ``forward`` ...); an
index only under a list container.  Any other path, or one that collides with what is
already there, is placed flat on the model under a name from the model's attribute
:class:`~backends.codegen.namespace.Namespace`, as before; its state key is then that
name.
"""

from __future__ import annotations

import builtins
import keyword
import unicodedata
from dataclasses import dataclass, field

from mmconvert.backends.codegen.namespace import pystr


@dataclass
class _Node:
    kind: str  # container | list | leaf | param | buffer
    expr: str
    key: str  # state-dict key prefix ("" for the root)
    init: str = ""  # the statement creating a leaf / param / buffer (rendered after its parent)
    children: dict[str, "_Node"] = field(default_factory=dict)
    ident: tuple = ()  # what a leaf holds (ctor, ids of its arrays), to reuse it for the same layer


_BUILTINS = frozenset(dir(builtins))


def _index(comp: str) -> bool:
    return comp.isdigit() and (comp == "0" or not comp.startswith("0")) and len(comp) < 7


class ModuleTree:
    def __init__(self, cg, reserved: set[str]):
        self.cg = cg
        self.reserved = reserved
        self.root = _Node("container", "self", "")

    # -------------------------------------------------------------- naming rules
    def _attr_ok(self, comp: str) -> bool:
        return (comp.isidentifier() and not keyword.iskeyword(comp) and not comp.startswith("__")
                and unicodedata.normalize("NFKC", comp) == comp and comp not in self.reserved)

    def _split(self, path: str) -> list[str] | None:
        """The components of ``path`` when every one can be kept as it is."""
        parts = path.split(".")
        if not all(self._attr_ok(p) or _index(p) for p in parts) or _index(parts[0]):
            return None
        return parts

    def _child_expr(self, parent: _Node, comp: str) -> str:
        return f"{parent.expr}[{comp}]" if parent.kind == "list" else f"{parent.expr}.{comp}"

    def _accepts(self, node: _Node, comp: str, module: bool) -> bool:
        """Whether ``node`` can hold a new child ``comp`` (``module``: a module, not a tensor);
        an empty container below the root becomes a list on its first index child."""
        if comp in node.children:
            return False
        # the model's own attributes are taken (a builtin's name is reserved for locals only:
        # ``self.input`` shadows nothing)
        if node is self.root and comp in self.cg.attrs and comp not in _BUILTINS:
            return False
        if _index(comp):
            if not module:
                return False
            if node.kind == "container" and node is not self.root and not node.children:
                node.kind = "list"
            return node.kind == "list"
        return node.kind == "container"

    def _add(self, parent: _Node, comp: str, node: _Node) -> _Node:
        if parent is self.root:
            self.cg.attrs.reserve(comp)
        parent.children[comp] = node
        return node

    def _container(self, parts: list[str]) -> _Node | None:
        """The container at ``parts`` (created as needed), or None if something else is there."""
        node = self.root
        for i, comp in enumerate(parts):
            child = node.children.get(comp)
            if child is None:
                if not self._accepts(node, comp, module=True):
                    return None
                child = self._add(node, comp, _Node("container", self._child_expr(node, comp),
                                                    ".".join(parts[: i + 1])))
            elif child.kind not in ("container", "list"):
                return None
            node = child
        return node

    # -------------------------------------------------------------- placing
    def leaf(self, path: str, ctor: str, ident: tuple) -> _Node:
        """An ``nn.Module`` leaf (a layer) at ``path``; the same layer placed twice is one."""
        return self._place(path, "leaf", lambda owner, name, expr: f"{expr} = {ctor}", ident)

    def tensor(self, path: str, kind: str, init_of) -> _Node:
        """A parameter or buffer at ``path``; ``init_of(owner_expr, name, expr)`` writes its
        declaration."""
        return self._place(path, kind, init_of)

    def _place(self, path: str, kind: str, init_of, ident: tuple = ()) -> _Node:
        parts = self._split(path)
        parent = self._container(parts[:-1]) if parts is not None and len(parts) > 1 else \
            self.root if parts is not None else None
        if parent is not None:
            comp = parts[-1]
            existing = parent.children.get(comp)
            if existing is not None and ident and existing.kind == "leaf" and existing.ident == ident:
                return existing
            if self._accepts(parent, comp, module=kind == "leaf"):
                expr = self._child_expr(parent, comp)
                node = _Node(kind, expr, ".".join(parts), ident=ident)
                node.init = init_of(parent.expr, comp, expr)
                return self._add(parent, comp, node)
        name = self.cg.attrs.create(path)
        node = _Node(kind, f"self.{name}", name, ident=ident)
        node.init = init_of("self", name, node.expr)
        self.root.children[name] = node
        return node

    # -------------------------------------------------------------- rendering
    def lines(self) -> list[str]:
        """The ``__init__`` statements: each container before its children."""
        out: list[str] = []

        def walk(node: _Node) -> None:
            for child in node.children.values():
                if child.kind == "list":
                    n = max(int(k) for k in child.children) + 1
                    out.append(f"{child.expr} = nn.ModuleList(nn.Module() for _ in range({n}))")
                    walk(child)
                elif child.kind == "container":
                    if node.kind != "list":  # a list's items already exist
                        out.append(f"{child.expr} = nn.Module()")
                    walk(child)
                else:
                    out.append(child.init)

        walk(self.root)
        return out


def register_buffer(owner: str, name: str, init: str, persistent: bool = True) -> str:
    flag = "" if persistent else ", persistent=False"
    return f"{owner}.register_buffer({pystr(name)}, {init}{flag})"
