"""Importing a registered frontend, backend or runner module, with the errors users see."""

from __future__ import annotations

import importlib

from .errors import InputError, UnsupportedError


def load_plugin(module: str, name: str, known: tuple[str, ...], what: str):
    """Import ``module`` (the ``name`` entry of ``known`` ``what``s): an unknown name is an
    InputError, a module not built yet an UnsupportedError, a missing framework a hint
    naming the pip extra."""
    if name not in known:
        raise InputError(f"unknown {what} '{name}' (choose from {', '.join(known)})")
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name == module:
            raise UnsupportedError(f"the {name} {what} is not available in this version yet") from None
        raise InputError(f"the {name} {what} needs '{e.name}': pip install 'mmconvert[{name}]'") from None
