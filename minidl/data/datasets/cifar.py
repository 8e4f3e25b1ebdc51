"""CIFAR-10: 50,000 training and 10,000 test colour images, 32x32, in ten classes.

The data is the "python version" of the set: ``cifar-10-python.tar.gz`` holding
``cifar-10-batches-py/data_batch_1..5`` and ``test_batch``, each a pickled dict with a
uint8 ``data`` array (10000, 3072: the red, green, then blue planes of each image) and
``labels``. The batches are read from the extracted folder in ``root`` or, when that
is absent, straight out of the archive; each is checked against its published MD5.
The batches are read by ``minidl.serialization.safe_pickle``, which builds nothing but
NumPy arrays, numbers, strings and containers, so a file that is not a CIFAR batch
cannot run code.
"""
import hashlib
import os
import tarfile

import numpy as np

from ...serialization import LoadError
from ...serialization.safe_pickle import loads
from .base import DatasetError, ImageDataset
from .download import check_integrity, download_from_mirrors


def _unpickle(raw, where, dataset):
    try:
        entry = loads(raw, where)
    except LoadError as err:
        raise DatasetError(f'{dataset}: {where} is not a readable CIFAR batch ({err}); delete '
                           f'it and download again') from err
    if not isinstance(entry, dict) or 'data' not in entry or 'labels' not in entry:
        raise DatasetError(f"{dataset}: {where} has no 'data' and 'labels' entries")
    data = np.asarray(entry['data'])
    labels = np.asarray(entry['labels'], dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32 \
            or len(labels) != len(data):
        raise DatasetError(f'{dataset}: {where} holds data {data.shape} {data.dtype} and '
                           f'{len(labels)} labels, expected uint8 (n, 3072) and n labels')
    return data, labels


def _extract_safely(archive, folder, dataset):
    """Unpack ``archive`` into ``folder``, refusing links, devices and paths that leave it."""
    root = os.path.realpath(folder)
    try:
        with tarfile.open(archive, 'r:gz') as tar:
            members = tar.getmembers()
            for member in members:
                target = os.path.realpath(os.path.join(root, member.name))
                if not (member.isfile() or member.isdir()) or \
                        os.path.commonpath([root, target]) != root:
                    raise DatasetError(f'{dataset}: {archive} holds an unsafe entry '
                                       f'{member.name!r}; refusing to extract it')
            if hasattr(tarfile, 'data_filter'):
                tar.extractall(root, members=members, filter='data')
            else:
                tar.extractall(root, members=members)
    except (tarfile.TarError, EOFError, OSError) as err:
        raise DatasetError(f'{dataset}: cannot extract {archive} ({err}); delete it and '
                           f'download it again') from err


class CIFAR10(ImageDataset):
    """CIFAR-10 with torchvision's layout: ``data`` uint8 (N, 32, 32, 3), ``targets`` int64."""
    base_folder = 'cifar-10-batches-py'
    filename = 'cifar-10-python.tar.gz'
    tgz_md5 = 'c58f30108f718f92721af3b95e74349a'
    mirrors = ['https://www.cs.toronto.edu/~kriz/']
    train_list = [('data_batch_1', 'c99cafc152244af753f735de768cd75f'),
                  ('data_batch_2', 'd4bba439e000b95fd0a9bffe97cbabec'),
                  ('data_batch_3', '54ebc095f3ab1f0389bbae665268c751'),
                  ('data_batch_4', '634d18415352ddfa80567beed471001a'),
                  ('data_batch_5', '482c414d41f54cd18b22e5b47cb7c3cb')]
    test_list = [('test_batch', '40351d587109b95175f43aff81a1287e')]
    classes = ('airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse',
               'ship', 'truck')
    timeout = 60.0

    def __init__(self, root, train=True, transform=None, download=False):
        self.root = os.path.expanduser(os.fspath(root))
        self.train = train
        if download:
            self.download()
        parts = [self._read_batch(name, md5) for name, md5 in self._batches()]
        data = np.concatenate([d for d, _ in parts]).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        labels = np.concatenate([l for _, l in parts])
        if labels.size and (labels.min() < 0 or labels.max() >= len(self.classes)):
            raise DatasetError(f'{self._name}: labels outside 0..{len(self.classes) - 1} in '
                               f'{self.folder}')
        super().__init__(np.ascontiguousarray(data), labels, transform)

    @property
    def _name(self):
        return type(self).__name__

    @property
    def folder(self):
        return os.path.join(self.root, self.base_folder)

    @property
    def archive(self):
        return os.path.join(self.root, self.filename)

    def _batches(self):
        return self.train_list if self.train else self.test_list

    def _all_batches(self):
        return list(self.train_list) + list(self.test_list)

    def _read_batch(self, name, md5):
        """The batch ``name`` from the extracted folder, or else from the archive."""
        path = os.path.join(self.folder, name)
        if os.path.isfile(path):
            with open(path, 'rb') as f:
                raw, where = f.read(), path
        elif os.path.isfile(self.archive):
            raw, where = self._read_from_archive(name), f'{self.archive}:{self.base_folder}/{name}'
        else:
            expected = ', '.join(n for n, _ in self._batches())
            raise FileNotFoundError(
                f'{self._name}: {name} not found: expected {expected} in {self.folder} (or the '
                f'archive {self.archive}): pass download=True or put them there by hand')
        if md5 is not None and hashlib.md5(raw, usedforsecurity=False).hexdigest() != md5:
            raise DatasetError(f'{self._name}: {where} fails its MD5 check (expected {md5}); '
                               f'delete it and download again')
        return _unpickle(raw, where, self._name)

    def _read_from_archive(self, name):
        member = f'{self.base_folder}/{name}'
        try:
            with tarfile.open(self.archive, 'r:gz') as tar:
                f = tar.extractfile(member)
                if f is None:
                    raise KeyError(member)
                return f.read()
        except KeyError:
            raise DatasetError(f'{self._name}: {self.archive} has no {member}') from None
        except (tarfile.TarError, EOFError, OSError) as err:
            raise DatasetError(f'{self._name}: cannot read {self.archive} ({err}); delete it '
                               f'and download it again') from err

    def _extracted(self):
        return all(check_integrity(os.path.join(self.folder, name), md5)
                   for name, md5 in self._all_batches())

    def download(self):
        """Fetch the archive (unless the batches or a good archive are here) and unpack it."""
        if self._extracted():
            return
        if not check_integrity(self.archive, self.tgz_md5):
            download_from_mirrors(self.filename, self.root, self.tgz_md5, self.mirrors,
                                  self._name, timeout=self.timeout)
        _extract_safely(self.archive, self.root, self._name)
