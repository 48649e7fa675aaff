"""File modes of an env, as conda gives them: readable by every user the umask lets read.

rattler writes conda-meta/*.json 0600, so another user's `conda list -p ENV` fails. conda
writes its files with the process umask (0644 under 022, 0664 under 002) and makes folders
the same way (0755 / 0775). On a shared machine an envs-dir is often group-owned with the
setgid bit and a group-writable umask: every file and folder then takes the folder's group,
and the group can read, and where the umask allows write, what wsp wrote.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from wsp.fsutil import _UMASK

# Written by wsp or rattler, never hard-linked from the package cache: conda's own mode.
_META = "conda-meta"


def umask() -> int:
    """The process umask (read once, at import, by wsp.fsutil)."""
    return _UMASK


def whose(path: Path | str) -> str:
    """`USER's (group GROUP), mode 2700` of a file or folder this user may not read or
    write (another user's), for messages; "" when even that is unknown."""
    import grp
    import pwd

    try:
        st = os.stat(path)
    except OSError:
        return ""
    try:
        who = pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        who = f"uid {st.st_uid}"
    try:
        group = grp.getgrgid(st.st_gid).gr_name
    except KeyError:
        group = f"gid {st.st_gid}"
    return f"{who}'s (group {group}), mode {stat.S_IMODE(st.st_mode):04o}"


def cache_denied(pkgs: Path) -> str | None:
    """Why this user can't use the package cache `pkgs` (another user's, in a cache they
    share: rattler must lock and write it), or None. Asked before anything is installed,
    as rattler says only "failed to acquire global cache lock: Permission denied"."""
    for path, need in ((pkgs, os.W_OK | os.X_OK), (pkgs / ".cache.lock", os.R_OK | os.W_OK)):
        if os.path.exists(path) and not os.access(path, need):
            owned = whose(path)
            return f"{path}: Permission denied" + (f"; it is {owned}" if owned else "")
    return None


def _set(path: Path | str, st: os.stat_result, mode: int, gid: int | None) -> None:
    if gid is not None and st.st_gid != gid:
        with contextlib.suppress(OSError):
            os.chown(path, -1, gid, follow_symlinks=False)
            st = os.lstat(path)
    if stat.S_IMODE(st.st_mode) != mode:
        with contextlib.suppress(OSError):
            os.chmod(path, mode)


def fix_modes(
    prefix: Path, *, mask: int | None = None, linked: set[tuple[int, int]] | None = None
) -> None:
    """Give the env at `prefix` conda's modes under umask `mask` (default: the process's):

    - folders: at least `0777 & ~mask` (0755, or 0775 when group-writable), setgid kept;
    - conda-meta/ files (records, history, state, frozen, wsp's marker): exactly
      `0666 & ~mask` (0644 / 0664), as conda writes them;
    - other files (hard links into the package cache): the read bits the umask allows,
      and the execute bits where the owner may execute; never fewer bits than they have.

    Inside a setgid folder every entry wsp may change takes that folder's group, as a new
    file would. Symlinks are left alone; what cannot be changed is left as it is. Entries
    of another user are left alone, but their folders are walked: a group member's update
    of an env another member built writes its own files into that member's folders.

    `linked` holds the (device, inode) of the hard-linked files already given their modes
    (by this call or an earlier one, under the same `mask`): they are not looked at again
    (envs of one apply share most files with the package cache), and those of this env
    are added.
    """
    mask = umask() if mask is None else mask
    dir_bits = 0o777 & ~mask
    file_mode = 0o666 & ~mask
    read_bits = 0o444 & ~mask
    exec_bits = 0o111 & ~mask
    me = os.geteuid()
    top = os.lstat(prefix)
    if not stat.S_ISDIR(top.st_mode):
        return
    if linked is not None:
        for folder in _package_folders(prefix):
            _package_modes(folder, mask, linked)
    parent = os.stat(prefix.parent)
    root_gid = parent.st_gid if parent.st_mode & stat.S_ISGID else None
    _set(prefix, top, stat.S_IMODE(top.st_mode) | dir_bits, root_gid)
    # one lstat per entry (scandir's), plain strings: an env holds tens of thousands of files
    top_gid = _own_gid(os.lstat(prefix))
    todo: list[tuple[str, int | None, bool, int]] = [(str(prefix), top_gid, False, top.st_dev)]
    while todo:
        here, gid, in_meta, dev = todo.pop()
        try:
            entries = list(os.scandir(here))
        except OSError:
            continue
        for e in entries:
            if linked is not None and (dev, e.inode()) in linked:
                continue
            try:
                st = e.stat(follow_symlinks=False)
            except OSError:
                continue
            kind = stat.S_IFMT(st.st_mode)
            mine = not me or st.st_uid == me
            if kind == stat.S_IFLNK or (not mine and kind != stat.S_IFDIR):
                continue
            current = stat.S_IMODE(st.st_mode)
            if kind == stat.S_IFDIR:
                # another user's folder (a group member built the env) keeps its modes, but
                # what this user wrote inside it (an update's new records) is looked at
                setgid = stat.S_ISGID if gid is not None else 0
                if mine:
                    _set(e.path, st, current | dir_bits | setgid, gid)
                inner = gid if gid is not None else _own_gid(st)
                meta = in_meta or (here == str(prefix) and e.name == _META)
                todo.append((e.path, inner, meta, st.st_dev))
            elif kind == stat.S_IFREG:
                if in_meta and st.st_nlink == 1:
                    mode = (current & 0o111) | file_mode
                else:
                    mode = _linked_mode(current, read_bits, exec_bits)
                _set(e.path, st, mode, gid if in_meta or st.st_nlink == 1 else None)
                if linked is not None and st.st_nlink > 1:  # its mode is the env's no more
                    linked.add((dev, e.inode()))  # as the check above reads it (readdir's)


def _linked_mode(current: int, read_bits: int, exec_bits: int) -> int:
    """A package's file (hard-linked from the cache): the read bits the umask allows, and
    the execute bits where its owner may execute it; never fewer bits than it has."""
    return current | read_bits | (exec_bits if current & stat.S_IXUSR else 0)


def _own_gid(st: os.stat_result) -> int | None:
    """The group a setgid folder gives what is made in it (None: not setgid)."""
    return st.st_gid if st.st_mode & stat.S_ISGID else None


# In a package's folder of the package cache: its files have the modes `fix_modes` gives a
# hard-linked file under the umask the name ends with (octal).
STAMP = ".wsp-modes-"


def _package_folders(prefix: Path) -> list[str]:
    """The package cache's folders the env's packages were linked from (their records'
    `extracted_package_dir`, as rattler and conda write it)."""
    from wsp.fsutil import record_fields

    out = []
    with contextlib.suppress(OSError):
        for e in os.scandir(prefix / _META):
            if not e.name.endswith(".json"):
                continue
            try:
                found = record_fields(e.path, ("extracted_package_dir",))
            except (OSError, UnicodeDecodeError):
                continue
            if found is not None and os.path.isabs(folder := found["extracted_package_dir"]):
                out.append(folder)
    return out


def _package_modes(folder: str, mask: int, linked: set[tuple[int, int]]) -> None:
    """Give the files of a package's folder of the cache the modes of a hard-linked file
    (once per umask: a stamp records it) and add them to `linked`: an env's files linked
    from it are then not looked at one by one (an lstat each; a real package holds
    thousands), in this env nor in the next ones of the apply. A folder this user can't
    change all of is not stamped (its files are looked at in each env, as before)."""
    try:
        top = os.lstat(folder)
    except OSError:
        return
    if not stat.S_ISDIR(top.st_mode) or (top.st_dev, top.st_ino) in linked:
        return  # not a folder, or taken already by this apply
    stamp = os.path.join(folder, f"{STAMP}{mask:03o}")
    stamped = os.path.isfile(stamp)
    read_bits, exec_bits = 0o444 & ~mask, 0o111 & ~mask
    me = os.geteuid()
    complete = True
    found: list[tuple[int, int]] = []
    todo = [folder]
    while todo:
        try:
            entries = list(os.scandir(todo.pop()))
        except OSError:
            complete = False
            continue
        for e in entries:
            if e.is_dir(follow_symlinks=False):
                todo.append(e.path)
            elif e.is_file(follow_symlinks=False):
                found.append((top.st_dev, e.inode()))
                if stamped:
                    continue
                try:
                    st = e.stat(follow_symlinks=False)
                except OSError:
                    complete = False
                    continue
                current = stat.S_IMODE(st.st_mode)
                mode = _linked_mode(current, read_bits, exec_bits)
                if mode == current:
                    continue
                if me and st.st_uid != me:
                    complete = False  # another user's: left as it is
                    continue
                try:
                    os.chmod(e.path, mode)
                except OSError:
                    complete = False
    if not complete:
        return
    linked.update(found)
    linked.add((top.st_dev, top.st_ino))
    if not stamped:
        with contextlib.suppress(OSError), open(stamp, "x"):
            pass
