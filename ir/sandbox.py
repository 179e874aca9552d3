"""Run a fragile native step in a forked child with a memory cap and a time limit, and run
a source model's reference in a confined working directory and environment (:func:`confined`).

ONNX's C++ shape inference is not hardened against hostile models: a declared dim of 10^12
makes its data propagation allocate terabytes, and some malformed graphs crash it.  Such
a step runs here in a child process (``fork``: no re-import, copy-on-write memory), capped
by ``RLIMIT_AS`` and a timeout; the parent gets the result bytes, or None when the child
crashed, ran out of memory or time.  Where ``fork`` is not available the step runs in
process (no isolation).
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import shutil
import signal
import struct
import tempfile
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


# environment variables a source model could read to reach a user's accounts: cloud and
# hub credentials, tokens, passwords, keys, agent sockets (matched on the name)
_CREDENTIALS = re.compile(r"(?i)^(AWS_|AZURE_|GOOGLE_|GCLOUD|GCS_|S3_|HF_|HUGGING_?FACE|KUBECONFIG$|SSH_AUTH_SOCK$|"
                          r"NETRC$|DOCKER_|GH_|GITHUB_|GITLAB_|NPM_|PYPI_|TWINE_)|"
                          r"(TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY)")


def credential_names(environ=None) -> list[str]:
    """The names in ``environ`` (default ``os.environ``) that :func:`confined` hides."""
    return sorted(k for k in (os.environ if environ is None else environ) if _CREDENTIALS.search(k))


@contextlib.contextmanager
def confined(workdir: str | None = None):
    """Run the source model's reference in a confined process state: the working directory
    is a fresh, empty folder (``workdir``, created and removed here; a temporary folder
    when None) so that a relative path in the model lands in the staging area, and the
    credential variables of :func:`credential_names` are removed from the environment
    meanwhile.  Both are put back on exit.  In-process: the op allowlists of the frontends
    are what keep a model from acting; this limits what a trusted (``--trust-source-ops``)
    or overlooked op can reach."""
    made = workdir is None
    path = tempfile.mkdtemp(prefix="mmconvert-reference-") if made else workdir
    if not made:
        os.makedirs(path, exist_ok=True)
    hidden = {k: os.environ.pop(k) for k in credential_names()}
    cwd = os.getcwd()
    os.chdir(path)
    try:
        yield path
    finally:
        os.chdir(cwd)
        os.environ.update(hidden)
        shutil.rmtree(path, ignore_errors=True)
