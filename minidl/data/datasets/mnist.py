"""MNIST and Fashion-MNIST, read from the four IDX files in ``<root>/<Name>/raw``.

The files (gzipped or not) are those torchvision uses: ``train-images-idx3-ubyte``,
``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``.
An IDX file starts with a magic number (two zero bytes, a type code, 0x08 for uint8,
and the number of dimensions), then each dimension as a big-endian int32, then the
data; every part of that is checked, so a truncated or mixed-up file is reported as
such instead of turning into wrong images.
"""
import gzip
import os
import zlib

import numpy as np

from .base import DatasetError, ImageDataset
from .download import check_integrity, download_from_mirrors

IDX_IMAGES_MAGIC = 2051   # 0x00000803: uint8, 3 dimensions
IDX_LABELS_MAGIC = 2049   # 0x00000801: uint8, 1 dimension


def read_idx(path, magic, dataset='IDX'):
    """The uint8 array in the IDX file ``path`` (gzipped when it ends in .gz)."""
    opener = gzip.open if path.endswith('.gz') else open
    try:
        with opener(path, 'rb') as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as err:
        raise DatasetError(f'{dataset}: cannot read {path} ({err}); delete it and download '
                           f'it again') from err

    def corrupt(reason):
        return DatasetError(f'{dataset}: {path} is not a valid IDX file: {reason}; delete it '
                            f'and download it again (download=True) or replace it')

    if len(raw) < 4:
        raise corrupt(f'only {len(raw)} bytes')
    found = int.from_bytes(raw[:4], 'big')
    if found != magic:
        raise corrupt(f'magic number {found}, expected {magic}')
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise corrupt('the header is cut short')
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype='>i4', count=ndim, offset=4))
    expected = int(np.prod(shape))
    if len(raw) - header != expected:
        raise corrupt(f'{len(raw) - header} data bytes for shape {shape}, expected {expected}')
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


class MNIST(ImageDataset):
    """The MNIST handwritten digits: 60,000 training and 10,000 test images, 28x28 grey.

    ``download=True`` fetches the missing files from ``mirrors`` (after any base URLs in
    $MINIDL_DATA_MIRROR), checking each against its MD5 in ``resources``.
    """
    mirrors = ['https://ossci-datasets.s3.amazonaws.com/mnist/',
               'http://yann.lecun.com/exdb/mnist/']
    resources = {   # the published MD5s of the gzipped files
        'train-images-idx3-ubyte.gz': 'f68b3c2dcbeaaa9fbdd348bbdeb94873',
        'train-labels-idx1-ubyte.gz': 'd53e105ee54ea40749a09fcbcd1e9432',
        't10k-images-idx3-ubyte.gz': '9fb629c4189551a2d022fa330f9573f3',
        't10k-labels-idx1-ubyte.gz': 'ec29112dd5afa0611ce80d1b7f02629c',
    }
    classes = ('0 - zero', '1 - one', '2 - two', '3 - three', '4 - four', '5 - five',
               '6 - six', '7 - seven', '8 - eight', '9 - nine')
    timeout = 30.0

    def __init__(self, root, train=True, transform=None, download=False):
        self.root = os.path.expanduser(os.fspath(root))
        self.train = train
        if download:
            self.download()
        prefix = 'train' if train else 't10k'
        images = read_idx(self._find(f'{prefix}-images-idx3-ubyte'), IDX_IMAGES_MAGIC, self._name)
        labels = read_idx(self._find(f'{prefix}-labels-idx1-ubyte'), IDX_LABELS_MAGIC, self._name)
        if len(images) != len(labels):
            raise DatasetError(f'{self._name}: {len(images)} images but {len(labels)} labels in '
                               f'{self.raw_folder} ({prefix}-*); are the files from the same set?')
        if labels.size and labels.max() >= len(self.classes):
            raise DatasetError(f'{self._name}: label {labels.max()} in {self.raw_folder} '
                               f'({prefix}-labels) is not a class 0..{len(self.classes) - 1}')
        super().__init__(images, labels.astype(np.int64), transform)

    @property
    def _name(self):
        return type(self).__name__

    @property
    def raw_folder(self):
        return os.path.join(self.root, self._name, 'raw')

    def _expected_files(self):
        return ', '.join(name[:-len('.gz')] + '[.gz]' for name in self.resources)

    def _find(self, name):
        """The path of ``name`` or ``name.gz`` in the raw folder."""
        for candidate in (name, name + '.gz'):
            path = os.path.join(self.raw_folder, candidate)
            if os.path.isfile(path):
                return path
        raise FileNotFoundError(f'{self._name}: {name}[.gz] not found in {self.raw_folder}; '
                                f'expected the files {self._expected_files()} there: pass '
                                f'download=True or put them there by hand')

    def _have(self, gz_name, md5):
        plain = os.path.join(self.raw_folder, gz_name[:-len('.gz')])
        return os.path.isfile(plain) or check_integrity(os.path.join(self.raw_folder, gz_name), md5)

    def download(self):
        """Fetch whichever of the four files are missing (or fail their checksum)."""
        for gz_name, md5 in self.resources.items():
            if not self._have(gz_name, md5):
                download_from_mirrors(gz_name, self.raw_folder, md5, self.mirrors, self._name,
                                      timeout=self.timeout)


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: MNIST's format and sizes, ten kinds of clothing."""
    mirrors = ['http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/']
    resources = {
        'train-images-idx3-ubyte.gz': '8d4fb7e6c68d591d4c3dfef9ec88bf0d',
        'train-labels-idx1-ubyte.gz': '25c81989df183df01b3e8a0aad5dffbe',
        't10k-images-idx3-ubyte.gz': 'bef4ecab320f06d8554ea6380940ec79',
        't10k-labels-idx1-ubyte.gz': 'bb300cfdad3c16e7a12a480ee83cd310',
    }
    classes = ('T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt',
               'Sneaker', 'Bag', 'Ankle boot')
