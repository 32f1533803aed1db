"""Writing results safely: every file a command writes is checked against its inputs
and its other outputs before any work starts, written under a temporary name, and put
in place only when all of a command's outputs are complete (all or none).

* :func:`check_distinct` refuses an output that is an input or another output.
* :class:`OutputLock` stops two runs writing the same file at once.
* :func:`temporary_path` is a short hidden name beside the target (a name of any legal
  length still fits), and :func:`commit` moves finished files into place, without
  replacing a file that appeared meanwhile unless overwriting was asked for, and
  removes what it moved if a later move fails.
* Every temporary file and folder is remembered until it is put in place or discarded:
  :func:`remove_unfinished` deletes what an interrupted command left.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from .errors import OutputError, UsageError

# Temporary files and folders of this process not yet put in place or discarded (a
# plain set: a signal handler may read it while the main thread adds to it).
_unfinished: set[Path] = set()


def remove_unfinished() -> list[Path]:
    """Deletes every temporary file and folder still unfinished (an interrupted job's);
    returns those that could not be deleted."""
    left = []
    for tmp in list(_unfinished):
        try:
            if tmp.is_dir() and not tmp.is_symlink():
                shutil.rmtree(tmp)
            else:
                tmp.unlink(missing_ok=True)
            _unfinished.discard(tmp)
        except OSError:
            left.append(tmp)
    return left


def _same(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def check_distinct(inputs: list[tuple[str, str | os.PathLike]], outputs: list[tuple[str, str | os.PathLike]]) -> None:
    """``inputs``/``outputs``: (what it is, path) pairs, e.g. ("--blur-report", "r.csv").
    Raises UsageError when an output would overwrite an input or another output."""
    seen: list[tuple[str, Path]] = []
    for what, path in outputs:
        p = Path(path)
        for in_what, q in inputs:
            if _same(p, Path(q)):
                raise UsageError(f"{path}: {what} would overwrite the {in_what}; choose another name")
        for other, q in seen:
            if _same(p, q):
                raise UsageError(f"{path}: given for both {other} and {what}; choose two names")
        seen.append((what, p))


def check_writable(path: str | os.PathLike, what: str = "output", overwrite: bool = True) -> Path:
    """An output file's folder exists and is writable, and the name is not a folder
    (or, without ``overwrite``, an existing file)."""
    p = Path(path)
    if p.is_dir():
        raise UsageError(f"{path}: {what} is a folder; give a file name")
    if p.exists() and not overwrite:
        raise UsageError(f"{path}: already exists (use --overwrite to replace it)")
    check_parent_writable(path, p)
    return p


def temporary_path(target: str | os.PathLike, suffix: str | None = None) -> Path:
    """A new empty hidden file beside ``target`` (same file system, so the final move is
    a rename), short whatever the target's name: ``.vfi-XXXXXXXX.part.EXT``."""
    t = Path(target)
    ext = t.suffix if suffix is None else suffix
    try:
        fd, tmp = tempfile.mkstemp(dir=t.parent if str(t.parent) else ".", prefix=".vfi-", suffix=f".part{ext[:16]}")
    except OSError as e:
        raise OutputError(f"{target}: cannot write in {t.parent}: {e.strerror or e}") from None
    os.close(fd)
    _unfinished.add(Path(tmp))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; results are ordinary files
    return Path(tmp)


def temporary_dir(target: str | os.PathLike) -> Path:
    """A new hidden folder beside ``target`` (an image sequence is written there and the
    folder renamed at the end)."""
    t = Path(target)
    try:
        tmp = Path(tempfile.mkdtemp(dir=t.parent if str(t.parent) else ".", prefix=".vfi-", suffix=".part"))
    except OSError as e:
        raise OutputError(f"{target}: cannot write in {t.parent}: {e.strerror or e}") from None
    _unfinished.add(tmp)
    return tmp


def left_behind(left: list[Path]) -> str:
    """What an interrupted command says of its temporary files."""
    return f"could not remove {', '.join(map(str, left))}" if left else "no output was left behind"


def forget(tmp: Path) -> None:
    """``tmp`` was put in place (renamed to its final name) or deleted: no longer one to
    remove."""
    _unfinished.discard(Path(tmp))


def write_text_tmp(target: str | os.PathLike, text: str) -> Path:
    """``text`` into a temporary file for ``target`` (see :func:`commit`)."""
    tmp = temporary_path(target)
    try:
        tmp.write_text(text)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"{target}: write failed: {e.strerror or e}") from None
    return tmp


def commit(moves: list[tuple[Path, Path, bool]]) -> None:
    """Renames each finished temporary file to its final name, in order: ``(tmp,
    final, replace)``.  Where ``replace`` is false, a final name that appeared while the
    job ran (another program writing it) is not replaced.  If any move fails, the
    files already moved are removed and every temporary file is deleted: all outputs
    appear, or none."""
    done: list[Path] = []
    try:
        for tmp, final, replace in moves:
            try:
                if Path(tmp).is_dir():
                    _move_dir(Path(tmp), Path(final), replace)
                elif replace:
                    os.replace(tmp, final)
                else:
                    _rename_no_replace(Path(tmp), Path(final))
            except FileExistsError:
                raise OutputError(f"{final}: appeared while vfi was running (another program writing it?); "
                                  "nothing was replaced") from None
            except OSError as e:
                raise OutputError(f"{final}: could not be put in place: {e.strerror or e}") from None
            forget(tmp)
            done.append(Path(final))
    except BaseException:
        for final in done:
            if final.is_dir():
                shutil.rmtree(final, ignore_errors=True)
            else:
                final.unlink(missing_ok=True)
        discard(moves)
        raise


def discard(moves) -> None:
    """Deletes the temporary files (and folders) of ``moves`` (a failed job's)."""
    for tmp, *_ in moves:
        if Path(tmp).is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            Path(tmp).unlink(missing_ok=True)
        if not Path(tmp).exists():
            forget(tmp)


def _move_dir(tmp: Path, final: Path, replace: bool) -> None:
    """A finished folder into place: over nothing or an empty folder, or (``replace``)
    over an earlier result, which is moved aside first and deleted after."""
    if not final.exists() or (final.is_dir() and not any(final.iterdir())):
        os.replace(tmp, final)
        return
    if not replace:
        raise FileExistsError(str(final))
    aside = Path(tempfile.mkdtemp(dir=final.parent, prefix=".vfi-old-"))
    os.replace(final, aside / "old")
    try:
        os.replace(tmp, final)
    except OSError:
        os.replace(aside / "old", final)
        raise
    finally:
        shutil.rmtree(aside, ignore_errors=True)


def _rename_no_replace(tmp: Path, final: Path) -> None:
    """rename(2) that fails if ``final`` exists: a hard link (atomic on POSIX), then
    the temporary name removed; where links are not supported, a check and a rename."""
    try:
        os.link(tmp, final)
    except FileExistsError:
        raise
    except OSError as e:
        if e.errno not in (errno.EPERM, errno.EXDEV, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
        if final.exists():
            raise FileExistsError(str(final)) from None
        os.replace(tmp, final)
        return
    os.unlink(tmp)


class OutputLock:
    """Held while a job writes ``target``: a second job on the same file fails at once
    (``flock`` on a hidden file beside it, released by the system if the process dies)."""

    def __init__(self, target: str | os.PathLike):
        t = Path(target)
        key = hashlib.sha1(str(t.resolve()).encode()).hexdigest()[:16]
        self.path = (t.parent if str(t.parent) else Path(".")) / f".vfi-lock-{key}"
        self.target = target
        self.fd: int | None = None

    def __enter__(self) -> "OutputLock":
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock
            return self
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o644)
        except OSError as e:
            raise OutputError(f"{self.target}: cannot write in its folder: {e.strerror or e}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise OutputError(f"{self.target}: another vfi is writing this file right now") from None
        self.fd = fd
        _unfinished.add(self.path)
        return self

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            try:
                os.unlink(self.path)
            except OSError:
                pass
            forget(self.path)
            os.close(self.fd)
            self.fd = None


class OutputSet:
    """The files one command writes (reports, tables, pictures): each made under a
    temporary name (``tmp = outputs.path(final)``) and all put in place when the block
    ends without an error, or all removed when it does not."""

    def __init__(self, replace: bool = True):
        self.replace = replace
        self.moves: list[tuple[Path, Path, bool]] = []

    def path(self, final: str | os.PathLike) -> Path:
        tmp = temporary_path(final)
        self.moves.append((tmp, Path(final), self.replace))
        return tmp

    def __enter__(self) -> "OutputSet":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            commit(self.moves)
        else:
            discard(self.moves)


def check_stdout_free(output: str, json_summary: bool) -> None:
    """A JSON summary goes to stdout, so the video cannot (``-o -``)."""
    if output == "-" and json_summary:
        raise UsageError("--json prints to stdout, which -o - fills with video; use one or the other")


def check_parent_writable(label, path: Path) -> None:
    """The folder ``path`` goes in exists and can be written to (errors name ``label``)."""
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"{label}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise OutputError(f"{label}: folder {parent} is not writable")
