"""``torchvision.datasets``: MNIST, FashionMNIST, CIFAR10, ImageFolder, FakeData.

    train = datasets.MNIST('../data', train=True, download=True,
                           transform=transforms.Compose([transforms.ToTensor(),
                                                         transforms.Normalize((0.1307,), (0.3081,))]))
    image, label = train[0]            # a float32 Tensor (1, 28, 28) and an int

As in torchvision, an item is ``(image, target)`` where the image is a PIL image given
to ``transform`` (so ``ToTensor`` makes it a Tensor) and the target an int given to
``target_transform``; files live where torchvision keeps them (``root/MNIST/raw``,
``root/cifar-10-batches-py``, ``root/class/xxx.png``), and ``data`` / ``targets`` have
torchvision's types (MNIST: uint8 and int64 Tensors; CIFAR10: a uint8 array (N, 32, 32,
3) and a list). Reading and checking the files is ``minidl.data.datasets``' work; these
classes add torchvision's item semantics.

When the transform gives on a whole float batch exactly what it gives image by image
(``transforms.batch_exact``: ToTensor, Normalize, crops and flips), MNIST and CIFAR10
also offer the DataLoader a batch path, and a loader reads each batch at once.
"""
import os

import numpy as np
from PIL import Image

from ..data import datasets as _files
from ..data.dataset import Dataset
from ..data.datasets.base import as_array
from ..data.transforms import batch_exact
from ..tensor import Tensor

__all__ = ['VisionDataset', 'MNIST', 'FashionMNIST', 'CIFAR10', 'DatasetFolder',
           'ImageFolder', 'FakeData', 'IMG_EXTENSIONS', 'default_loader', 'pil_loader']


class StandardTransform:
    """``transform`` on the input and ``target_transform`` on the target."""

    def __init__(self, transform=None, target_transform=None):
        self.transform, self.target_transform = transform, target_transform

    def __call__(self, input, target):
        if self.transform is not None:
            input = self.transform(input)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return input, target


class VisionDataset(Dataset):
    """torchvision's base of datasets: ``root``, and either ``transforms`` (of image and
    target together) or ``transform`` / ``target_transform``."""

    def __init__(self, root=None, transforms=None, transform=None, target_transform=None):
        self.root = None if root is None else os.path.expanduser(os.fspath(root))
        if transforms is not None and (transform is not None or target_transform is not None):
            raise ValueError('Only transforms or transform/target_transform can be passed as '
                             'argument')
        self.transform, self.target_transform = transform, target_transform
        if transforms is None and (transform is not None or target_transform is not None):
            transforms = StandardTransform(transform, target_transform)
        self.transforms = transforms

    def _apply(self, image, target):
        return (image, target) if self.transforms is None else self.transforms(image, target)

    def __repr__(self):
        lines = [f'Dataset {type(self).__name__}', f'    Number of datapoints: {len(self)}']
        if self.root is not None:
            lines.append(f'    Root location: {self.root}')
        if self.transform is not None:
            lines.append(f'    Transform: {self.transform!r}'.replace('\n', '\n    '))
        return '\n'.join(lines)


class _ArrayImages(VisionDataset):
    """torchvision's items over the arrays of an ``ImageDataset`` of ``minidl.data``."""
    pil_mode = 'L'

    def _setup(self, root, transform, target_transform):
        VisionDataset.__init__(self, root, None, transform, target_transform)

    @property
    def supports_batches(self):
        return self.target_transform is None and batch_exact(self.transform)

    @property
    def class_to_idx(self):
        return {name: i for i, name in enumerate(self.classes)}

    def __getitem__(self, index):
        image = Image.fromarray(np.asarray(as_array(self.data)[index]), mode=self.pil_mode)
        return self._apply(image, int(as_array(self.targets)[index]))


class MNIST(_ArrayImages, _files.MNIST):
    """The MNIST digits; ``data`` a uint8 Tensor (N, 28, 28), ``targets`` an int64 Tensor."""

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        _files.MNIST.__init__(self, root, train, transform, download)
        self._setup(root, transform, target_transform)
        self.data, self.targets = Tensor(self.data), Tensor(self.targets)


class FashionMNIST(_ArrayImages, _files.FashionMNIST):
    """Fashion-MNIST, in MNIST's layout."""

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        _files.FashionMNIST.__init__(self, root, train, transform, download)
        self._setup(root, transform, target_transform)
        self.data, self.targets = Tensor(self.data), Tensor(self.targets)


class CIFAR10(_ArrayImages, _files.CIFAR10):
    """CIFAR-10; ``data`` a uint8 array (N, 32, 32, 3), ``targets`` a list of ints."""
    pil_mode = 'RGB'

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        _files.CIFAR10.__init__(self, root, train, transform, download)
        self._setup(root, transform, target_transform)
        self.targets = self.targets.tolist()


# ---------------------------------------------------------------- folders of image files

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff', '.webp')


def pil_loader(path):
    """The image file at ``path`` as an RGB PIL image."""
    with open(path, 'rb') as f:
        return Image.open(f).convert('RGB')


default_loader = pil_loader


def find_classes(directory):
    """(sorted class folder names, {name: index}) of ``directory``."""
    classes = sorted(entry.name for entry in os.scandir(directory) if entry.is_dir())
    if not classes:
        raise FileNotFoundError(f"Couldn't find any class folder in {directory}.")
    return classes, {name: i for i, name in enumerate(classes)}


def make_dataset(directory, class_to_idx, extensions=None, is_valid_file=None,
                 allow_empty=False):
    """[(path, class index)] of the files under each class folder, sorted, as torchvision."""
    if (extensions is None) == (is_valid_file is None):
        raise ValueError('Both extensions and is_valid_file cannot be None or not None at the '
                         'same time')
    if is_valid_file is None:
        suffixes = tuple(e.lower() for e in extensions)

        def is_valid_file(path):
            return path.lower().endswith(suffixes)
    samples, empty = [], []
    for name in sorted(class_to_idx):
        found = 0
        folder = os.path.join(directory, name)
        for root, _, files in sorted(os.walk(folder, followlinks=True)):
            for file in sorted(files):
                path = os.path.join(root, file)
                if is_valid_file(path):
                    samples.append((path, class_to_idx[name]))
                    found += 1
        if not found:
            empty.append(name)
    if empty and not allow_empty:
        message = f'Found no valid file for the classes {", ".join(empty)}. '
        if extensions is not None:
            message += f'Supported extensions are: {", ".join(extensions)}'
        raise FileNotFoundError(message)
    return samples


class DatasetFolder(VisionDataset):
    """Files in ``root/<class>/...``, read by ``loader``; classes are the sorted folder names."""

    def __init__(self, root, loader, extensions=None, transform=None, target_transform=None,
                 is_valid_file=None, allow_empty=False):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.classes, self.class_to_idx = find_classes(self.root)
        self.samples = make_dataset(self.root, self.class_to_idx, extensions, is_valid_file,
                                    allow_empty)
        self.loader, self.extensions = loader, extensions
        self.targets = [target for _, target in self.samples]

    def __getitem__(self, index):
        path, target = self.samples[index]
        return self._apply(self.loader(path), target)

    def __len__(self):
        return len(self.samples)


class ImageFolder(DatasetFolder):
    """Images in ``root/<class>/xxx.png`` (any of IMG_EXTENSIONS), read as RGB PIL images."""

    def __init__(self, root, transform=None, target_transform=None, loader=default_loader,
                 is_valid_file=None, allow_empty=False):
        super().__init__(root, loader, IMG_EXTENSIONS if is_valid_file is None else None,
                         transform, target_transform, is_valid_file, allow_empty)
        self.imgs = self.samples


class FakeData(VisionDataset):
    """``size`` random images of ``image_size`` (C, H, W) with random labels, for trying a
    pipeline without data. Item i is the same every time: it is drawn from a generator
    seeded with ``i + random_offset`` (uniform uint8 pixels; torchvision draws from its
    own generator, so the pixels differ from torchvision's)."""

    def __init__(self, size=1000, image_size=(3, 224, 224), num_classes=10, transform=None,
                 target_transform=None, random_offset=0):
        super().__init__(None, transform=transform, target_transform=target_transform)
        if len(image_size) != 3 or image_size[0] not in (1, 3):
            raise ValueError(f'FakeData: image_size must be (1 or 3, H, W), got {image_size}')
        self.size, self.num_classes = size, num_classes
        self.image_size, self.random_offset = tuple(image_size), random_offset

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f'{type(self).__name__} index out of range')
        rng = np.random.default_rng(index + self.random_offset)
        channels, height, width = self.image_size
        pixels = rng.integers(0, 256, (height, width, channels), dtype=np.uint8)
        target = int(rng.integers(0, self.num_classes))
        image = Image.fromarray(pixels[:, :, 0] if channels == 1 else pixels,
                                mode='L' if channels == 1 else 'RGB')
        return self._apply(image, target)

    def __len__(self):
        return self.size
