"""Crafted files that run code when unpickled: each would create ``marker`` if loaded."""
import hashlib
import io
import os
import pickle
import struct
import zipfile

import numpy as np


class RunsCode:
    """Unpickled by a trusting loader, this runs ``touch marker``."""

    def __init__(self, marker):
        self.marker = os.fspath(marker)

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}',))


def evil_pickle(marker, protocol=pickle.DEFAULT_PROTOCOL, hidden_in=None):
    """A pickle that creates ``marker`` when loaded; with ``hidden_in`` (a dict), one more
    entry of an otherwise real-looking object."""
    obj = RunsCode(marker) if hidden_in is None else {**hidden_in, 'extra': RunsCode(marker)}
    return pickle.dumps(obj, protocol=protocol)


def legacy_checkpoint(path, payload):
    """A minidl 0.1 checkpoint: MINIDLCK, version 1, length, SHA-256, then a pickle."""
    header = struct.pack('<8sBQ32s', b'MINIDLCK', 1, len(payload),
                         hashlib.sha256(payload).digest())
    with open(path, 'wb') as f:
        f.write(header + payload)
    return path


def torch_like_zip(path, pickled, storages=()):
    """A zip laid out as torch.save writes it, with ``pickled`` as its data.pkl."""
    with zipfile.ZipFile(path, 'w') as archive:
        archive.writestr('archive/data.pkl', pickled)
        archive.writestr('archive/byteorder', 'little')
        archive.writestr('archive/version', '3\n')
        for key, raw in storages:
            archive.writestr(f'archive/data/{key}', raw)
    return path


def object_array_npz(path, marker):
    """An .npz whose array holds Python objects (a pickle inside)."""
    array = np.empty(1, dtype=object)
    array[0] = RunsCode(marker)
    buffer = io.BytesIO()
    np.savez(buffer, weight=array)
    with open(path, 'wb') as f:
        f.write(buffer.getvalue())
    return path
