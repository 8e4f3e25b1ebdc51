import numpy as np
import pytest

import minidl
from minidl.data.rng import use_generator
from minidl.utils.data import (BatchSampler, RandomSampler, SequentialSampler,
                               SubsetRandomSampler, WeightedRandomSampler)
from tests.parity import require_torch

pytestmark = pytest.mark.cpu_only


def test_sequential_and_batch_samplers_match_torch():
    torch = require_torch()
    data = list(range(10))
    assert list(SequentialSampler(data)) == list(torch.utils.data.SequentialSampler(data))
    for size, drop in [(3, False), (3, True), (5, True), (20, False)]:
        mine = BatchSampler(SequentialSampler(data), size, drop)
        theirs = torch.utils.data.BatchSampler(torch.utils.data.SequentialSampler(data), size, drop)
        assert list(mine) == list(theirs) and len(mine) == len(theirs)


def test_random_sampler_permutes_and_repeats_with_num_samples():
    data = range(7)
    order = list(RandomSampler(data))
    assert sorted(order) == list(range(7)) and all(type(i) is int for i in order)
    long = list(RandomSampler(data, num_samples=16))
    assert len(long) == 16 and sorted(long[:7]) == sorted(long[7:14]) == list(range(7))
    drawn = list(RandomSampler(data, replacement=True, num_samples=50))
    assert len(drawn) == 50 and set(drawn) <= set(range(7))
    assert len(RandomSampler(data, num_samples=3)) == 3


def test_random_sampler_draws_from_its_generator_or_the_current_one():
    data = range(30)
    a = list(RandomSampler(data, generator=np.random.default_rng(5)))
    assert a == list(RandomSampler(data, generator=np.random.default_rng(5)))
    sampler = RandomSampler(data)
    with use_generator(np.random.default_rng(1)):
        first = list(sampler)
    with use_generator(np.random.default_rng(1)):
        assert list(sampler) == first
    minidl.manual_seed(3)
    outside = list(sampler)
    minidl.manual_seed(3)
    assert list(sampler) == outside


def test_subset_and_weighted_samplers():
    indices = [4, 9, 2, 7]
    assert sorted(SubsetRandomSampler(indices, generator=np.random.default_rng(0))) == [2, 4, 7, 9]
    weights = [0.0, 1.0, 3.0]
    drawn = np.array(list(WeightedRandomSampler(weights, 4000,
                                                generator=np.random.default_rng(0))))
    assert not (drawn == 0).any()
    assert abs((drawn == 2).mean() - 0.75) < 0.03
    once = list(WeightedRandomSampler([1, 1, 1, 0], 3, replacement=False))
    assert sorted(once) == [0, 1, 2]


def test_sampler_argument_errors_like_torch():
    with pytest.raises(ValueError, match='num_samples should be a positive integer'):
        RandomSampler(range(3), num_samples=0)
    with pytest.raises(TypeError, match='replacement should be a boolean'):
        RandomSampler(range(3), replacement=1)
    with pytest.raises(ValueError, match='batch_size should be a positive integer'):
        BatchSampler(SequentialSampler(range(3)), 0, False)
    with pytest.raises(RuntimeError, match='without replacement'):
        WeightedRandomSampler([1, 0, 0], 2, replacement=False)
