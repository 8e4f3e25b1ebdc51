"""Writing files so that a kill at any moment leaves a complete file, never half of one.

A file is written to a *staging* file beside it, ``<name>.tmp-<host>-<pid>``, flushed and
``os.fsync``-ed, then moved into place with ``os.replace`` (atomic on POSIX and Windows),
and the folder is fsync-ed so that the rename itself is durable.

With ``keep_previous`` the file being replaced is first *copied* (never hard-linked) to
``previous_path(path)``, through a staging file of its own. At every instant there is
therefore a complete current file and a complete previous one, two separate files, so
that damage to one (a truncation, a bad sector) never reaches the other:

    before         after the copy      after the rename
    path = N       path = N            path = N+1
    prev = N-1     prev = N (a copy)   prev = N

A process killed hard leaves its staging files behind; ``remove_stale_staging`` deletes
those of the files it is given whose process is gone (only on this host: a staging file
of a live process, or of another machine sharing the folder, is left alone).
"""
import errno
import os
import re
import shutil
import socket

__all__ = ['atomic_write', 'previous_path', 'staging_path', 'remove_stale_staging',
           'check_writable', 'fsync_folder', 'PROBE_NAME']

PROBE_NAME = '.minidl-write-test'      # written and deleted by check_writable
_HOST = re.sub(r'[^A-Za-z0-9_.]', '_', socket.gethostname()) or 'host'
# <target>.tmp-<host>-<pid>, or <target>.tmp-<pid> as minidl 0.1 named them
_STAGING = re.compile(r'^(?P<target>.+)\.tmp-(?:(?P<host>[A-Za-z0-9_.]+)-)?(?P<pid>\d+)$')


def previous_path(path):
    """Where the copy of ``path`` before its last replacement is kept:
    ``run/checkpoint.minidl`` -> ``run/checkpoint.prev.minidl``."""
    root, ext = os.path.splitext(os.fspath(path))
    return f'{root}.prev{ext}'


def staging_path(path):
    """The staging file this process writes ``path`` through."""
    return f'{os.fspath(path)}.tmp-{_HOST}-{os.getpid()}'


def fsync_folder(folder):
    """Make a rename in ``folder`` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _remove_quietly(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def _copy_durably(source, target):
    """Copy the file ``source`` to ``target`` (through a staging file), on disk when done."""
    staging = staging_path(target)
    try:
        shutil.copyfile(source, staging)
        with open(staging, 'rb') as f:
            os.fsync(f.fileno())
        os.replace(staging, target)
    except BaseException:
        _remove_quietly(staging)
        raise


def atomic_write(path, write, keep_previous=False):
    """Create ``path`` by calling ``write(file)`` on a staging file, then renaming it.

    With ``keep_previous`` the file ``path`` held before is kept as ``previous_path(path)``
    (a copy). If anything fails the staging files are removed and ``path`` is untouched.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    staging = staging_path(path)
    try:
        with open(staging, 'wb') as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if keep_previous and os.path.exists(path):
            _copy_durably(path, previous_path(path))
        os.replace(staging, path)
    except BaseException:
        _remove_quietly(staging)
        raise
    fsync_folder(folder)


def _process_is_gone(pid):
    if pid == os.getpid():
        return False
    if os.name != 'posix':  # os.kill(pid, 0) would terminate the process on Windows
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # it exists but belongs to someone else
        return False
    return False


def remove_stale_staging(folder, targets):
    """Delete the staging files of the files named ``targets`` in ``folder`` that a
    process of this host left when it was killed. Returns the paths removed."""
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    removed = []
    for name in names:
        match = _STAGING.match(name)
        if match is None or match['target'] not in targets:
            continue
        if match['host'] not in (None, _HOST) or not _process_is_gone(int(match['pid'])):
            continue
        path = os.path.join(folder, name)
        if os.path.isfile(path) and not os.path.islink(path):
            _remove_quietly(path)
            removed.append(path)
    return removed


def check_writable(folder, need_bytes=0):
    """Make sure files can be written in ``folder`` (created if missing) and that its
    disk has ``need_bytes`` free. Raises ``OSError`` (``NotADirectoryError``,
    ``PermissionError``, read-only file system, ``ENOSPC``) saying which folder and what
    is wrong."""
    folder = os.fspath(folder)
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise NotADirectoryError(f'{folder} is a file, not a folder')
    os.makedirs(folder, exist_ok=True)
    probe = staging_path(os.path.join(folder, PROBE_NAME))
    try:
        with open(probe, 'wb') as f:
            f.write(b'minidl')
            f.flush()
            os.fsync(f.fileno())
    finally:
        _remove_quietly(probe)
    free = shutil.disk_usage(folder).free
    if free < need_bytes:
        raise OSError(errno.ENOSPC, f'{folder} has {free / 2**20:.0f} MiB free on its disk, '
                                    f'and about {need_bytes / 2**20:.0f} MiB are needed')
