"""Where commands put their outputs, without ever destroying anything else.

Every command that writes files (``convert``, ``train``, ``report``, ``results export``,
``evaluate --save-logits``) follows the same rules, kept here:

- An output *file* must not exist unless ``overwrite=True``. It is written to a temporary
  file beside it and renamed into place (:func:`write_file`; :func:`check_output_file`
  for a command that writes the file itself).
- An output *folder* may be new, empty, or one this command marked as its own
  (``marker``); any other existing folder needs ``overwrite=True``. The outputs are made
  in a temporary sibling (:func:`staging_dir`), and :func:`publish_dir` renames it into
  place when the folder is new, or else moves the files in one by one (``os.replace``)
  and touches nothing but the command's own file names (``names``).
- Never, even with ``overwrite=True``: the current folder or one of its parents as an
  output folder, a folder where a file must go or a file where a folder must go, and an
  output that would replace one of the command's inputs.

Breaking a rule raises :class:`~bgnn_deploy.errors.OutputError`, before any work when the
command checks first.

>>> import tempfile
>>> out = Path(tempfile.mkdtemp()) / "out"
>>> out.mkdir()
>>> _ = (out / "notes.txt").write_text("the user's")
>>> check_output_dir(out, ["a.txt"])  # doctest: +ELLIPSIS
Traceback (most recent call last):
    ...
bgnn_deploy.errors.OutputError: ... already exists and holds 1 file (notes.txt)
>>> work = staging_dir(out)
>>> _ = (work / "a.txt").write_text("ours")
>>> [p.name for p in publish_dir(work, out, ["a.txt"], overwrite=True)]
['a.txt']
>>> sorted(p.name for p in out.iterdir())
['a.txt', 'notes.txt']
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from bgnn_deploy.errors import OutputError

__all__ = [
    "check_output_dir",
    "check_output_file",
    "output_errors",
    "publish_dir",
    "staging_dir",
    "write_file",
]

PathLike = str | os.PathLike


@contextmanager
def output_errors(path: PathLike) -> Iterator[None]:
    """Turn an ``OSError`` inside (full disk, read-only file system, a race) into an
    :class:`OutputError` naming ``path``."""
    try:
        yield
    except OSError as e:
        raise OutputError(f"cannot write {path}: {e.strerror or e}") from None


def check_output_file(
    path: PathLike, *, overwrite: bool = False, inputs: Iterable[PathLike] = ()
) -> Path:
    """Raise unless ``path`` can be written as a file: not a folder, its folder can be made
    and written, not one of ``inputs``, and absent unless ``overwrite``."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{path} is a folder", hint="give the name of a file to write")
    _check_creatable(path)
    if path.exists() or path.is_symlink():
        if (source := _input_at(path, inputs)) is not None:
            raise OutputError(
                f"{path} is an input of this command ({source}); writing it would destroy it",
                hint="write to another file",
            )
        if not overwrite:
            raise OutputError(
                f"{path} already exists", hint="--overwrite replaces it; or give another name"
            )
        if path.exists() and not path.is_file():
            raise OutputError(f"{path} exists and is not a regular file")
    return path


def write_file(
    path: PathLike, data: bytes, *, overwrite: bool = False, inputs: Iterable[PathLike] = ()
) -> Path:
    """Write ``data`` to ``path`` under the rules of :func:`check_output_file`, by renaming a
    finished temporary file (no reader ever sees half a file)."""
    inputs = list(inputs)
    path = check_output_file(path, overwrite=overwrite, inputs=inputs)
    with output_errors(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.chmod(tmp, 0o666 & ~_umask())  # as open() would make it, not mkstemp's 0600
            check_output_file(path, overwrite=overwrite, inputs=inputs)  # may have appeared
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return path


def check_output_dir(
    out_dir: PathLike,
    names: Sequence[str],
    *,
    overwrite: bool = False,
    inputs: Iterable[PathLike] = (),
    marker: str | None = None,
    owned: str | None = None,
) -> Path:
    """Raise unless the files ``names`` can be written into the folder ``out_dir``.

    An existing folder that holds anything needs ``overwrite``, unless it holds the file
    ``marker`` (written there by :func:`publish_dir`: a folder this command made).
    ``owned`` describes ``names`` in the hint (default: the names).
    """
    out = Path(out_dir)
    here, target = Path.cwd().resolve(), out.resolve()
    if target == here or target in here.parents:
        where = "the current folder" if target == here else "a parent of the current folder"
        raise OutputError(
            f"{out} is {where}; outputs never go there, even with --overwrite",
            hint="give the outputs a folder of their own, e.g. a new subfolder",
        )
    if not (out.exists() or out.is_symlink()):
        _check_creatable(out)
        return out
    if not out.is_dir():
        raise OutputError(f"{out} exists and is not a folder", hint="give a folder to write")
    inputs = list(inputs)
    for name in names:
        if (source := _input_at(out / name, inputs)) is not None:
            raise OutputError(
                f"{source} is an input of this command and would be replaced by its output "
                f"{out / name}, even with --overwrite",
                hint="write the outputs to another folder",
            )
        if (out / name).is_dir():
            raise OutputError(f"{out / name} is a folder, in the way of the file {name}")
    if not os.access(out, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {out}: permission denied")
    entries = sorted(os.listdir(out))
    ours = marker is not None and (out / marker).is_file()
    if entries and not (overwrite or ours):
        shown = ", ".join(entries[:3]) + (
            f" and {len(entries) - 3} more" if len(entries) > 3 else ""
        )
        raise OutputError(
            f"{out} already exists and holds {len(entries)} "
            f"{'file' if len(entries) == 1 else 'files'} ({shown})",
            hint=f"--overwrite writes into it, replacing only {owned or ', '.join(names)}, "
            "and keeps every other file; or give a new folder",
        )
    return out


def staging_dir(out_dir: PathLike) -> Path:
    """A new empty temporary folder beside ``out_dir`` (on the same file system, so that
    :func:`publish_dir` can rename it into place)."""
    out = Path(out_dir)
    with output_errors(out):
        out.parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))


def publish_dir(
    work: PathLike,
    out_dir: PathLike,
    names: Sequence[str],
    *,
    overwrite: bool = False,
    inputs: Iterable[PathLike] = (),
    marker: str | None = None,
) -> list[Path]:
    """Move the files made in ``work`` into ``out_dir`` and remove ``work``; return them.

    ``names`` are every file this command may write, in publishing order (the last one
    says the rest are complete: ``report.json``, ``index.html``). The rules of
    :func:`check_output_dir` are checked again first (the folder may have changed while
    the command worked). A new ``out_dir`` is ``work`` renamed: it appears complete or not
    at all. Into an existing one each file is moved by ``os.replace``; files of ``names``
    that this run did not make are removed (so the folder never mixes two runs), and
    nothing else there is touched. A file of ``work`` not in ``names`` may only be added,
    never replace an existing file. ``marker``: a file written beside the outputs that
    marks the folder as this command's for :func:`check_output_dir`.
    """
    work, out, inputs = Path(work), Path(out_dir), list(inputs)
    made = sorted(p.name for p in work.iterdir())
    if marker is not None and marker not in made:
        (work / marker).write_text(
            "Written by bgnn-deploy. A later run replaces only these files here: "
            + ", ".join(names)
            + "\n"
        )
    extras = [name for name in made if name not in names and name != marker]
    order = [*extras, *([marker] if marker else []), *(name for name in names if name in made)]
    check_output_dir(out, [*names, *extras], overwrite=overwrite, inputs=inputs, marker=marker)
    with output_errors(out):
        if not (out.exists() or out.is_symlink()):
            out.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(work, 0o777 & ~_umask())  # as mkdir would make it, not mkdtemp's 0700
            try:
                work.rename(out)
                return [out / name for name in order]
            except OSError as e:
                if e.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
            # someone made the folder meanwhile: the rules for an existing one apply
            check_output_dir(out, names, overwrite=overwrite, inputs=inputs, marker=marker)
        for name in extras:
            if (out / name).exists() or (out / name).is_symlink():
                raise OutputError(
                    f"{out / name} exists and is not one of the files this command replaces"
                )
        for name in names:
            stale = out / name
            if name not in made and (stale.is_file() or stale.is_symlink()):
                stale.unlink()
        for name in order:
            _move(work / name, out / name)
        work.rmdir()
    return [out / name for name in order]


def _move(src: Path, dst: Path) -> None:
    """``os.replace``, or copy then replace when ``dst`` is on another file system."""
    try:
        os.replace(src, dst)
        return
    except OSError as e:
        if e.errno != errno.EXDEV:
            raise
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    try:
        shutil.copy2(src, tmp)
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
    src.unlink()


def _check_creatable(path: Path) -> None:
    """Raise unless ``path`` can be made: its nearest existing ancestor is a writable folder
    (the folders in between are made as ``mkdir -p`` would)."""
    parent = path.parent
    while not parent.exists():
        if parent.is_symlink():
            raise OutputError(f"cannot write {path}: {parent} is a broken symbolic link")
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(f"cannot write {path}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {path}: {parent} is not writable")


def _input_at(path: Path, inputs: Iterable[PathLike]) -> Path | None:
    """The input that ``path`` is (the same file, also through a link), or None."""
    for item in inputs:
        try:
            if os.path.samefile(path, item):
                return Path(item)
        except (OSError, ValueError):  # either is missing: writing cannot destroy it
            continue
    return None


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
