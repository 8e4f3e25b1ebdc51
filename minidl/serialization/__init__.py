"""``minidl.save`` and ``minidl.load``: PyTorch's names, files that never run code.

    minidl.save(model.state_dict(), 'model.pt')
    model.load_state_dict(minidl.load('model.pt'))
    state = minidl.load('resnet18-f37072fd.pth')       # torchvision's file, no PyTorch needed

``save`` writes minidl's own format (``native.py``: a checked header and a safetensors
file whose metadata holds the structure as JSON), atomically: a crash never leaves half
a file under the name. ``load`` reads, by their first bytes:

- minidl files;
- PyTorch ``torch.save`` zip files (PyTorch 1.6 and later), through an unpickler that
  builds only tensors, arrays, numbers, strings and containers (``torch_zip.py``), like
  ``torch.load(weights_only=True)``; anything else in them is refused with
  ``UnsafeFileError`` before it is imported, let alone run;
- safetensors files (a dict of Tensors) and NumPy ``.npz`` / ``.npy`` files (arrays;
  read with ``allow_pickle=False``).

Pickles of any other kind (PyTorch's format before 1.6, ``pickle.dump``) are refused.
"""
import io
import os

from .atomic import atomic_write
from .errors import FileMissingError, LoadError, UnsafeFileError
from . import native

__all__ = ['save', 'load', 'LoadError', 'UnsafeFileError']


def save(obj, f, pickle_module=None, pickle_protocol=None, _use_new_zipfile_serialization=True):
    """Write ``obj`` to ``f`` (a path, written atomically, or a binary file object).

    ``obj`` may be a Tensor, a NumPy or CuPy array, a number, string, bytes or None, or
    lists, tuples and dicts (OrderedDicts) of these, nested as deep as needed: a model's
    or an optimizer's ``state_dict()``, a training checkpoint. It comes back from
    ``load`` the same: dtypes, shapes, values, Tensor or Parameter, requires_grad, the
    device (moved to the host to be written), the container types and dict key types,
    and objects that appear twice stay one object. The other arguments are PyTorch's,
    accepted and ignored. Raises ``TypeError`` naming the path of anything else (a
    module: save its ``state_dict()``).
    """
    blob = native.dumps(obj)
    if hasattr(f, 'write'):
        f.write(blob)
    else:
        atomic_write(f, lambda file: file.write(blob))


def _name(f):
    if isinstance(f, (str, os.PathLike)):
        return os.fspath(f)
    return getattr(f, 'name', None) or f'the {type(f).__name__}'


def _open(f, what):
    """A seekable binary file for ``f`` (a path or a file object)."""
    if not isinstance(f, (str, os.PathLike)):
        if hasattr(f, 'seekable') and f.seekable():
            return f
        return io.BytesIO(f.read())
    if os.path.isdir(f):
        raise LoadError(f'{what} is a folder, not a file')
    try:
        return open(f, 'rb')
    except FileNotFoundError:
        raise FileMissingError(f'{what} does not exist') from None
    except OSError as err:
        raise LoadError(f'{what} cannot be read: {err.strerror or err}') from None


def _load_numpy(file, what, kind):
    import numpy as np
    try:
        loaded = np.load(file, allow_pickle=False)
        if kind == 'npy':
            return loaded
        with loaded as archive:
            return {name: archive[name] for name in archive.files}
    except ValueError as err:
        if 'allow_pickle' in str(err):
            raise UnsafeFileError(f'{what} holds arrays of Python objects, which are pickles '
                                  f'that could run code: refusing them') from None
        raise LoadError(f'{what} is not a readable NumPy file ({err})') from None
    except (OSError, EOFError) as err:
        raise LoadError(f'{what} is not a readable NumPy file ({err})') from None


def _load_safetensors(file, what, map_location):
    import safetensors.numpy
    from ..tensor import Tensor
    from .location import place
    try:
        arrays = safetensors.numpy.load(file.read())
    except Exception as err:
        raise LoadError(f'{what} is not a readable safetensors file ({err})') from None
    return {name: Tensor(place(array, 'cpu', map_location, what))
            for name, array in arrays.items()}


def load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None,
         **pickle_load_args):
    """The object saved in ``f`` (a path or a binary file object): see the module's
    docstring for the formats. Tensors come back as minidl Tensors.

    ``map_location``, as in ``torch.load``: None puts each tensor back on the device it
    was saved from; a device (``'cpu'``, ``minidl.device('cuda:1')``) puts them all there;
    a dict maps saved locations to devices (``{'cuda:0': 'cpu'}``); a function
    ``(array, location) -> array`` decides for each.

    ``weights_only`` is accepted for PyTorch's sake and changes nothing: minidl always
    loads data only, ``weights_only=False`` included. ``pickle_module``, ``mmap`` and
    ``pickle_load_args`` are accepted and ignored.

    Raises ``LoadError`` naming the file when it is missing (``FileMissingError``, also a
    ``FileNotFoundError`` as PyTorch raises), truncated, corrupt or of an unknown kind, ``UnsafeFileError`` (a ``LoadError`` and a ``pickle.UnpicklingError``)
    when it asks for anything but data.
    """
    what = _name(f)
    file = _open(f, what)
    try:
        start = file.tell()
        head = file.read(16)
        if not head:
            raise LoadError(f'{what} is empty (0 bytes)')
        kind = native.sniff(head)
        file.seek(start)
        if kind == 'minidl':
            return native.read(file, what, map_location)
        if kind == 'zip':
            from .torch_zip import is_torch_zip, read_torch_zip
            import zipfile
            try:
                names = zipfile.ZipFile(file).namelist()
            except zipfile.BadZipFile as err:
                raise LoadError(f'{what} is a damaged zip file ({err})') from None
            file.seek(start)
            if is_torch_zip(names):
                return read_torch_zip(file, what, map_location)
            if names and all(name.endswith('.npy') for name in names):
                return _load_numpy(file, what, 'npz')
            raise LoadError(f'{what} is a zip file, but neither a torch.save file nor a '
                            f'NumPy .npz file')
        if kind == 'npy':
            return _load_numpy(file, what, 'npy')
        if kind == 'safetensors':
            return _load_safetensors(file, what, map_location)
        if kind == 'pickle':
            raise UnsafeFileError(
                f'{what} is a bare pickle (PyTorch\'s format before 1.6, or pickle.dump), '
                f'which can run code when loaded: minidl does not unpickle it. Re-save it '
                f'with torch.save (the zip format, PyTorch >= 1.6) or as safetensors')
        raise LoadError(f'{what} is not a file minidl can load (not a minidl, PyTorch, '
                        f'safetensors or NumPy file)')
    finally:
        if file is not f:
            file.close()
