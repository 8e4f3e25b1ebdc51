"""``torch.cuda``'s names for minidl's GPUs (CUDA through CuPy).

Without CuPy or a GPU, ``is_available()`` is False and ``device_count()`` 0; the seeding
functions and ``empty_cache`` then do nothing, as PyTorch's do without CUDA, and the
functions that need a GPU (``synchronize``, ``current_device``, ``set_device``,
``get_device_name``) raise an error saying what is missing.
"""
from .backend import Device, array_module_for, cuda_is_available, get_generator

__all__ = ['is_available', 'device_count', 'current_device', 'set_device', 'synchronize',
           'manual_seed', 'manual_seed_all', 'empty_cache', 'get_device_name']


def _cupy():
    """The cupy module; without CuPy or a GPU an error says which is missing."""
    return array_module_for('cuda')


def is_available():
    """True when CuPy imports and sees at least one GPU."""
    return cuda_is_available()


def device_count():
    """The number of GPUs CuPy sees (0 without CuPy or a GPU)."""
    if not cuda_is_available():
        return 0
    return int(_cupy().cuda.runtime.getDeviceCount())


def _index(device):
    """The GPU index of ``device`` (None: the current one)."""
    cupy = _cupy()   # raises, naming what is missing, without a GPU
    if device is None:
        return cupy.cuda.Device().id
    if isinstance(device, int):
        return device
    device = Device(device)
    if device.type != 'cuda':
        raise ValueError(f'expected a cuda device, got {device}')
    return device.index


def current_device():
    """The index of the GPU new arrays go to."""
    return _index(None)


def set_device(device):
    """Make ``device`` (an index or 'cuda:N') the current GPU."""
    _cupy().cuda.Device(_index(device)).use()


def synchronize(device=None):
    """Wait until every kernel queued on ``device`` (default: the current GPU) has run."""
    _cupy().cuda.Device(_index(device)).synchronize()


def get_device_name(device=None):
    props = _cupy().cuda.runtime.getDeviceProperties(_index(device))
    name = props['name']
    return name.decode() if isinstance(name, bytes) else name


def _seed_gpu(index, seed):
    """Reseed GPU ``index``'s default generator (CuPy's RandomState) in place."""
    get_generator(Device('cuda', index)).seed(int(seed))


def manual_seed(seed):
    """Seed the current GPU's generator (nothing happens without a GPU, as in PyTorch)."""
    if cuda_is_available():
        _seed_gpu(current_device(), seed)


def manual_seed_all(seed):
    """Seed every GPU's generator (nothing happens without a GPU, as in PyTorch)."""
    for index in range(device_count()):
        _seed_gpu(index, seed)


def empty_cache():
    """Give the memory CuPy's pool holds but no array uses back to the GPU."""
    if cuda_is_available():
        _cupy().get_default_memory_pool().free_all_blocks()
