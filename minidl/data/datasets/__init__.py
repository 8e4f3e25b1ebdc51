"""Datasets of labelled images: Digits (shipped with minidl), MNIST, Fashion-MNIST, CIFAR-10.

Each exposes ``data`` and ``targets`` arrays, ``classes``, ``num_classes`` and
``in_channels``, and returns (float32 image (C, H, W) in [0, 1], int label).
"""
import os

from ..transforms import Compose, Resize
from .base import DatasetError, ImageDataset
from .cifar import CIFAR10
from .digits import Digits
from .download import ChecksumError, DownloadError, check_integrity, download_url
from .mnist import MNIST, FashionMNIST

__all__ = ['Digits', 'MNIST', 'FashionMNIST', 'CIFAR10', 'ImageDataset', 'get_dataset',
           'default_root', 'download_url', 'check_integrity', 'DownloadError',
           'ChecksumError', 'DatasetError']

ROOT_ENV = 'MINIDL_DATA_ROOT'
_DATASETS = {'digits': Digits, 'mnist': MNIST, 'fashion-mnist': FashionMNIST, 'cifar10': CIFAR10}
_NATIVE_SIZE = {'mnist': 28, 'fashion-mnist': 28, 'cifar10': 32}


def default_root():
    """Where downloaded datasets live: $MINIDL_DATA_ROOT, else ~/.cache/minidl/data."""
    return os.environ.get(ROOT_ENV) or os.path.join(os.path.expanduser('~'), '.cache', 'minidl',
                                                    'data')


def _canonical(name):
    key = name.lower().replace('_', '-')
    return {'fashionmnist': 'fashion-mnist', 'cifar-10': 'cifar10'}.get(key, key)


def get_dataset(name, root=None, train=True, download=False, size=None, transform=None):
    """A dataset by name: 'digits', 'mnist', 'fashion-mnist' or 'cifar10'.

    ``size`` resizes the images to size x size (Digits: 8 by default, 28 like MNIST; the
    others are resized bilinearly before ``transform`` when size differs from theirs).
    """
    key = _canonical(name)
    if key not in _DATASETS:
        raise ValueError(f"get_dataset: unknown dataset {name!r}; choose from "
                         f"{', '.join(repr(k) for k in _DATASETS)}")
    if key == 'digits':
        return Digits(train=train, size=8 if size is None else size, transform=transform)
    if size is not None and size != _NATIVE_SIZE[key]:
        resize = Resize((size, size))
        transform = resize if transform is None else Compose([resize, transform])
    root = default_root() if root is None else root
    return _DATASETS[key](root, train=train, transform=transform, download=download)
