"""Training checkpoints: minidl files that survive a kill and never run code when loaded.

A checkpoint is a dict (model and optimizer state, the epoch, random generator states,
metrics, config) written as a minidl file (``minidl.serialization``: a checked header,
then safetensors for the arrays and JSON for the rest). ``save_checkpoint`` writes it
atomically and keeps the checkpoint it replaces as ``<name>.prev<ext>``, a copy (see
``minidl.serialization.atomic``), so a kill at any moment leaves the current checkpoint
and the previous one both complete. ``load_checkpoint`` names the file and says what is
wrong with it, and points to the previous copy when that one is there.

Checkpoints of minidl 0.1 held a pickle, which can run code when loaded; they are
refused, and ``convert_legacy_checkpoint`` rewrites one in the current format, reading
only arrays, numbers, strings and containers from it.
"""
import os

from ..serialization import LoadError, native
from ..serialization.atomic import atomic_write, previous_path
from ..serialization.safe_pickle import loads

__all__ = ['save_checkpoint', 'load_checkpoint', 'previous_path', 'atomic_write',
           'CheckpointError', 'convert_legacy_checkpoint']


class CheckpointError(LoadError):
    """A checkpoint file is missing, truncated, corrupt, of an old or foreign format, or
    does not hold a checkpoint."""


def save_checkpoint(path, state, keep_previous=True):
    """Write the dict ``state`` to ``path`` atomically (arrays moved to the host); with
    ``keep_previous`` the checkpoint there before is kept as ``previous_path(path)``."""
    blob = native.dumps(state)
    atomic_write(path, lambda f: f.write(blob), keep_previous=keep_previous)
    return os.fspath(path)


def _hint(path):
    previous = previous_path(path)
    if os.path.isfile(previous) and os.path.abspath(previous) != os.path.abspath(path):
        return f'; the previous checkpoint {previous} may be intact: use that one'
    return ''


def load_checkpoint(path, map_location='cpu'):
    """The dict saved by ``save_checkpoint`` (arrays on the host, unless ``map_location``
    says otherwise); ``CheckpointError`` naming the file if it is missing, truncated,
    corrupt, of another format or not a dict."""
    path = os.fspath(path)
    what = f'checkpoint {path}'
    try:
        if os.path.isdir(path):
            raise LoadError(f'{what} is a folder: give the checkpoint file in it')
        try:
            f = open(path, 'rb')
        except FileNotFoundError:
            raise LoadError(f'{what} does not exist') from None
        except OSError as err:
            raise LoadError(f'{what} cannot be read: {err.strerror or err}') from None
        with f:
            state = native.read(f, what, map_location)
    except LoadError as err:
        raise CheckpointError(f'{err}{_hint(path)}') from None
    if not isinstance(state, dict):
        raise CheckpointError(f'{what} holds a {type(state).__name__}, not a checkpoint '
                              f'(a dict)')
    return state


def convert_legacy_checkpoint(path, out=None):
    """Rewrite the minidl 0.1 checkpoint ``path`` (a pickle behind a MINIDLCK header) as
    a current one at ``out`` (default: ``path`` with the extension ``.minidl``) and
    return ``out``. The pickle is read by ``minidl.serialization.safe_pickle``: only
    NumPy arrays, numbers, strings and containers; anything else is refused
    (``UnsafeFileError``) without being run."""
    path = os.fspath(path)
    what = f'checkpoint {path}'
    with open(path, 'rb') as f:
        version = native.read_header(f, what)[0]
        if version != native.LEGACY_VERSION:
            raise CheckpointError(f'{what} is not a minidl 0.1 checkpoint (its format '
                                  f'version is {version}): there is nothing to convert')
        f.seek(0)
        payload = native.read_payload(f, what, version=native.LEGACY_VERSION)
    state = loads(payload, what)
    if not isinstance(state, dict):
        raise CheckpointError(f'{what} holds a {type(state).__name__}, not a checkpoint')
    out = os.fspath(out) if out is not None else os.path.splitext(path)[0] + '.minidl'
    save_checkpoint(out, state, keep_previous=False)
    return out
