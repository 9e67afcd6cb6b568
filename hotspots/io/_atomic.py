"""Atomic file writing: write to a temporary file beside the target, then rename; and the
same for whole folders (build beside, swap in with renames).

A run that fails part-way leaves the previous output (or nothing) in place, never a
half-written file or folder.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it onto ``path`` on success.

    The temporary file keeps the target's suffix so that format-sniffing writers
    (GDAL drivers, matplotlib) behave as for the real name.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_path(d / "a.txt") as tmp:
    ...     _ = tmp.write_text("hello")
    >>> (d / "a.txt").read_text()
    'hello'
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{target.stem}.", suffix=target.suffix, dir=target.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()  # writers such as GDAL refuse to overwrite; let them create it
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


# --- Whole folders -----------------------------------------------------------------------
#
# A run's output folder is built in a sibling staging folder and swapped in by renames, so
# that ``out`` is always either the complete old folder or the complete new one:
#
#   1. ``<out>.staging-<pid>-<random>`` is created beside ``out`` (same file system) and
#      filled;
#   2. its files and folders are flushed to disk (fsync), so that a power cut after the
#      swap cannot leave empty files in the new folder;
#   3. ``out`` (if it exists) is renamed to ``<out>.aside-<pid>-<random>``, the staging
#      folder is renamed to ``out``, and the aside folder is removed.
#
# A process killed between the two renames of step 3 leaves the complete old folder as
# the aside folder and no ``out``: the next run puts it back before it writes anything
# (:func:`remove_stale`), and removes every staging and aside folder of a dead run.

#: Staging and aside folders beside ``out``: ``<out name>.<kind>-<pid>-<8 hex digits>``.
_LEFTOVER = re.compile(r"\.(staging|aside)-(\d+)-([0-9a-f]{8})")
#: A leftover folder whose process cannot be checked is stale after this many seconds.
STALE_AFTER_S = 24 * 3600


def _sibling(target: Path, kind: str) -> Path:
    return target.parent / f"{target.name}.{kind}-{os.getpid()}-{secrets.token_hex(4)}"


def staging_folder(target: str | os.PathLike[str]) -> Path:
    """Create an empty ``<target>.staging-<pid>-<random>`` folder beside ``target``.

    Examples
    --------
    >>> import tempfile, pathlib, re
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> s = staging_folder(d / "out")
    >>> bool(re.fullmatch(r"out\\.staging-\\d+-[0-9a-f]{8}", s.name)), s.parent == d
    (True, True)
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    path = _sibling(target, "staging")
    os.mkdir(path)
    return path


def fsync_tree(folder: str | os.PathLike[str]) -> None:
    """Flush every file and folder under ``folder`` (and ``folder`` itself) to disk."""
    for root, _dirs, files in os.walk(folder):
        for name in files:
            fsync_file(os.path.join(root, name))
        _fsync_dir(root)


def fsync_file(path: str | os.PathLike[str]) -> None:
    """Flush the file ``path`` to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: str | os.PathLike[str]) -> None:
    if os.name == "nt":  # folders cannot be opened for fsync on Windows
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish_folder(staging: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
    """Replace the folder ``target`` by ``staging`` (made by :func:`staging_folder`).

    Two renames: ``target`` aside, ``staging`` onto ``target``; then the old folder is
    removed. If the second rename fails the old folder is put back, so an error leaves
    ``target`` as it was; files of the old folder that the new one lacks are gone after.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> (d / "out").mkdir(); _ = (d / "out" / "old.txt").write_text("old")
    >>> s = staging_folder(d / "out"); _ = (s / "new.txt").write_text("new")
    >>> publish_folder(s, d / "out")
    >>> sorted(p.name for p in d.iterdir()), sorted(p.name for p in (d / "out").iterdir())
    (['out'], ['new.txt'])
    """
    staging, target = Path(staging), Path(target)
    fsync_tree(staging)
    aside = None
    if os.path.lexists(target):
        aside = _sibling(target, "aside")
        os.rename(target, aside)
    try:
        os.rename(staging, target)
    except BaseException:
        if aside is not None:
            os.rename(aside, target)
        raise
    _fsync_dir(target.parent)
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)  # what is left is stale for the next run


def leftovers(target: str | os.PathLike[str]) -> list[tuple[Path, str, int]]:
    """Staging and aside folders beside ``target``: (path, kind, pid), by name."""
    target = Path(target)
    if not target.parent.is_dir():
        return []
    found = []
    prefix = target.name
    for entry in sorted(target.parent.iterdir()):
        rest = entry.name[len(prefix) :] if entry.name.startswith(prefix) else ""
        m = _LEFTOVER.fullmatch(rest)
        if m and entry.is_dir() and not entry.is_symlink():
            found.append((entry, m.group(1), int(m.group(2))))
    return found


def _alive(pid: int) -> bool:
    """Whether process ``pid`` may still be running (True when it cannot be told)."""
    if pid == os.getpid() or os.name == "nt":  # os.kill would end the process on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. PermissionError: it exists, owned by another user
        return True
    return True


def _stale(path: Path, pid: int) -> bool:
    try:
        age = time.time() - path.stat().st_mtime
    except OSError:
        return False
    return not _alive(pid) or age > STALE_AFTER_S


def remove_stale(target: str | os.PathLike[str]) -> list[Path]:
    """Clean up after runs killed while writing ``target``; return the folders removed.

    Only folders named ``<target name>.staging-<pid>-<random>`` or ``….aside-…`` beside
    ``target`` are touched, and only those whose process is no longer running (or, where
    that cannot be checked, older than :data:`STALE_AFTER_S`). When ``target`` is missing
    and such a run left the old folder aside, the newest aside folder is renamed back to
    ``target`` first: it is the complete previous output.
    """
    target = Path(target)
    stale = [(p, kind) for p, kind, pid in leftovers(target) if _stale(p, pid)]
    if not os.path.lexists(target):
        asides = [p for p, kind in stale if kind == "aside"]
        if asides:
            newest = max(asides, key=lambda p: p.stat().st_mtime)
            os.rename(newest, target)
            stale = [(p, k) for p, k in stale if p != newest]
    for path, _kind in stale:
        shutil.rmtree(path, ignore_errors=True)
    return [p for p, _ in stale]
