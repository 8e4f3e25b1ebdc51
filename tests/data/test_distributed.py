"""DistributedSampler: the ranks' shards partition the dataset; the DataLoader uses them."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from minidl.data import DataLoader, DistributedSampler, TensorDataset
from tests.parity import require_torch

pytestmark = pytest.mark.cpu_only


def dataset(n):
    return TensorDataset(np.arange(n, dtype=np.float32).reshape(n, 1), np.arange(n))


def shards(n, world, **kwargs):
    return [list(DistributedSampler(dataset(n), world, r, **kwargs)) for r in range(world)]


@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 60), world=st.integers(1, 7), shuffle=st.booleans(),
       seed=st.integers(0, 2 ** 32 - 1), epoch=st.integers(0, 5))
def test_shards_partition_the_dataset(n, world, shuffle, seed, epoch):
    samplers = [DistributedSampler(dataset(n), world, r, shuffle=shuffle, seed=seed)
                for r in range(world)]
    for s in samplers:
        s.set_epoch(epoch)
    parts = [list(s) for s in samplers]
    length = -(-n // world)
    assert [len(p) for p in parts] == [length] * world == [len(s) for s in samplers]
    every = [i for p in parts for i in p]
    assert set(every) == set(range(n))                  # together they cover the dataset
    assert len(every) - len(set(every)) == length * world - n   # repeats only to pad
    # rank r's k-th index is position k * world + r of one shared order
    order = [parts[r][k] for k in range(length) for r in range(world)]
    assert sorted(set(order[:n])) == list(range(n))


@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 60), world=st.integers(1, 7), shuffle=st.booleans())
def test_drop_last_gives_disjoint_equal_shards(n, world, shuffle):
    if n < world:
        parts = shards(n, world, shuffle=shuffle, drop_last=True)
        assert all(p == [] for p in parts)
        return
    parts = shards(n, world, shuffle=shuffle, drop_last=True)
    every = [i for p in parts for i in p]
    assert [len(p) for p in parts] == [n // world] * world
    assert len(set(every)) == len(every) == (n // world) * world


def test_epochs_reshuffle_the_same_way_on_every_rank():
    a, b = (DistributedSampler(dataset(20), 2, r, seed=3) for r in range(2))
    first = (list(a), list(b))
    a.set_epoch(1)
    b.set_epoch(1)
    second = (list(a), list(b))
    assert first != second
    assert sorted(first[0] + first[1]) == sorted(second[0] + second[1]) == list(range(20))
    c = DistributedSampler(dataset(20), 2, 0, seed=3)
    assert list(c) == first[0]


def test_unshuffled_shards_are_pytorchs():
    torch = require_torch()
    from torch.utils.data import DistributedSampler as TorchSampler
    for n, world, drop_last in ((10, 3, False), (10, 3, True), (2, 4, False), (9, 3, False)):
        for rank in range(world):
            theirs = list(TorchSampler(range(n), world, rank, shuffle=False, drop_last=drop_last))
            ours = list(DistributedSampler(dataset(n), world, rank, shuffle=False,
                                           drop_last=drop_last))
            assert ours == theirs, (n, world, rank, drop_last)
    del torch


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match=r'Invalid rank 2, rank should be in the interval \[0, 1\]'):
        DistributedSampler(dataset(4), 2, 2)
    with pytest.raises(ValueError, match='num_replicas must be a positive integer'):
        DistributedSampler(dataset(4), 0, 0)
    with pytest.raises(RuntimeError, match='init_process_group'):
        DistributedSampler(dataset(4))


def test_loader_reads_its_shard_and_tells_the_sampler_each_epoch():
    data = dataset(10)
    loaders = [DataLoader(data, batch_size=2, sampler=DistributedSampler(data, 2, r, seed=1),
                          seed=0, prefetch=False) for r in range(2)]
    assert [len(loader) for loader in loaders] == [3, 3]
    for epoch in range(2):
        labels = [[int(v) for _, y in loader for v in y.numpy()] for loader in loaders]
        assert sorted(labels[0] + labels[1]) == list(range(10))
        expected = DistributedSampler(data, 2, 0, seed=1)
        expected.set_epoch(epoch)
        assert labels[0] == list(expected)
        assert loaders[0].sampler.epoch == epoch


def test_loader_resumes_on_the_same_shard():
    data = dataset(12)
    make = lambda: DataLoader(data, batch_size=2, sampler=DistributedSampler(data, 2, 1),  # noqa: E731
                              seed=0, prefetch=False)
    whole = make()
    list(whole)
    second_epoch = [y.numpy().tolist() for _, y in whole]
    interrupted = make()
    list(interrupted)
    batches = iter(interrupted)
    first = next(batches)[1].numpy().tolist()
    resumed = make()
    resumed.load_state_dict(interrupted.state_dict())
    assert [first] + [y.numpy().tolist() for _, y in resumed] == second_epoch


def test_sampler_and_shuffle_exclude_each_other():
    data = dataset(4)
    with pytest.raises(ValueError, match='mutually exclusive'):
        DataLoader(data, sampler=DistributedSampler(data, 2, 0), shuffle=True)
