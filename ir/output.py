"""Claiming an output path: the one place that decides whether mmconvert may write there.

Every artifact, IR folder and report goes through :func:`claim`.  The rules
(docs/security.md):

- an existing output is never replaced without ``force=True`` (exit 2 with a hint);
- even with ``force``, only a regular file (file outputs) or a folder that mmconvert
  wrote itself (folder outputs: a marker file, and nothing in it mmconvert did not write)
  is replaced; device nodes, FIFOs and sockets are never written;
- the output may not be a source, hold a source, or be where a source's data lives;
- everything is written into a staging folder beside the output (same filesystem) and
  moved into place by :meth:`Output.commit`; a failure, SIGINT or SIGTERM removes the
  staging folder (see :func:`signals_as_exceptions`);
- a staging folder carries its process id: the next run removes the ones whose process
  is gone (what a SIGKILL leaves);
- files and folders get the permissions the umask gives, not ``mkstemp``'s 0600/0700.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import shutil
import signal
import stat
from typing import Iterable, Iterator

from .errors import InputError

STAGING_PREFIX = ".mmconvert-tmp-"
MARKER_FILES = ("manifest.json", "graph.json")  # an mmconvert artifact or IR folder holds one
PRODUCER = "mmconvert"


_COMMITTED: list[str] = []  # outputs this process has moved into place, in order


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived: work was stopped and nothing partial was left behind.

    A BaseException (like KeyboardInterrupt), so that no ``except Exception`` on the way
    turns it into an ordinary error; every ``finally`` and ``with claim(...)`` still runs.
    The message says what, if anything, had already been written whole before the signal."""

    def __init__(self, signum: int):
        self.signum = signum
        self.exit_code = 128 + signum
        self.written = tuple(_COMMITTED)
        name = signal.Signals(signum).name
        if self.written:
            self.message = f"interrupted by {name} after {', '.join(self.written)} was written whole"
        else:
            self.message = f"interrupted by {name}: nothing was written"
        super().__init__(self.message)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _kind_of(path: str) -> str | None:
    """'file', 'folder', 'link', 'special' (device, FIFO, socket) or None when absent."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise InputError(f"{path}: cannot be examined ({e.strerror})") from None
    if stat.S_ISLNK(st.st_mode):
        return "link"
    if stat.S_ISREG(st.st_mode):
        return "file"
    if stat.S_ISDIR(st.st_mode):
        return "folder"
    return "special"


def is_ours(folder: str) -> tuple[bool, str]:
    """(True, "") when ``folder`` is an artifact or IR folder mmconvert wrote and holds
    nothing else; else (False, why)."""
    marker = None
    for name in MARKER_FILES:
        path = os.path.join(folder, name)
        if os.path.isfile(path) and not os.path.islink(path):
            try:
                with open(path, "rb") as f:
                    doc = json.loads(f.read(1 << 22) or b"null")
            except (OSError, ValueError):
                continue
            if isinstance(doc, dict) and (doc.get("producer") == PRODUCER or doc.get("format") == "mmconvert-ir"):
                marker = doc
                break
    if marker is None:
        return False, "it is not a folder mmconvert wrote (no mmconvert manifest.json or graph.json in it)"
    known = set(marker.get("files") or ()) | set(MARKER_FILES) | {"weights.safetensors", "model.py", "__pycache__"}
    foreign = sorted(e for e in os.listdir(folder) if e not in known)
    if foreign:
        shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
        return False, f"it holds files mmconvert did not write ({shown})"
    return True, ""


def _same_or_inside(path: str, other: str) -> bool:
    """``other`` is ``path`` or lies below it (after resolving links)."""
    a, b = os.path.realpath(path), os.path.realpath(other)
    return a == b or b.startswith(a.rstrip(os.sep) + os.sep)


def _check_target(path: str, kind: str, force: bool, sources: Iterable[str]) -> None:
    for src in sources:
        if not src:
            continue
        if _same_or_inside(path, src):
            what = "is the source" if os.path.realpath(path) == os.path.realpath(src) else "holds the source"
            raise InputError(f"{path}: the output {what} ({src}); choose another output path")
    have = _kind_of(path)
    if have is None:
        return
    if have == "special":
        raise InputError(f"{path}: is a device, FIFO or socket, not something mmconvert writes; choose another output path")
    if have == "link":
        raise InputError(f"{path}: is a symbolic link; mmconvert does not write through links, choose another output path")
    if kind == "file" and have != "file":
        raise InputError(f"{path}: is a folder; give the path of the file to write")
    if kind == "folder" and have != "folder":
        raise InputError(f"{path}: is a file; this target writes a folder")
    if not force:
        raise InputError(f"{path}: already exists", hint="pass --force (force=True) to replace it")
    if kind == "folder":
        ours, why = is_ours(path)
        if not ours:
            raise InputError(f"{path}: not replaced even with --force: {why}")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale(parent: str) -> list[str]:
    """Remove staging folders in ``parent`` left by mmconvert processes that no longer run."""
    removed = []
    try:
        entries = os.listdir(parent)
    except OSError:
        return removed
    for entry in entries:
        if not entry.startswith(STAGING_PREFIX):
            continue
        pid_text = entry[len(STAGING_PREFIX):].split("-", 1)[0]
        if not pid_text.isdigit() or _alive(int(pid_text)):
            continue
        path = os.path.join(parent, entry)
        if _kind_of(path) == "folder":
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _mkdir_staging(parent: str) -> str:
    mask = _umask()
    while True:
        path = os.path.join(parent, f"{STAGING_PREFIX}{os.getpid()}-{secrets.token_hex(4)}")
        try:
            os.mkdir(path, 0o777 & ~mask)
            return path
        except FileExistsError:
            continue


def os_error(path: str, e: OSError) -> InputError:
    """An OSError while writing ``path`` as the typed error users see (exit 2)."""
    reason = e.strerror or str(e)
    hints = {errno.EACCES: "check the permissions", errno.EROFS: "the file system is read-only",
             errno.ENOSPC: "free some disk space", errno.ENOTDIR: "a part of the path is a file"}
    return InputError(f"{path}: cannot write there ({reason})", hint=hints.get(e.errno))


class Output:
    """A claimed output: write into :attr:`staging`, then :meth:`commit` (or :meth:`discard`)."""

    def __init__(self, path: str, kind: str, force: bool, sources: tuple[str, ...]):
        self.path = path
        self.kind = kind
        self.force = force
        self.sources = sources
        self.parent = os.path.dirname(path)
        self.staging_dir = _mkdir_staging(self.parent)
        self.committed = False

    @property
    def staging(self) -> str:
        """Where the writer writes: the folder itself (folder outputs) or the file's path
        inside the staging folder (file outputs; companion files go beside it)."""
        if self.kind == "folder":
            return os.path.join(self.staging_dir, "out")
        return os.path.join(self.staging_dir, os.path.basename(self.path))

    def commit(self) -> str:
        """Move the staged output into place; returns the final path."""
        if self.committed:
            return self.path
        try:
            self._commit()
        except OSError as e:
            self.discard()
            raise os_error(self.path, e) from None
        except BaseException:
            self.discard()
            raise
        self.committed = True
        _COMMITTED.append(self.path)
        return self.path

    def _commit(self) -> None:
        mask = _umask()
        if self.kind == "folder":
            src = self.staging
            if not os.path.isdir(src):
                raise InputError(f"{self.path}: nothing was written")
            _fix_modes(src, mask)
            _check_target(self.path, "folder", self.force, self.sources)
            old = None
            if os.path.isdir(self.path):
                old = os.path.join(self.staging_dir, "old")
                os.replace(self.path, old)
            os.replace(src, self.path)
        else:
            names = sorted(os.listdir(self.staging_dir))
            if os.path.basename(self.path) not in names:
                raise InputError(f"{self.path}: nothing was written")
            targets = [os.path.join(self.parent, n) for n in names]
            for t in targets:  # every file is claimable before any is moved
                _check_target(t, "file", self.force, self.sources)
            for n, t in zip(names, targets):
                s = os.path.join(self.staging_dir, n)
                os.chmod(s, 0o666 & ~mask)
                if t != self.path:
                    os.replace(s, t)
            os.replace(os.path.join(self.staging_dir, os.path.basename(self.path)), self.path)
        shutil.rmtree(self.staging_dir, ignore_errors=True)

    def discard(self) -> None:
        shutil.rmtree(self.staging_dir, ignore_errors=True)

    def __enter__(self) -> "Output":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None or not self.committed:
            self.discard()


def _fix_modes(folder: str, mask: int) -> None:
    os.chmod(folder, 0o777 & ~mask)
    for root, dirs, files in os.walk(folder):
        for d in dirs:
            os.chmod(os.path.join(root, d), 0o777 & ~mask)
        for f in files:
            os.chmod(os.path.join(root, f), 0o666 & ~mask)


def check(path, kind: str, *, force: bool = False, sources: Iterable[str] = ()) -> None:
    """Raise InputError now if ``path`` could not be claimed (nothing is created)."""
    path = os.path.abspath(os.fspath(path))
    _check_target(path, kind, force, tuple(os.path.abspath(os.fspath(s)) for s in sources if s))
    parent = os.path.dirname(path)
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise InputError(f"{path}: a part of the path is a file, not a folder")
    try:  # can we create things there? (a probe, removed at once)
        os.rmdir(_mkdir_staging(parent))
    except OSError as e:
        raise os_error(path, e) from None


def claim(path, kind: str, *, force: bool = False, sources: Iterable[str] = ()) -> Output:
    """Check that ``path`` may be written as a ``kind`` ("file" or "folder") output and
    return an :class:`Output` staged beside it.  Raises InputError (exit 2) otherwise."""
    if kind not in ("file", "folder"):
        raise ValueError(kind)
    path = os.path.abspath(os.fspath(path))
    sources = tuple(os.path.abspath(os.fspath(s)) for s in sources if s)
    parent = os.path.dirname(path)
    if path == parent:
        raise InputError(f"{path}: cannot write to the root of the file system")
    _check_target(path, kind, force, sources)
    try:
        os.makedirs(parent, exist_ok=True)
    except FileExistsError:
        raise InputError(f"{path}: a part of the path is a file, not a folder") from None
    except OSError as e:
        raise os_error(path, e) from None
    if not os.path.isdir(parent):
        raise InputError(f"{path}: a part of the path is a file, not a folder")
    clean_stale(parent)
    try:
        return Output(path, kind, force, sources)
    except OSError as e:
        raise os_error(path, e) from None


def write_text(path, text: str, *, force: bool = False, sources: Iterable[str] = ()) -> str:
    """Write a small text file (a report) through a claim."""
    with claim(path, "file", force=force, sources=sources) as out:
        try:
            with open(out.staging, "w", encoding="utf-8") as f:
                f.write(text)
        except OSError as e:
            raise os_error(out.path, e) from None
        return out.commit()


def ignore_signals() -> None:
    """SIGTERM and SIGINT are ignored from now on (the work is done or being cleaned up)."""
    for s in (signal.SIGTERM, signal.SIGINT):
        signal.signal(s, signal.SIG_IGN)


@contextlib.contextmanager
def signals_as_exceptions(*, restore: bool = True) -> Iterator[None]:
    """SIGTERM (and SIGINT) raise :class:`Interrupted` in the main thread while inside, so
    every ``with claim(...)`` and ``finally`` on the way out cleans up.

    Only the first signal raises: later ones are ignored, so a second Ctrl-C cannot cut the
    cleanup short. With ``restore=False`` the handlers are not put back on the way out: the
    command line keeps them until it exits, so a signal during the exit itself cannot kill
    the process with a status that hides what was written."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, _frame):
        ignore_signals()
        raise Interrupted(signum)

    old = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    for s in old:
        signal.signal(s, handler)
    try:
        yield
    finally:
        if restore:
            for s, h in old.items():
                signal.signal(s, h)
