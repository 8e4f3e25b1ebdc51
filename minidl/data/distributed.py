"""DistributedSampler: each rank of a data-parallel job reads its own share of a dataset.

    sampler = DistributedSampler(train_set)          # rank and world size from the job
    loader = DataLoader(train_set, batch_size=32, sampler=sampler)

Every rank draws the same permutation of the dataset (a generator seeded with
``seed`` and the epoch, the same on every rank), pads it by repeating its first
indices until its length divides by the number of ranks, and takes every
``num_replicas``-th index from position ``rank``. So the shards of one epoch are
disjoint, together cover the dataset, and are equally long (the ranks take the same
number of steps, which data parallelism needs: each step all-reduces gradients).
"""
import math
import numbers

import numpy as np

from .sampler import Sampler


class DistributedSampler(Sampler):
    """The indices of ``dataset`` that rank ``rank`` of ``num_replicas`` reads, as
    ``torch.utils.data.DistributedSampler``.

    Arguments:
        num_replicas, rank: default ``minidl.distributed``'s world size and rank.
        shuffle: a new permutation each epoch (``set_epoch``); else the dataset's order.
        seed: the permutation's seed; must be the same on every rank.
        drop_last: drop the tail that does not divide evenly instead of padding.

    ``len(sampler)`` is the shard's length, ``ceil(len(dataset) / num_replicas)`` (or
    the floor with ``drop_last``). minidl's DataLoader calls ``set_epoch`` with its own
    epoch count, so a resumed run reads the same shards; PyTorch code that calls
    ``sampler.set_epoch(epoch)`` itself works too. The permutation comes from NumPy's
    generator, so it is not PyTorch's (``shuffle=False`` gives PyTorch's shards).
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0,
                 drop_last=False):
        if num_replicas is None or rank is None:
            from .. import distributed as dist
            if not dist.is_initialized():
                raise RuntimeError('DistributedSampler: give num_replicas and rank, or call '
                                   'minidl.distributed.init_process_group first')
            num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
            rank = dist.get_rank() if rank is None else rank
        if not isinstance(num_replicas, numbers.Integral) or num_replicas < 1:
            raise ValueError(f'DistributedSampler: num_replicas must be a positive integer, '
                             f'got {num_replicas!r}')
        if not isinstance(rank, numbers.Integral) or not 0 <= rank < num_replicas:
            raise ValueError(f'Invalid rank {rank}, rank should be in the interval '
                             f'[0, {num_replicas - 1}]')
        self.dataset = dataset
        self.num_replicas, self.rank = int(num_replicas), int(rank)
        self.shuffle, self.seed, self.drop_last = bool(shuffle), int(seed), bool(drop_last)
        self.epoch = 0
        n = len(dataset)
        if self.drop_last and n % self.num_replicas:
            self.num_samples = n // self.num_replicas
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch):
        """The epoch whose permutation the next iteration draws."""
        self.epoch = int(epoch)

    def __len__(self):
        return self.num_samples

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(n)
        else:
            order = np.arange(n)
        if self.total_size > n:     # pad with the first indices, repeated as often as needed
            order = np.resize(order, self.total_size)
        else:
            order = order[:self.total_size]
        return iter(order[self.rank::self.num_replicas].tolist())
