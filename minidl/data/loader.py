"""DataLoader: batches of a dataset as minidl Tensors, shuffled reproducibly, prefetched.

    loader = DataLoader(dataset, batch_size=64, shuffle=True, seed=0)
    for epoch in range(10):
        for images, labels in loader:      # float32 (N, C, H, W), int64 (N,)
            ...

``torch.utils.data.DataLoader``'s arguments are all accepted: ``sampler``,
``batch_sampler``, ``collate_fn``, ``drop_last``, ``generator``, ``batch_size=None``
(no batching), IterableDatasets. Two differ in effect, because minidl reads data in
the calling process: ``num_workers`` > 0 only lets that many batches wait ready,
prepared by one background thread (there are no worker processes, so
``get_worker_info()`` is None and ``worker_init_fn`` is not called, as with
``num_workers=0`` in PyTorch); ``pin_memory``, ``timeout``, ``prefetch_factor``,
``persistent_workers`` and ``multiprocessing_context`` have no effect.

Everything random about an epoch is a function of ``(seed, epoch)``: the sampler draws
the order from a generator seeded with both (unless it was given a generator of its
own), and each batch gets its own generator, seeded with ``(seed, epoch, batch
number)``, from which the dataset's random transforms draw (see ``rng``). So an epoch
is the same whether or not a background thread prefetches it, and ``state_dict()`` /
``load_state_dict()`` resume a run in the middle of an epoch exactly. Without ``seed``
the loader draws one when it is made, from ``generator`` if given, else from minidl's
CPU generator (``minidl.manual_seed`` fixes it).
"""
import collections.abc
import numbers
import queue
import threading

import numpy as np

from ..backend import get_array_module, get_generator, is_array
from ..tensor import Tensor
from .dataset import IterableDataset
from .rng import numpy_generator, use_generator
from .sampler import BatchSampler, RandomSampler, SequentialSampler

__all__ = ['DataLoader', 'default_collate', 'default_convert', 'get_worker_info']


def get_worker_info():
    """None: minidl reads data in the calling process (PyTorch's answer with
    ``num_workers=0``), so a dataset sees the whole stream."""
    return None


def _as_tensor(array):
    if isinstance(array, Tensor):
        return array
    if is_array(array) and not isinstance(array, np.ndarray):   # a CuPy array
        return Tensor(array)
    return Tensor(np.ascontiguousarray(array))


def default_convert(data):
    """Arrays become Tensors, inside lists, tuples and dicts too; the rest stays as it is
    (``torch.utils.data.default_convert``: what a loader with ``batch_size=None`` yields)."""
    if isinstance(data, Tensor):
        return data
    if is_array(data) and data.dtype.kind in 'biufc':
        return _as_tensor(data)
    if isinstance(data, collections.abc.Mapping):
        return {key: default_convert(value) for key, value in data.items()}
    if isinstance(data, tuple) and hasattr(data, '_fields'):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, (list, tuple)):
        return type(data)(default_convert(d) for d in data)
    return data


def default_collate(batch):
    """Stack a list of samples field by field, as ``torch.utils.data.default_collate``.

    Arrays and tensors are stacked along a new first axis; Python ints become an int64
    tensor, floats a float64 tensor (as PyTorch); tuples and lists of fields give a list
    of batches, dicts a dict, strings a list.
    """
    first = batch[0]
    if isinstance(first, Tensor):
        xp = get_array_module(first.array)
        return Tensor(xp.stack([sample.array for sample in batch]))
    if isinstance(first, (np.ndarray, np.generic)):
        return _as_tensor(np.stack(batch))
    if isinstance(first, bool):
        return Tensor(np.array(batch, dtype=np.bool_))
    if isinstance(first, numbers.Integral):
        return Tensor(np.array(batch, dtype=np.int64))
    if isinstance(first, numbers.Real):
        return Tensor(np.array(batch, dtype=np.float64))
    if isinstance(first, (str, bytes)):
        return list(batch)
    if isinstance(first, collections.abc.Mapping):
        return {key: default_collate([sample[key] for sample in batch]) for key in first}
    if isinstance(first, collections.abc.Sequence):
        if any(len(sample) != len(first) for sample in batch):
            raise RuntimeError('default_collate: every sample in a batch must have the same '
                               'number of fields')
        fields = [default_collate(list(column)) for column in zip(*batch)]
        if isinstance(first, tuple) and hasattr(first, '_fields'):  # a namedtuple
            return type(first)(*fields)
        return fields
    raise TypeError(f'default_collate: cannot batch samples of type {type(first).__name__}; '
                    f'pass a collate_fn')


class DataLoader:
    """Iterate over ``dataset`` in batches of ``batch_size``, with PyTorch's arguments
    (see the module's docstring for the two that differ in effect).

    The order comes from ``batch_sampler``, else from ``sampler`` (default: a
    ``RandomSampler`` when ``shuffle``, a ``SequentialSampler`` otherwise) cut into
    batches. When the dataset is array-backed (``supports_batches``: TensorDataset, the
    datasets of ``minidl.data.datasets`` and their Subsets) and no ``collate_fn`` is
    given, each batch is read with one ``dataset.get_batch(indices)`` call; otherwise
    items are read one by one and joined by ``collate_fn`` (``default_collate``).

    ``prefetch`` (on by default) prepares the next batch in one background thread while
    the current one is used; ``num_workers`` batches wait ready (at least one).
    ``seed`` is minidl's: the seed of the run's shuffling and augmentation.
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, timeout=0,
                 worker_init_fn=None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor=None, persistent_workers=False, pin_memory_device='',
                 in_order=True, seed=None, prefetch=True):
        if batch_size is not None and (not isinstance(batch_size, numbers.Integral)
                                       or isinstance(batch_size, bool) or batch_size < 1):
            raise ValueError(f'DataLoader: batch_size must be a positive integer or None, '
                             f'got {batch_size!r}')
        if not isinstance(num_workers, numbers.Integral) or num_workers < 0:
            raise ValueError(f'DataLoader: num_workers must be a non-negative integer, '
                             f'got {num_workers!r}')
        if timeout < 0:
            raise ValueError(f'DataLoader: timeout option should be non-negative, got {timeout}')
        self.dataset = dataset
        self.num_workers = int(num_workers)
        self.collate_fn = collate_fn
        self.pin_memory, self.timeout = bool(pin_memory), timeout
        self.worker_init_fn, self.generator = worker_init_fn, generator
        self.prefetch_factor, self.persistent_workers = prefetch_factor, persistent_workers
        self.prefetch = bool(prefetch) or self.num_workers > 0
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable:
            if shuffle not in (None, False):
                raise ValueError(f'DataLoader with IterableDataset: expected unspecified shuffle '
                                 f'option, but got shuffle={shuffle}')
            if sampler is not None or batch_sampler is not None:
                raise ValueError('DataLoader with IterableDataset: expected unspecified sampler '
                                 'and batch_sampler options: a stream is read in its own order')
        if sampler is not None and shuffle:
            raise ValueError('DataLoader: sampler option is mutually exclusive with shuffle')
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError('DataLoader: batch_sampler option is mutually exclusive with '
                                 'batch_size, shuffle, sampler, and drop_last')
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError('DataLoader: batch_size=None option disables auto-batching and is '
                             'mutually exclusive with drop_last')
        self.shuffle = bool(shuffle)
        self.batch_size, self.drop_last = batch_size, bool(drop_last)
        if not self._iterable:
            if sampler is None:
                sampler = RandomSampler(dataset) if self.shuffle else SequentialSampler(dataset)
            if batch_sampler is None and batch_size is not None:
                batch_sampler = BatchSampler(sampler, batch_size, self.drop_last)
        self.sampler, self.batch_sampler = sampler, batch_sampler
        if seed is None:
            rng = get_generator('cpu') if generator is None else numpy_generator(generator)
            seed = int(rng.integers(2 ** 63))
        self.seed = int(seed)
        self._epoch = 0             # the epoch the next iteration runs
        self._resume_batches = 0    # batches of that epoch already done (set by load_state_dict)
        self._progress = None       # [epoch, batches yielded] of the latest iteration

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None or (self._iterable and self.batch_size is not None)

    def __len__(self):
        if self._iterable:
            n = len(self.dataset)   # a TypeError for a stream without a length, as in PyTorch
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        return len(self.sampler)

    # ------------------------------------------------------------ epochs and resuming
    @property
    def epoch(self):
        """The epoch running now, or the next one between epochs."""
        return self.state_dict()['epoch']

    def set_epoch(self, epoch):
        """Make the next iteration run epoch ``epoch`` from its start."""
        self._epoch, self._resume_batches, self._progress = int(epoch), 0, None

    def state_dict(self):
        """Where the loader stands: its seed, the epoch and how many of its batches are done."""
        progress = self._progress
        if progress is not None and (self._iterable or progress[1] < len(self)):
            epoch, done = progress
        else:
            epoch, done = self._epoch, self._resume_batches
        return {'seed': self.seed, 'epoch': epoch, 'batches_done': done,
                'batch_size': self.batch_size, 'dataset_size': self._dataset_size(),
                'shuffle': self.shuffle, 'drop_last': self.drop_last}

    def _dataset_size(self):
        try:
            return len(self.dataset)
        except TypeError:   # a stream without a length
            return None

    def load_state_dict(self, state):
        """Continue from ``state``: the next iteration yields the batches not yet done."""
        for key in ('batch_size', 'dataset_size', 'shuffle', 'drop_last'):
            mine = self.state_dict()[key]
            if key in state and state[key] != mine:
                raise ValueError(f'DataLoader.load_state_dict: the state is for {key}='
                                 f'{state[key]}, this loader has {key}={mine}')
        if state['batches_done'] < 0 or (not self._iterable
                                         and state['batches_done'] > len(self)):
            raise ValueError(f"DataLoader.load_state_dict: batches_done={state['batches_done']} "
                             f"is outside [0, {len(self)}]")
        self.seed = int(state['seed'])
        self._epoch, self._resume_batches = int(state['epoch']), int(state['batches_done'])
        self._progress = None

    # ------------------------------------------------------------ iteration
    def _batch_indices(self, epoch):
        """The epoch's batches of indices (single indices when batching is off). A sampler
        with ``set_epoch`` (``DistributedSampler``) is told the epoch first, so that a
        resumed run reads the same indices."""
        if hasattr(self.sampler, 'set_epoch'):
            self.sampler.set_epoch(epoch)
        with use_generator(np.random.default_rng([self.seed, 0, epoch])):
            if self.batch_sampler is None:
                return [int(i) for i in self.sampler]
            return [np.asarray(batch, dtype=np.int64) for batch in self.batch_sampler]

    def _fetch(self, epoch, number, indices):
        """Batch ``number`` of ``epoch``, its random transforms drawing from its own generator."""
        with use_generator(np.random.default_rng([self.seed, 1, epoch, number])):
            if not self._auto_collation:
                return default_convert(self.dataset[indices])
            if self.collate_fn is None and getattr(self.dataset, 'supports_batches', False):
                return [_as_tensor(a) for a in self.dataset.get_batch(indices)]
            samples = [self.dataset[int(i)] for i in indices]
            return (self.collate_fn or default_collate)(samples)

    def _stream(self, epoch, start):
        """The batches of an IterableDataset, skipping the first ``start`` (when resuming)."""
        items = iter(self.dataset)
        number = 0
        while True:
            with use_generator(np.random.default_rng([self.seed, 1, epoch, number])):
                if self.batch_size is None:
                    samples = next(items, _END)
                    if samples is _END:
                        return
                    batch = None if number < start else default_convert(samples)
                else:
                    samples = [item for _, item in zip(range(self.batch_size), items)]
                    if not samples or (self.drop_last and len(samples) < self.batch_size):
                        return
                    batch = None if number < start else (self.collate_fn or default_collate)(samples)
            if number >= start:
                yield batch
            number += 1

    def __iter__(self):
        epoch, start = self._epoch, self._resume_batches
        self._epoch, self._resume_batches = epoch + 1, 0
        progress = self._progress = [epoch, start]
        if self._iterable:
            batches = self._stream(epoch, start)
        else:
            batches = (self._fetch(epoch, start + k, indices)
                       for k, indices in enumerate(self._batch_indices(epoch)[start:]))
        return self._run(batches, progress)

    def _run(self, batches, progress):
        for batch in (self._prefetched(batches) if self.prefetch else batches):
            progress[1] += 1   # counted as done once handed out
            yield batch

    def _prefetched(self, batches):
        """Compute ``batches`` in a background thread, a few ahead of the consumer."""
        ready = queue.Queue(maxsize=max(1, self.num_workers))
        stop = threading.Event()

        def put(item):
            while not stop.is_set():
                try:
                    ready.put(item, timeout=0.05)
                    return True
                except queue.Full:
                    continue
            return False

        def work():
            try:
                for batch in batches:
                    if not put(('batch', batch)):
                        return
                put(('end', None))
            except BaseException as err:  # handed to the consumer, raised there
                put(('error', err))

        thread = threading.Thread(target=work, name='minidl-DataLoader-prefetch', daemon=True)
        thread.start()
        try:
            while True:
                kind, value = ready.get()
                if kind == 'end':
                    return
                if kind == 'error':
                    raise value
                yield value
        finally:
            stop.set()
            thread.join()

    def __repr__(self):
        size = self._dataset_size()
        return (f'DataLoader({type(self.dataset).__name__} of {size}, '
                f'batch_size={self.batch_size}, shuffle={self.shuffle}, '
                f'drop_last={self.drop_last}, seed={self.seed})')


_END = object()
