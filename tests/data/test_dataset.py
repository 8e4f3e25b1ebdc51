import numpy as np
import pytest

import minidl
from minidl.data import ConcatDataset, Dataset, Subset, TensorDataset, random_split
from tests.parity import require_torch

pytestmark = pytest.mark.cpu_only


def make_dataset(n=10):
    images = np.arange(n * 4, dtype=np.float32).reshape(n, 1, 2, 2)
    labels = np.arange(n, dtype=np.int64) % 3
    return TensorDataset(images, labels)


def test_tensor_dataset_items_and_batches():
    ds = make_dataset()
    assert len(ds) == 10
    image, label = ds[3]
    np.testing.assert_array_equal(image, np.arange(12, 16, dtype=np.float32).reshape(1, 2, 2))
    assert label == 0
    images, labels = ds.get_batch([4, 1])
    assert images.shape == (2, 1, 2, 2) and labels.tolist() == [1, 1]
    assert ds.supports_batches


def test_tensor_dataset_holds_tensors_and_checks_sizes():
    x = minidl.ones(4, 3)
    ds = TensorDataset(x, np.zeros(4))
    assert ds.tensors[0] is x and isinstance(ds.tensors[1], minidl.Tensor)
    item, label = ds[0]
    assert isinstance(item, minidl.Tensor) and item.shape == (3,)      # as in PyTorch
    assert isinstance(label, minidl.Tensor) and label.shape == () and label.item() == 0
    with pytest.raises(ValueError, match=r'same first size, got shapes \(4, 3\), \(5,\)'):
        TensorDataset(np.zeros((4, 3)), np.zeros(5))


def test_subset_maps_indices_and_passes_attributes():
    ds = make_dataset()
    ds.classes = ('a', 'b', 'c')
    sub = Subset(ds, [7, 2, 5])
    assert len(sub) == 3 and sub[1][1] == ds[2][1]
    np.testing.assert_array_equal(sub.get_batch([0, 2])[0], ds.get_batch([7, 5])[0])
    assert sub.supports_batches and sub.classes == ('a', 'b', 'c')
    with pytest.raises(IndexError, match='Subset: indices must lie in'):
        Subset(ds, [10])


def test_subset_of_plain_dataset_has_no_batch_path():
    class Plain(Dataset):
        def __getitem__(self, i):
            return i

        def __len__(self):
            return 5

    assert not Subset(Plain(), [1, 2]).supports_batches
    assert Subset(Plain(), [4, 0])[0] == 4


def test_concat_dataset():
    a, b = make_dataset(3), make_dataset(4)
    both = a + b
    assert isinstance(both, ConcatDataset) and len(both) == 7
    assert both[2][1] == a[2][1] and both[3][1] == b[0][1] and both[-1][1] == b[3][1]
    with pytest.raises(IndexError):
        both[7]


def test_random_split_is_a_partition():
    ds = make_dataset(11)
    parts = random_split(ds, [0.5, 0.3, 0.2], seed=0)
    assert [len(p) for p in parts] == [6, 3, 2]   # floors 5, 3, 2, remainder round-robin
    everything = np.concatenate([p.indices for p in parts])
    assert sorted(everything.tolist()) == list(range(11))
    again = random_split(ds, [6, 3, 2], seed=0)
    assert all(np.array_equal(p.indices, q.indices) for p, q in zip(parts, again))
    minidl.manual_seed(3)
    first = random_split(ds, [5, 6])[0].indices
    minidl.manual_seed(3)
    np.testing.assert_array_equal(random_split(ds, [5, 6])[0].indices, first)


def test_random_split_lengths_like_torch():
    torch = require_torch()
    for n, fractions in [(11, [0.5, 0.3, 0.2]), (7, [0.25, 0.75]), (10, [0.1] * 10)]:
        expected = [len(s) for s in torch.utils.data.random_split(range(n), fractions)]
        assert [len(s) for s in random_split(make_dataset(n), fractions, seed=0)] == expected


def test_random_split_bad_lengths():
    with pytest.raises(ValueError, match='random_split: lengths'):
        random_split(make_dataset(10), [3, 4])


def test_random_split_follows_its_generator():
    ds = make_dataset(12)
    first = random_split(ds, [0.5, 0.5], generator=np.random.default_rng(42))
    again = random_split(ds, [0.5, 0.5], generator=np.random.default_rng(42))
    assert all(np.array_equal(p.indices, q.indices) for p, q in zip(first, again))


def test_iterable_and_chain_datasets():
    from minidl.data import ChainDataset, IterableDataset

    class Count(IterableDataset):
        def __init__(self, n):
            self.n = n

        def __iter__(self):
            return iter(range(self.n))

        def __len__(self):
            return self.n

    chained = Count(2) + Count(3)
    assert isinstance(chained, ChainDataset) and list(chained) == [0, 1, 0, 1, 2]
    assert len(chained) == 5
    with pytest.raises(TypeError, match='iterate over it'):
        Count(2)[0]


def test_default_collate_types_match_torch():
    torch = require_torch()
    from minidl.data import default_collate
    batch = [(1.5, 2, True), (0.5, 3, False)]
    mine, theirs = default_collate(batch), torch.utils.data.default_collate(batch)
    for m, t in zip(mine, theirs):
        assert str(m.dtype) == str(t.dtype).replace('torch.', '') and m.tolist() == t.tolist()
