"""Datasets: anything with ``__getitem__`` and ``__len__`` (or ``__iter__``), as in
``torch.utils.data``.

A dataset may also offer a batch path: ``supports_batches`` is True and
``get_batch(indices)`` returns a tuple of stacked NumPy arrays (images, labels, ...)
for a whole batch of indices at once. The DataLoader uses it when it can, so that an
array-backed dataset is indexed once per batch instead of once per item.
"""
import bisect
import math

import numpy as np

from ..backend import get_array_module, is_array
from ..tensor import Tensor
from .rng import numpy_generator


class Dataset:
    """The base class: subclasses define ``__getitem__(index)`` and ``__len__()``."""
    supports_batches = False

    def __getitem__(self, index):
        raise NotImplementedError(f'{type(self).__name__} must define __getitem__')

    def __len__(self):
        raise NotImplementedError(f'{type(self).__name__} must define __len__')

    def __add__(self, other):
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A stream of items: subclasses define ``__iter__`` (and may define ``__len__``).

    A DataLoader batches the items in the order the stream gives them; it cannot
    shuffle or sample a stream. minidl reads data in the calling process, so
    ``get_worker_info()`` is None inside ``__iter__`` and no sharding is needed.
    """

    def __iter__(self):
        raise NotImplementedError(f'{type(self).__name__} must define __iter__')

    def __getitem__(self, index):
        raise TypeError(f'{type(self).__name__} is an IterableDataset: iterate over it '
                        f'instead of indexing it')

    def __len__(self):
        raise TypeError(f'{type(self).__name__} is a stream without a length (define __len__ '
                        f'to give it one)')

    def __add__(self, other):
        return ChainDataset([self, other])


class ChainDataset(IterableDataset):
    """Several IterableDatasets one after another."""

    def __init__(self, datasets):
        self.datasets = list(datasets)

    def __iter__(self):
        for dataset in self.datasets:
            if not isinstance(dataset, IterableDataset):
                raise TypeError(f'ChainDataset only supports IterableDataset, got '
                                f'{type(dataset).__name__}')
            yield from dataset

    def __len__(self):
        return sum(len(d) for d in self.datasets)


def _as_tensor(x):
    """A minidl Tensor for a Tensor (itself), an array (shared) or a (nested) list."""
    if isinstance(x, Tensor):
        return x
    if is_array(x):
        return Tensor(x)
    if hasattr(x, 'detach') and hasattr(x, 'numpy'):   # a PyTorch tensor
        return Tensor(x.detach().cpu().numpy())
    return Tensor(np.asarray(x))


class TensorDataset(Dataset):
    """Item ``i`` is ``tuple(t[i] for t in tensors)``, as in PyTorch: the tensors (or
    arrays, taken as tensors sharing their memory) share their first size, and the
    items are tensors sharing memory with them."""
    supports_batches = True

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError('TensorDataset: needs at least one tensor')
        self.tensors = tuple(_as_tensor(t) for t in tensors)
        sizes = [t.shape[0] if t.ndim else None for t in self.tensors]
        if None in sizes or len(set(sizes)) != 1:
            shapes = ', '.join(str(tuple(t.shape)) for t in self.tensors)
            raise ValueError(f'TensorDataset: all tensors must have the same first size, '
                             f'got shapes {shapes}')

    def __getitem__(self, index):
        return tuple(Tensor(t.array[index]) for t in self.tensors)

    def get_batch(self, indices):
        """The arrays of a whole batch of items (on the tensors' device)."""
        indices = np.asarray(indices, dtype=np.int64)
        return tuple(t.array[get_array_module(t.array).asarray(indices)] for t in self.tensors)

    def __len__(self):
        return self.tensors[0].shape[0]


class Subset(Dataset):
    """The items of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(dataset)
        if self.indices.size and (self.indices.min() < -n or self.indices.max() >= n):
            raise IndexError(f'Subset: indices must lie in [{-n}, {n}) for a dataset of '
                             f'{n} items, got range [{self.indices.min()}, {self.indices.max()}]')

    @property
    def supports_batches(self):
        return getattr(self.dataset, 'supports_batches', False)

    def __getitem__(self, index):
        if isinstance(index, (list, np.ndarray)):
            return [self.dataset[int(i)] for i in self.indices[index]]
        return self.dataset[int(self.indices[index])]

    def get_batch(self, indices):
        return self.dataset.get_batch(self.indices[np.asarray(indices, dtype=np.int64)])

    def __len__(self):
        return self.indices.size

    def __getattr__(self, name):
        # classes, num_classes, in_channels ... of the underlying dataset
        if name in ('dataset', 'indices'):  # not set yet (copying, unpickling)
            raise AttributeError(name)
        return getattr(self.dataset, name)


class ConcatDataset(Dataset):
    """The items of several datasets one after another."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError('ConcatDataset: needs at least one dataset')
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets]).tolist()

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, index):
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f'ConcatDataset: index out of range for {n} items')
        which = bisect.bisect_right(self.cumulative_sizes, index)
        start = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][index - start]


def _split_lengths(lengths, n):
    """Whole lengths from ``lengths``: integers summing to n, or fractions summing to 1.

    Fractions are floored and the remainder is handed out one by one, round-robin,
    as ``torch.utils.data.random_split`` does.
    """
    lengths = list(lengths)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        if any(not 0 <= f <= 1 for f in lengths):
            raise ValueError(f'random_split: fractions must lie in [0, 1], got {lengths}')
        counts = [int(math.floor(n * f)) for f in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        return counts
    if any(int(k) != k or k < 0 for k in lengths) or sum(lengths) != n:
        raise ValueError(f'random_split: lengths {lengths} must be fractions summing to 1 or '
                         f'whole numbers summing to the dataset size {n}')
    return [int(k) for k in lengths]


def random_split(dataset, lengths, generator=None, seed=None):
    """Split ``dataset`` into non-overlapping random Subsets of the given lengths.

    The permutation comes from ``generator`` (a ``minidl.Generator``, as
    ``random_split(ds, [0.8, 0.2], generator=minidl.Generator().manual_seed(42))``, or a
    NumPy generator), else from a private generator seeded with ``seed``, else from
    minidl's CPU generator (so ``minidl.manual_seed`` makes it repeatable).
    """
    counts = _split_lengths(lengths, len(dataset))
    if generator is None and seed is not None:
        generator = np.random.default_rng(seed)
    order = numpy_generator(generator).permutation(len(dataset))
    bounds = np.cumsum([0] + counts)
    return [Subset(dataset, order[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
