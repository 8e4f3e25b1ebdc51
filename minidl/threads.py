"""``torch.set_num_threads`` and ``torch.get_num_threads``: how many threads minidl's
array math uses on the CPU.

minidl runs no thread pool of its own: its heavy work is NumPy's matrix products, which
the BLAS library under NumPy (OpenBLAS, MKL, ...) spreads over its threads. These two
functions set and read that library's thread count through threadpoolctl, so
``set_num_threads(1)`` makes every operator single-threaded, as in PyTorch.
"""
import operator
import os

import numpy as np  # noqa: F401  (loads the BLAS library that threadpoolctl looks for)
from threadpoolctl import threadpool_info, threadpool_limits

__all__ = ['set_num_threads', 'get_num_threads']

_limits = None   # the threadpoolctl limiter set_num_threads made (kept alive)


def set_num_threads(int):   # PyTorch's argument name
    """Use ``int`` threads (a positive number) for the CPU's array math (NumPy's BLAS
    and OpenMP libraries), from now on in this process."""
    global _limits
    threads = operator.index(int)
    if threads <= 0:
        raise RuntimeError(f'set_num_threads: the number of threads must be positive, got '
                           f'{threads}')
    _limits = threadpool_limits(limits=threads)


def get_num_threads():
    """The number of threads the CPU's array math uses: the largest thread count among
    the BLAS libraries NumPy loaded (the CPU count when threadpoolctl finds none)."""
    counts = [pool['num_threads'] for pool in threadpool_info() if pool['user_api'] == 'blas']
    return max(counts) if counts else os.cpu_count() or 1
