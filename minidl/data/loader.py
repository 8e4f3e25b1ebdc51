"""DataLoader: batches of a dataset as minidl Tensors, shuffled reproducibly, prefetched.

    loader = DataLoader(dataset, batch_size=64, shuffle=True, seed=0)
    for epoch in range(10):
        for images, labels in loader:      # float32 (N, C, H, W), int64 (N,)
            ...

Everything random about an epoch is a function of ``(seed, epoch)``: the order of the
items comes from a generator seeded with both, and each batch gets its own generator,
seeded with ``(seed, epoch, batch number)``, from which the dataset's random
transforms draw (see ``transforms.use_generator``). So an epoch is the same whether
or not a background thread prefetches it, and ``state_dict()`` / ``load_state_dict()``
resume a run in the middle of an epoch exactly. Without ``seed`` the loader draws one
from minidl's CPU generator when it is made (``minidl.manual_seed`` fixes it).
"""
import collections.abc
import math
import numbers
import queue
import threading

import numpy as np

from ..backend import get_array_module, get_generator
from ..tensor import Tensor
from .transforms import use_generator


def _as_tensor(array):
    if isinstance(array, Tensor):
        return array
    return Tensor(np.ascontiguousarray(array))


def default_collate(batch):
    """Stack a list of samples field by field, as ``torch.utils.data.default_collate``.

    Arrays and tensors are stacked along a new first axis; Python ints become an int64
    tensor, floats a float32 tensor; tuples and lists of fields give a list of batches,
    dicts a dict, strings a list.
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
        return Tensor(np.array(batch, dtype=np.float32))
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
    """Iterate over ``dataset`` in batches of ``batch_size``.

    When the dataset is array-backed (``supports_batches``: TensorDataset, the datasets
    of ``minidl.data.datasets`` and their Subsets) and no ``collate_fn`` is given, each
    batch is read with one ``dataset.get_batch(indices)`` call; otherwise items are read
    one by one and joined by ``collate_fn`` (``default_collate``).

    ``prefetch`` prepares the next batch in one background thread while the current one
    is used; ``num_workers`` > 0 also turns it on and lets that many batches wait ready
    (minidl starts no worker processes).
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, seed=None,
                 num_workers=0, collate_fn=None, prefetch=True):
        if not isinstance(batch_size, numbers.Integral) or batch_size < 1:
            raise ValueError(f'DataLoader: batch_size must be a positive integer, '
                             f'got {batch_size!r}')
        if not isinstance(num_workers, numbers.Integral) or num_workers < 0:
            raise ValueError(f'DataLoader: num_workers must be a non-negative integer, '
                             f'got {num_workers!r}')
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.num_workers = int(num_workers)
        self.collate_fn = collate_fn
        self.prefetch = bool(prefetch) or self.num_workers > 0
        self.seed = int(get_generator('cpu').integers(2 ** 63)) if seed is None else int(seed)
        self._epoch = 0             # the epoch the next iteration runs
        self._resume_batches = 0    # batches of that epoch already done (set by load_state_dict)
        self._progress = None       # [epoch, batches yielded] of the latest iteration

    def __len__(self):
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

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
        if progress is not None and progress[1] < len(self):
            epoch, done = progress
        else:
            epoch, done = self._epoch, self._resume_batches
        return {'seed': self.seed, 'epoch': epoch, 'batches_done': done,
                'batch_size': self.batch_size, 'dataset_size': len(self.dataset),
                'shuffle': self.shuffle, 'drop_last': self.drop_last}

    def load_state_dict(self, state):
        """Continue from ``state``: the next iteration yields the batches not yet done."""
        for key in ('batch_size', 'dataset_size', 'shuffle', 'drop_last'):
            mine = self.state_dict()[key]
            if key in state and state[key] != mine:
                raise ValueError(f'DataLoader.load_state_dict: the state is for {key}='
                                 f'{state[key]}, this loader has {key}={mine}')
        if not 0 <= state['batches_done'] <= len(self):
            raise ValueError(f"DataLoader.load_state_dict: batches_done={state['batches_done']} "
                             f"is outside [0, {len(self)}]")
        self.seed = int(state['seed'])
        self._epoch, self._resume_batches = int(state['epoch']), int(state['batches_done'])
        self._progress = None

    # ------------------------------------------------------------ iteration
    def _batch_indices(self, epoch):
        n = len(self.dataset)
        if self.shuffle:
            order = np.random.default_rng([self.seed, 0, epoch]).permutation(n)
        else:
            order = np.arange(n)
        return [order[k * self.batch_size:(k + 1) * self.batch_size] for k in range(len(self))]

    def _fetch(self, epoch, number, indices):
        """Batch ``number`` of ``epoch``, its random transforms drawing from its own generator."""
        with use_generator(np.random.default_rng([self.seed, 1, epoch, number])):
            if self.collate_fn is None and getattr(self.dataset, 'supports_batches', False):
                return [_as_tensor(a) for a in self.dataset.get_batch(indices)]
            samples = [self.dataset[int(i)] for i in indices]
            return (self.collate_fn or default_collate)(samples)

    def __iter__(self):
        epoch, start = self._epoch, self._resume_batches
        self._epoch, self._resume_batches = epoch + 1, 0
        progress = self._progress = [epoch, start]
        jobs = [(epoch, start + k, indices)
                for k, indices in enumerate(self._batch_indices(epoch)[start:])]
        return self._run(jobs, progress)

    def _run(self, jobs, progress):
        batches = self._prefetched(jobs) if self.prefetch else (self._fetch(*j) for j in jobs)
        for batch in batches:
            progress[1] += 1   # counted as done once handed out
            yield batch

    def _prefetched(self, jobs):
        """Fetch ``jobs`` in a background thread, a few batches ahead of the consumer."""
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
                for job in jobs:
                    if not put(('batch', self._fetch(*job))):
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
        return (f'DataLoader({type(self.dataset).__name__} of {len(self.dataset)}, '
                f'batch_size={self.batch_size}, shuffle={self.shuffle}, '
                f'drop_last={self.drop_last}, seed={self.seed})')
