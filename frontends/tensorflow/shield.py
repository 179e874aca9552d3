"""Keep TensorFlow's and tf2onnx's noise and quirks away from the user, for the duration of
a conversion only.

- :func:`quiet`: the ``tensorflow`` and ``absl`` loggers at ERROR, ``tf2onnx``'s at
  CRITICAL (it logs every rewrite at INFO/WARNING and each op it cannot convert at ERROR,
  which the frontend reports itself; autograph's "could not transform" warnings go
  through TensorFlow's logger), and Python warnings from those packages ignored.
  Levels are put back on exit.
- :func:`numpy_compat`: tf2onnx 1.17 still calls ``np.product``, which NumPy 2 removed
  (external-tensor storage, tfjs weights).  The alias exists only while the context is
  open, and only when NumPy lacks it; it is removed again on exit.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tempfile
import warnings

import numpy as np

# tf2onnx logs each op it cannot convert at ERROR: the frontend lists them all in one error
_LOGGERS = {"tensorflow": logging.ERROR, "tf2onnx": logging.CRITICAL, "absl": logging.ERROR, "h5py": logging.ERROR}
_ALIASES = {"product": np.prod}


@contextlib.contextmanager
def quiet():
    saved = {}
    for name, level in _LOGGERS.items():
        logger = logging.getLogger(name)
        saved[name] = logger.level
        logger.setLevel(level)
    try:
        with warnings.catch_warnings():
            for module in ("tensorflow", "tf2onnx", "keras", "absl", "h5py"):
                warnings.filterwarnings("ignore", module=module)
            yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


@contextlib.contextmanager
def numpy_compat():
    added = []
    for name, value in _ALIASES.items():
        if name not in np.__dict__:
            setattr(np, name, value)
            added.append(name)
    try:
        yield
    finally:
        for name in added:
            if np.__dict__.get(name) is _ALIASES[name]:
                delattr(np, name)


@contextlib.contextmanager
def shielded():
    """:func:`quiet`, :func:`numpy_compat` and :func:`native_stderr` together (what a
    tf2onnx call runs in)."""
    with quiet(), numpy_compat(), native_stderr():
        yield


# an absl / TensorFlow C++ log line below WARNING ("I0000 00:00:... file.cc:12] ...") and absl's banner
_NATIVE_NOISE = re.compile(rb"^(?:[IV]\d{4} |WARNING: All log messages before absl::InitializeLog)")


@contextlib.contextmanager
def native_stderr():
    """TensorFlow's C++ code writes INFO lines (grappler's "Starting new session" ...) straight
    to file descriptor 2 when the user imported TensorFlow without ``TF_CPP_MIN_LOG_LEVEL``:
    catch what is written there meanwhile and pass on everything but those lines."""
    fd = 2
    try:
        os.fstat(fd)
    except OSError:
        yield
        return
    try:
        sys.stderr.flush()
    except (AttributeError, OSError, ValueError):
        pass
    saved = os.dup(fd)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), fd)
        try:
            yield
        finally:
            try:
                sys.stderr.flush()
            except (AttributeError, OSError, ValueError):
                pass
            os.dup2(saved, fd)
            os.close(saved)
            tmp.seek(0)
            kept = b"".join(line for line in tmp.read().splitlines(keepends=True) if not _NATIVE_NOISE.match(line))
            if kept:
                os.write(fd, kept)


