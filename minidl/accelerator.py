"""``torch.accelerator`` (PyTorch 2.6 and later): the machine's accelerator, if any.

PyTorch's examples now pick their device with it::

    device = torch.accelerator.current_accelerator() if torch.accelerator.is_available() \
        else torch.device('cpu')

minidl's one kind of accelerator is a CUDA GPU through CuPy (``minidl.cuda``); without
CuPy or a GPU, ``is_available()`` is False and ``current_accelerator()`` None.
"""
from . import cuda
from .backend import Device

__all__ = ['is_available', 'current_accelerator', 'device_count', 'current_device_index',
           'set_device_index', 'synchronize']


def is_available():
    """True when a CUDA GPU is usable through CuPy."""
    return cuda.is_available()


def current_accelerator(check_available=False):
    """``minidl.device('cuda')`` when a GPU is usable, else None (``check_available`` is
    accepted: the answer is the same)."""
    return Device('cuda') if cuda.is_available() else None


def device_count():
    """The number of GPUs (0 without one)."""
    return cuda.device_count()


def current_device_index():
    """The index of the current GPU."""
    return cuda.current_device()


def set_device_index(device):
    """Make GPU ``device`` (an index or 'cuda:N') the current one."""
    cuda.set_device(device)


def synchronize(device=None):
    """Wait until every kernel queued on the GPU has run."""
    cuda.synchronize(device)
