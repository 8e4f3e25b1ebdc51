"""Checkpoints that survive a kill: written atomically, verified on load.

A checkpoint file is a small header and a pickle:

    b'MINIDLCK' | format version (1 byte) | payload length (8 bytes) | SHA-256 (32) | pickle

so a file cut short or damaged is recognised on load and reported with its name,
instead of unpickling garbage. ``save_checkpoint`` never leaves a half-written
file under the checkpoint's name:

1. the new checkpoint goes to a temporary file in the same folder, is flushed and
   ``os.fsync``-ed;
2. the current checkpoint (if any) is kept as the last-good one, ``<name>.prev<ext>``
   (hard-linked, so ``path`` itself never disappears);
3. ``os.replace`` puts the new file in place (atomic on POSIX and Windows), and the
   folder is fsync-ed so the rename itself is durable.

A kill at any moment leaves ``path`` holding either the old checkpoint or the new
one, complete, and the previous one under ``.prev``.
"""
import hashlib
import os
import pickle
import shutil
import struct

import numpy as np

from ..backend import is_array, to_device

__all__ = ['save_checkpoint', 'load_checkpoint', 'previous_path', 'atomic_write',
           'CheckpointError', 'to_host']

MAGIC = b'MINIDLCK'
VERSION = 1
_HEADER = struct.Struct('<8sBQ32s')   # magic, version, payload length, sha256


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, truncated, corrupt or not a minidl checkpoint."""


def previous_path(path):
    """Where the last-good checkpoint before ``path`` is kept: run/checkpoint.prev.pkl."""
    root, ext = os.path.splitext(os.fspath(path))
    return f'{root}.prev{ext}'


def to_host(obj):
    """``obj`` with every array (NumPy or CuPy) and Tensor as a NumPy array, for pickling."""
    if is_array(obj):
        return to_device(obj, 'cpu')
    data = getattr(obj, 'data', None)
    if data is not None and is_array(data) and type(obj).__name__ in ('Tensor', 'Parameter'):
        return to_device(data, 'cpu')
    if isinstance(obj, dict):
        return type(obj)((k, to_host(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)) and not hasattr(obj, '_fields'):
        return type(obj)(to_host(v) for v in obj)
    return obj


def _fsync_folder(folder):
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


def atomic_write(path, write, keep_previous=False):
    """Create ``path`` by calling ``write(file)`` on a temporary file, then renaming it.

    With ``keep_previous`` the file ``path`` held before is kept as ``previous_path(path)``.
    If ``write`` fails the temporary file is removed and ``path`` is untouched.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    temporary = f'{path}.tmp-{os.getpid()}'
    try:
        with open(temporary, 'wb') as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if keep_previous and os.path.exists(path):
            _keep_as_previous(path)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    _fsync_folder(folder)


def _keep_as_previous(path):
    """Hard-link (or copy) ``path`` to its .prev name, atomically too."""
    previous = previous_path(path)
    staging = f'{previous}.tmp-{os.getpid()}'
    if os.path.exists(staging):
        os.remove(staging)
    try:
        os.link(path, staging)
    except OSError:  # no hard links on this file system
        shutil.copy2(path, staging)
    os.replace(staging, previous)


def save_checkpoint(path, state, keep_previous=True):
    """Write the dict ``state`` to ``path`` atomically (arrays moved to the host first)."""
    payload = pickle.dumps(to_host(state), protocol=pickle.HIGHEST_PROTOCOL)
    header = _HEADER.pack(MAGIC, VERSION, len(payload), hashlib.sha256(payload).digest())

    def write(f):
        f.write(header)
        f.write(payload)

    atomic_write(path, write, keep_previous=keep_previous)
    return os.fspath(path)


def _hint(path):
    previous = previous_path(path)
    if os.path.exists(previous) and os.path.abspath(previous) != os.path.abspath(path):
        return f'; the previous checkpoint {previous} may be intact: use that one'
    return ''


def load_checkpoint(path):
    """The dict saved by ``save_checkpoint``; ``CheckpointError`` naming the file if it is
    missing, truncated, corrupt or not a minidl checkpoint."""
    path = os.fspath(path)
    try:
        with open(path, 'rb') as f:
            blob = f.read()
    except FileNotFoundError:
        raise CheckpointError(f'checkpoint {path} does not exist') from None
    except OSError as err:
        raise CheckpointError(f'checkpoint {path} cannot be read: {err}') from None
    if len(blob) < _HEADER.size or not blob.startswith(MAGIC):
        if len(blob) < len(MAGIC) and MAGIC.startswith(blob):
            raise CheckpointError(f'checkpoint {path} is truncated ({len(blob)} bytes, '
                                  f'not even a header){_hint(path)}')
        raise CheckpointError(f'{path} is not a minidl checkpoint (no {MAGIC.decode()} '
                              f'header){_hint(path)}')
    _, version, length, digest = _HEADER.unpack_from(blob)
    if version > VERSION:
        raise CheckpointError(f'checkpoint {path} has format version {version}; this minidl '
                              f'reads up to {VERSION}: upgrade minidl')
    payload = blob[_HEADER.size:]
    if len(payload) < length:
        raise CheckpointError(f'checkpoint {path} is truncated: {len(payload)} of {length} '
                              f'bytes of data{_hint(path)}')
    if len(payload) > length or hashlib.sha256(payload).digest() != digest:
        raise CheckpointError(f'checkpoint {path} is corrupt: its checksum does not match '
                              f'its contents{_hint(path)}')
    try:
        state = pickle.loads(payload)
    except Exception as err:  # the checksum matched, so this is a version mismatch
        raise CheckpointError(f'checkpoint {path} cannot be unpickled ({type(err).__name__}: '
                              f'{err}); was it written by another minidl version?') from None
    if not isinstance(state, dict):
        raise CheckpointError(f'checkpoint {path} holds a {type(state).__name__}, not a dict')
    return state


def save_arrays(path, arrays):
    """Save a dict of arrays as an .npz file, atomically."""
    host = {name: np.asarray(to_host(value)) for name, value in arrays.items()}
    atomic_write(path, lambda f: np.savez(f, **host))
    return os.fspath(path)
