"""The ``--out DIR`` of every verb: checked before any work, and written by one process at a time.

Every verb calls :func:`claim` first thing::

    claim(out, "prediction")

which

- refuses (:class:`~scalinglab.errors.UserError`, one line, CLI exit 2) an
  ``out`` that is an existing file, a directory holding another kind of
  result (a token corpus given as ``--out`` to ``predict``, a sweep to
  ``fit``, ...), or a path that cannot be created or written;
- creates the directory (and its missing parents), and removes them again
  when the verb ends leaving them empty, so that a verb that fails on bad
  input leaves nothing behind;
- takes an exclusive lock, ``.NAME.lock`` beside the directory (``flock``:
  the kernel releases it when the process ends, SIGKILL included, so a lock
  is never stale). A second process claiming the same ``out`` while the first
  works is refused at once, so two writers can never mix their files; each
  file inside is itself written atomically (:func:`scalinglab._io.atomic_path`,
  :class:`scalinglab.corpus.CorpusWriter`), so a killed writer leaves complete
  files or none.

Inside a command the claim is released when the command's context closes;
from Python, use it as a context manager or call :meth:`Claim.release`.
"""

from __future__ import annotations

import atexit
import importlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .errors import UserError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no locking, the other checks still run
    fcntl = None  # type: ignore[assignment]

#: Files that mark a directory as holding a result of one kind.
SIGNATURES: dict[str, tuple[str, ...]] = {
    "corpus": ("meta.json", "tokens.bin"),  # all of them
    "prediction": ("prediction.json", "calibration.json"),  # any of them
    "stats": ("correlations.json", "entropy.json"),
    "run": ("run.json",),
    "sweep": ("sweep.json",),
    "collapse": ("collapse.json",),
    "fit": ("fit.json",),
    "validation": ("validation.json", "grid.json"),
    "ladder": ("ladder.json",),
    "report": ("index.html",),
}

#: The kinds of result that may share a directory with a verb's result.
COMPATIBLE: dict[str, frozenset[str]] = {
    "corpus": frozenset({"corpus"}),
    "prediction": frozenset({"prediction", "stats"}),  # predict reuses stats' files
    "stats": frozenset({"stats", "prediction"}),
    "run": frozenset({"run"}),
    "sweep": frozenset({"sweep", "collapse"}),  # collapse writes into its sweep by default
    "collapse": frozenset({"collapse", "sweep"}),
    "fit": frozenset({"fit"}),
    "validation": frozenset({"validation"}),
    "ladder": frozenset({"ladder"}),
    "report": frozenset({"report"}),
}

_NAMES = {
    "corpus": "a token corpus",
    "prediction": "a prediction",
    "stats": "corpus statistics",
    "run": "a training run",
    "sweep": "a sweep",
    "collapse": "a collapse",
    "fit": "a fit",
    "validation": "a validation",
    "ladder": "a language ladder",
    "report": "an HTML report",
}


def kinds_in(path: str | os.PathLike[str]) -> set[str]:
    """The kinds of result a directory holds, by the files that mark them."""
    p = Path(path)
    if not p.is_dir():
        return set()
    found = set()
    for kind, files in SIGNATURES.items():
        present = [(p / f).exists() for f in files]
        if all(present) if kind == "corpus" else any(present):
            found.add(kind)
    return found


class Claim:
    """An output directory held by this process (see :func:`claim`)."""

    def __init__(self, out: Path, created: list[Path], lock_path: Path | None, fd: int | None):
        self.out = out
        self._created = created
        self._lock_path = lock_path
        self._fd = fd
        self.released = False

    def release(self) -> None:
        """Unlock, and remove the directories :func:`claim` made if they are still empty."""
        if self.released:
            return
        self.released = True
        if self._fd is not None:
            try:
                if self._lock_path is not None:
                    self._lock_path.unlink(missing_ok=True)
            except OSError:
                pass
            os.close(self._fd)
            self._fd = None
        _undo(self._created)  # deepest first; stops at one holding a result
        _HELD.pop(self.out, None)

    def __enter__(self) -> Claim:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()


_HELD: dict[Path, Claim] = {}


@atexit.register
def _release_all() -> None:
    for c in list(_HELD.values()):
        c.release()


def _current_context() -> Any:
    """The running command's (Typer's or Click's) context, or None outside a command."""
    for mod in ("typer._click.globals", "click.globals"):
        try:
            m = importlib.import_module(mod)
        except ImportError:
            continue
        ctx = m.get_current_context(silent=True)
        if ctx is not None:
            return ctx
    return None


def check(out: str | os.PathLike[str], kind: str, *, allow: Iterable[str] = ()) -> Path:
    """Refuse an ``out`` that cannot hold a result of ``kind``; create nothing.

    Raises :class:`UserError` when ``out`` is an existing file (or other
    non-directory), a directory holding another kind of result, or a path
    below a file or in a directory that cannot be written.
    """
    if kind not in COMPATIBLE:
        raise ValueError(f"unknown kind of result {kind!r}")
    p = Path(out).expanduser()
    if p.exists() or p.is_symlink():
        if not p.is_dir():
            what = "a broken link" if not p.exists() else "an existing file"
            raise UserError(f"--out {p} is {what}, not a directory; choose another --out")
        other = kinds_in(p) - COMPATIBLE[kind] - set(allow)
        if other:
            held = ", ".join(_NAMES[k] for k in sorted(other))
            raise UserError(f"--out {p} holds {held}, not {_NAMES[kind]}; choose another --out")
        if not os.access(p, os.W_OK | os.X_OK):
            raise UserError(f"--out {p} is not writable (permission denied)")
        return p
    # Find the nearest existing ancestor: it must be a writable directory.
    anc = p.absolute().parent
    while not anc.exists() and anc != anc.parent:
        anc = anc.parent
    if not anc.is_dir():
        raise UserError(f"cannot create the output directory {p}: {anc} is a file, not a directory")
    if not os.access(anc, os.W_OK | os.X_OK):
        raise UserError(
            f"cannot create the output directory {p}: {anc} is not writable (permission denied)"
        )
    return p


def claim(
    out: str | os.PathLike[str],
    kind: str,
    *,
    allow: Iterable[str] = (),
    create: bool = True,
) -> Claim:
    """Check ``out`` for a result of ``kind``, create it, and lock it for this process.

    Parameters
    ----------
    out : path
        The verb's ``--out``.
    kind : str
        The kind of result the verb writes (a key of :data:`COMPATIBLE`).
    allow : kinds
        Further kinds that may share the directory.
    create : bool
        Create the directory (False for writers that rename a finished
        directory into place, such as :class:`~scalinglab.corpus.CorpusWriter`;
        its parents are still created).

    Returns
    -------
    Claim
        Released when the running command ends (or by :meth:`Claim.release`).
    """
    p = check(out, kind, allow=allow)
    key = p.absolute()
    if key in _HELD and not _HELD[key].released:
        return _HELD[key]  # the same process claiming again (a verb calling another)
    created: list[Path] = []
    target = key if create else key.parent
    missing = []
    d = target
    while not d.exists():
        missing.append(d)
        d = d.parent
    try:
        for m in reversed(missing):
            m.mkdir()
            created.append(m)
    except OSError as e:
        for m in reversed(created):
            try:
                m.rmdir()
            except OSError:
                break
        raise UserError(f"cannot create the output directory {p}: {e.strerror or e}") from None
    lock_path, fd = _lock(key, created)
    c = Claim(key, created, lock_path, fd)
    if create and fd is not None:
        remove_leftovers(key)
    _HELD[key] = c
    ctx = _current_context()
    if ctx is not None:
        ctx.call_on_close(c.release)
    return c


def _lock(key: Path, created: list[Path]) -> tuple[Path | None, int | None]:
    """Take ``.NAME.lock`` beside ``key`` exclusively; refuse when another process holds it."""
    if fcntl is None:
        return None, None
    lock_path = key.parent / f".{key.name}.lock"
    while True:
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            _undo(created)
            raise UserError(f"cannot lock --out {key}: {e.strerror or e}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            try:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            except OSError:
                holder = "?"
            os.close(fd)
            _undo(created)
            raise UserError(
                f"--out {key} is being written by another scalinglab process (pid {holder}); "
                "wait for it to finish or choose another --out"
            ) from None
        # The holder before us may have removed the file between our open and
        # our lock: then we hold a lock on a name nobody else sees; take it again.
        try:
            same = os.fstat(fd).st_ino == os.stat(lock_path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return lock_path, fd


def remove_leftovers(out: Path) -> list[Path]:
    """Remove the temporary files (``.NAME.XXXX.tmp``) that killed writers left in ``out``.

    Called with the lock held: no other process is writing there, so every
    such file belongs to a writer that died before renaming it into place.
    """
    import shutil

    removed = []
    for t in out.glob(".*.tmp"):
        if t.is_dir() and not t.is_symlink():
            shutil.rmtree(t, ignore_errors=True)
        else:
            t.unlink(missing_ok=True)
        removed.append(t)
    return removed


def _undo(created: list[Path]) -> None:
    for m in reversed(created):
        try:
            m.rmdir()
        except OSError:
            break
