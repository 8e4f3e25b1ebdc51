"""Samplers: the order in which a DataLoader visits a dataset, as ``torch.utils.data``.

A sampler is an iterable of dataset indices (Python ints); a batch sampler an iterable
of lists of indices. Random samplers draw from their ``generator`` (a ``minidl.Generator``
or a ``numpy.random.Generator``) or, without one, from ``rng.current_generator()`` —
inside a DataLoader that is a generator seeded with the loader's seed and the epoch,
so shuffled epochs repeat exactly (see ``rng``).
"""
import numbers

import numpy as np

from .rng import numpy_generator

__all__ = ['Sampler', 'SequentialSampler', 'RandomSampler', 'SubsetRandomSampler',
           'WeightedRandomSampler', 'BatchSampler']


class Sampler:
    """Base class: subclasses define ``__iter__`` (indices) and usually ``__len__``."""

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError(f'{type(self).__name__} must define __iter__')


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


def _check_count(name, value, what):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value <= 0:
        raise ValueError(f'{name}: {what} should be a positive integer value, but got '
                         f'{what}={value!r}')


class RandomSampler(Sampler):
    """A random order of the dataset's indices, new at every iteration.

    Without ``replacement``, ``num_samples`` (default: the dataset's size) indices are
    whole random permutations one after another, the last one cut short; with it,
    ``num_samples`` independent uniform draws. As ``torch.utils.data.RandomSampler``.
    """

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(replacement, bool):
            raise TypeError(f'RandomSampler: replacement should be a boolean value, but got '
                            f'replacement={replacement!r}')
        _check_count('RandomSampler', self.num_samples, 'num_samples')

    @property
    def num_samples(self):
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        n, count = len(self.data_source), self.num_samples
        rng = numpy_generator(self.generator)
        if self.replacement:
            order = rng.integers(0, n, size=count)
        else:
            rounds = [rng.permutation(n) for _ in range(-(-count // n))]
            order = np.concatenate(rounds)[:count] if rounds else np.zeros(0, np.int64)
        return iter(order.tolist())

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given ``indices`` in a random order, new at every iteration."""

    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = generator

    def __iter__(self):
        order = numpy_generator(self.generator).permutation(len(self.indices))
        return iter([self.indices[i] for i in order.tolist()])

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices drawn with probabilities proportional to ``weights``
    (with or without replacement), as ``torch.multinomial`` draws them."""

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        _check_count('WeightedRandomSampler', num_samples, 'num_samples')
        if not isinstance(replacement, bool):
            raise ValueError(f'WeightedRandomSampler: replacement should be a boolean value, '
                             f'but got replacement={replacement!r}')
        weights = np.asarray(weights, dtype=np.float64)
        if weights.ndim != 1:
            raise ValueError(f'WeightedRandomSampler: weights should be a 1-D sequence, got '
                             f'shape {weights.shape}')
        if np.any(weights < 0) or not np.all(np.isfinite(weights)) or weights.sum() <= 0:
            raise RuntimeError('WeightedRandomSampler: weights must be finite, non-negative '
                               'and not all zero')
        if not replacement and num_samples > np.count_nonzero(weights):
            raise RuntimeError(f'WeightedRandomSampler: cannot draw {num_samples} samples '
                               f'without replacement from {np.count_nonzero(weights)} '
                               f'non-zero weights')
        self.weights, self.num_samples = weights, num_samples
        self.replacement, self.generator = replacement, generator

    def __iter__(self):
        rng = numpy_generator(self.generator)
        chosen = rng.choice(len(self.weights), size=self.num_samples, replace=self.replacement,
                            p=self.weights / self.weights.sum())
        return iter(chosen.tolist())

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Lists of ``batch_size`` indices from ``sampler``; the last may be shorter unless
    ``drop_last``."""

    def __init__(self, sampler, batch_size, drop_last):
        _check_count('BatchSampler', batch_size, 'batch_size')
        if not isinstance(drop_last, bool):
            raise ValueError(f'BatchSampler: drop_last should be a boolean value, but got '
                             f'drop_last={drop_last!r}')
        self.sampler, self.batch_size, self.drop_last = sampler, batch_size, drop_last

    def __iter__(self):
        batch = []
        for index in self.sampler:
            batch.append(index)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
