"""Run a fragile native step in a forked child with a memory cap and a time limit.

ONNX's C++ shape inference is not hardened against hostile models: a declared dim of 10^12
makes its data propagation allocate terabytes, and some malformed graphs crash it.  Such
a step runs here in a child process (``fork``: no re-import, copy-on-write memory), capped
by ``RLIMIT_AS`` and a timeout; the parent gets the result bytes, or None when the child
crashed, ran out of memory or time.  Where ``fork`` is not available the step runs in
process (no isolation).
"""

from __future__ import annotations

import os
import select
import signal
import struct
import time
from typing import Callable

_HEADER = struct.Struct("<Q")


def _vm_size() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def run_isolated(fn: Callable[[], bytes], *, memory: int = 4 << 30, timeout: float = 120.0) -> bytes | None:
    """``fn()`` (which returns bytes) in a child process; None if it failed in any way."""
    if not hasattr(os, "fork"):
        try:
            return fn()
        except Exception:  # noqa: BLE001
            return None
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 1
        try:
            os.close(read_fd)
            import resource

            cap = _vm_size() + memory
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
            data = fn()
            view = memoryview(_HEADER.pack(len(data)) + data)
            while view:
                view = view[os.write(write_fd, view):]
            code = 0
        except BaseException:  # noqa: BLE001 - the parent sees a failed child
            code = 1
        finally:
            os._exit(code)
    os.close(write_fd)
    chunks, deadline, failed = [], time.monotonic() + timeout, True
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            ready, _, _ = select.select([read_fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(read_fd, 1 << 20)
            if not chunk:
                failed = False
                break
            chunks.append(chunk)
    finally:  # on a timeout, or an exception here (an interrupt), the child goes too
        os.close(read_fd)
        if failed:
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    if failed or not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
        return None
    data = b"".join(chunks)
    if len(data) < _HEADER.size:
        return None
    (n,) = _HEADER.unpack_from(data)
    return data[_HEADER.size:_HEADER.size + n] if len(data) >= _HEADER.size + n else None
