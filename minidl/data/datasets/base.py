"""ImageDataset: labelled images held in two arrays, read one item or one batch at a time."""
import operator

import numpy as np

from ...backend import array_of
from ..dataset import Dataset
from ..transforms import ToTensor, supports_batches


class DatasetError(RuntimeError):
    """A dataset file is there but unreadable: corrupt, truncated or of the wrong kind."""


_to_tensor = ToTensor()


def as_array(values):
    """The NumPy array behind ``data`` or ``targets``: an array, a Tensor's array, or a list
    (torchvision keeps MNIST's as Tensors, CIFAR-10's labels as a list)."""
    array = array_of(values)
    return array if array is not None else np.asarray(values)


class ImageDataset(Dataset):
    """Images ``data`` and int64 labels ``targets``, with an optional ``transform``.

    ``data`` is uint8 channels-last as torchvision keeps it ((N, H, W) or (N, H, W, C)),
    or float32 (N, C, H, W) in [0, 1]. Items come out as float32 (C, H, W) in [0, 1]
    (ToTensor applied), then transformed, with an int label; ``get_batch`` reads a whole
    batch with one indexing and transforms it at once.
    """
    supports_batches = True
    classes = ()

    def __init__(self, data, targets, transform=None):
        self.data = data
        self.targets = np.asarray(targets, dtype=np.int64)
        self.transform = transform
        if len(self.data) != len(self.targets):
            raise ValueError(f'{type(self).__name__}: {len(self.data)} images but '
                             f'{len(self.targets)} labels')

    @property
    def num_classes(self):
        return len(self.classes)

    @property
    def in_channels(self):
        data = as_array(self.data)
        if data.dtype == np.uint8:
            return 1 if data.ndim == 3 else data.shape[-1]
        return data.shape[1]

    def __len__(self):
        return len(self.targets)

    def _images(self, indices):
        """float32 (N, C, H, W) in [0, 1] for ``indices``."""
        images = as_array(self.data)[indices]
        if images.dtype == np.uint8:
            return _to_tensor(images[..., None] if images.ndim == 3 else images)
        return images.astype(np.float32, copy=True)

    def get_batch(self, indices):
        indices = np.asarray(indices, dtype=np.int64)
        images = self._images(indices)
        if self.transform is not None:
            if supports_batches(self.transform):
                images = self.transform(images)
            else:  # a transform of single images only
                images = np.stack([self.transform(image) for image in images])
        return images, as_array(self.targets)[indices]

    def __getitem__(self, index):
        index = operator.index(index)
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f'{type(self).__name__}: index {index} out of range for {n} items')
        image = self._images(np.array([index]))[0]
        if self.transform is not None:
            image = self.transform(image)
        return image, int(as_array(self.targets)[index])

    def __repr__(self):
        split = '' if not hasattr(self, 'train') else f", {'train' if self.train else 'test'}"
        shape = tuple(self._images(np.array([0]))[0].shape) if len(self) else ()
        return f'{type(self).__name__}({len(self)} images of shape {shape}{split})'
