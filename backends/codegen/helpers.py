"""Helper functions a backend copies into its artifacts, read as source text.

A backend keeps the functions its emitted code may call in one file (``runtime.py``: plain
framework code the user could have written).  The emitter needs their *text*, not the
functions: this module parses the file with ``ast`` and hands out each function's source,
so generating code never imports the target framework.
"""

from __future__ import annotations

import ast
from functools import cached_property


class HelperSource:
    """The top-level functions of a helper file and what each depends on (``DEPENDS``)."""

    def __init__(self, path: str):
        self.path = path

    @cached_property
    def _parsed(self) -> tuple[dict[str, str], dict[str, tuple[str, ...]], list[str]]:
        with open(self.path, encoding="utf-8") as f:
            text = f.read()
        tree = ast.parse(text, self.path)
        functions: dict[str, str] = {}
        depends: dict[str, tuple[str, ...]] = {}
        for node in tree.body:
            if isinstance(node, ast.FunctionDef):
                functions[node.name] = ast.get_source_segment(text, node)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                target = node.targets[0] if isinstance(node, ast.Assign) else node.target
                if isinstance(target, ast.Name) and target.id == "DEPENDS" and node.value is not None:
                    depends = {k: tuple(v) for k, v in ast.literal_eval(node.value).items()}
        return functions, depends, list(functions)

    @property
    def names(self) -> set[str]:
        return set(self._parsed[0])

    @property
    def DEPENDS(self) -> dict[str, tuple[str, ...]]:  # noqa: N802 - the file's own name for it
        return self._parsed[1]

    def sources(self, names: list[str]) -> str:
        """The source text of the helpers ``names``, in the file's order."""
        functions, _, order = self._parsed
        text = "\n\n\n".join(functions[n] for n in sorted(set(names), key=order.index))
        return text + "\n" if text else ""
