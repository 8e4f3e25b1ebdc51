"""Where the random choices of data loading come from: samplers' orders, augmentation.

A sampler or random transform without a generator of its own draws from
``current_generator()``: minidl's CPU generator (``minidl.manual_seed`` makes it
repeatable), or, inside a ``use_generator(g)`` block, ``g``. The DataLoader opens such
a block around each epoch's order and each batch's transforms with a generator
seeded from ``(seed, epoch, ...)``, so that an epoch is a function of its seed and
number alone: the same with or without prefetching, and when a run is resumed.
"""
import threading
from contextlib import contextmanager

import numpy as np

from ..backend import get_generator

__all__ = ['use_generator', 'current_generator', 'numpy_generator']

_local = threading.local()


@contextmanager
def use_generator(generator):
    """In this block (and this thread), data randomness without a generator of its own
    draws from ``generator`` (a ``numpy.random.Generator``)."""
    previous = getattr(_local, 'generator', None)
    _local.generator = generator
    try:
        yield generator
    finally:
        _local.generator = previous


def current_generator():
    """The generator of the innermost ``use_generator`` block, else minidl's CPU generator."""
    generator = getattr(_local, 'generator', None)
    return generator if generator is not None else get_generator('cpu')


def numpy_generator(generator=None):
    """A ``numpy.random.Generator`` to draw from, given PyTorch's ``generator=`` argument.

    None gives ``current_generator()``; a NumPy generator is used as it is; a
    ``minidl.Generator`` seeds a fresh NumPy generator with one 63-bit draw, as PyTorch's
    samplers seed their own generator from the one they are given (so the draws follow
    that generator's seed, and advance it).
    """
    if generator is None:
        return current_generator()
    if isinstance(generator, np.random.Generator):
        return generator
    from ..creation import randint   # a minidl.Generator: drawn from through the factories
    seed = randint(0, 2 ** 63 - 1, (1,), generator=generator)
    return np.random.default_rng(int(seed.item()))
