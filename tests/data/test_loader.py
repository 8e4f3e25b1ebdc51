import threading

import numpy as np
import pytest

import minidl
from minidl.data import DataLoader, Dataset, TensorDataset, default_collate, transforms as T

pytestmark = pytest.mark.cpu_only


def make_dataset(n=10, transform=None):
    images = np.random.default_rng(0).random((n, 1, 4, 4), dtype=np.float32)
    labels = np.arange(n, dtype=np.int64)
    if transform is None:
        return TensorDataset(images, labels)
    return Augmented(images, labels, transform)


class Augmented(TensorDataset):
    """An array-backed dataset whose batch path runs a random transform."""

    def __init__(self, images, labels, transform):
        super().__init__(images, labels)
        self.transform = transform

    def __getitem__(self, i):
        return self.transform(self.tensors[0].numpy()[i]), int(self.tensors[1][i])

    def get_batch(self, indices):
        images, labels = super().get_batch(indices)
        return self.transform(images), labels


class ItemByItem(Dataset):
    """The same items as a TensorDataset, but without a batch path."""

    def __init__(self, inner):
        self.inner = inner

    def __getitem__(self, i):
        image, label = self.inner[i]
        return image, int(label)

    def __len__(self):
        return len(self.inner)


def labels_of(loader):
    return [batch[1].numpy().tolist() for batch in loader]


def test_batches_are_tensors_in_order():
    loader = DataLoader(make_dataset(10), batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 and len(batches) == 3
    images, labels = batches[0]
    assert isinstance(images, minidl.Tensor) and images.dtype == np.float32
    assert images.shape == (4, 1, 4, 4) and labels.dtype == np.int64
    assert labels_of(loader) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_drop_last():
    loader = DataLoader(make_dataset(10), batch_size=4, drop_last=True)
    assert len(loader) == 2 and labels_of(loader) == [[0, 1, 2, 3], [4, 5, 6, 7]]


@pytest.mark.parametrize('prefetch', [False, True])
def test_batch_path_and_item_path_agree(prefetch):
    ds = make_dataset(9)
    fast = list(DataLoader(ds, batch_size=4, shuffle=True, seed=1, prefetch=prefetch))
    slow = list(DataLoader(ItemByItem(ds), batch_size=4, shuffle=True, seed=1, prefetch=prefetch))
    for (a, b), (c, d) in zip(fast, slow):
        np.testing.assert_array_equal(a.numpy(), c.numpy())
        np.testing.assert_array_equal(b.numpy(), d.numpy())
        assert d.dtype == np.int64 and c.dtype == np.float32


def test_shuffle_is_reproducible_and_changes_each_epoch():
    loader = DataLoader(make_dataset(20), batch_size=5, shuffle=True, seed=7)
    epoch0, epoch1 = labels_of(loader), labels_of(loader)
    assert sorted(sum(epoch0, [])) == list(range(20))
    assert epoch0 != epoch1
    other = DataLoader(make_dataset(20), batch_size=5, shuffle=True, seed=7)
    assert labels_of(other) == epoch0 and labels_of(other) == epoch1
    other.set_epoch(0)
    assert labels_of(other) == epoch0
    assert labels_of(DataLoader(make_dataset(20), batch_size=5, shuffle=True, seed=8)) != epoch0


def test_unseeded_loader_follows_minidl_generator():
    minidl.manual_seed(4)
    first = labels_of(DataLoader(make_dataset(20), batch_size=5, shuffle=True))
    minidl.manual_seed(4)
    assert labels_of(DataLoader(make_dataset(20), batch_size=5, shuffle=True)) == first


def test_augmentation_does_not_depend_on_prefetch():
    ds = make_dataset(12, transform=T.Compose([T.RandomCrop(3, padding=1),
                                               T.RandomHorizontalFlip()]))
    runs = []
    for prefetch, workers in [(False, 0), (True, 0), (True, 3)]:
        loader = DataLoader(ds, batch_size=5, shuffle=True, seed=2, prefetch=prefetch,
                            num_workers=workers)
        runs.append([b[0].numpy() for _ in range(2) for b in loader])
    for run in runs[1:]:
        for a, b in zip(runs[0], run):
            np.testing.assert_array_equal(a, b)
    assert not np.array_equal(runs[0][0], runs[0][3][:5])   # epochs draw anew


def test_resume_mid_epoch_exactly():
    ds = make_dataset(23, transform=T.RandomCrop(3, padding=1))
    loader = DataLoader(ds, batch_size=4, shuffle=True, seed=5)
    list(loader)                                 # epoch 0
    reference = [(b[0].numpy(), b[1].numpy()) for b in loader]    # epoch 1, whole
    loader.set_epoch(1)
    iterator = iter(loader)
    for _ in range(2):
        next(iterator)
    state = loader.state_dict()
    assert state['epoch'] == 1 and state['batches_done'] == 2 and state['seed'] == 5

    resumed = DataLoader(ds, batch_size=4, shuffle=True, seed=99)
    resumed.load_state_dict(state)
    rest = [(b[0].numpy(), b[1].numpy()) for b in resumed]
    assert len(rest) == len(reference) - 2
    for (a, b), (c, d) in zip(reference[2:], rest):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)
    assert resumed.state_dict()['epoch'] == 2 and resumed.state_dict()['batches_done'] == 0


def test_state_between_epochs_and_mismatch():
    loader = DataLoader(make_dataset(10), batch_size=3, shuffle=True, seed=0)
    assert loader.state_dict()['epoch'] == 0
    list(loader)
    assert loader.state_dict()['epoch'] == 1 and loader.epoch == 1
    other = DataLoader(make_dataset(10), batch_size=4, shuffle=True, seed=0)
    with pytest.raises(ValueError, match='batch_size=3, this loader has batch_size=4'):
        other.load_state_dict(loader.state_dict())


def test_break_stops_the_thread_and_next_iteration_is_a_new_epoch():
    loader = DataLoader(make_dataset(40), batch_size=2, shuffle=True, seed=0)
    before = threading.active_count()
    for _ in loader:
        break
    assert threading.active_count() == before
    full = labels_of(loader)
    assert len(full) == 20
    loader.set_epoch(1)
    assert labels_of(loader) == full


def test_errors_in_the_dataset_reach_the_caller():
    class Broken(Dataset):
        def __getitem__(self, i):
            if i == 5:
                raise KeyError('item 5 is broken')
            return np.zeros(2, np.float32), i

        def __len__(self):
            return 8

    with pytest.raises(KeyError, match='item 5 is broken'):
        list(DataLoader(Broken(), batch_size=2))


def test_collate_fn_and_default_collate():
    seen = []

    def collate(samples):
        seen.append(len(samples))
        return samples

    batches = list(DataLoader(make_dataset(5), batch_size=2, collate_fn=collate))
    assert seen == [2, 2, 1] and len(batches[0]) == 2

    batch = default_collate([{'x': np.ones(2, np.float32), 'y': 1, 'w': 0.5, 'name': 'a'},
                             {'x': np.zeros(2, np.float32), 'y': 2, 'w': 1.5, 'name': 'b'}])
    assert batch['x'].shape == (2, 2) and batch['y'].dtype == np.int64
    assert batch['w'].dtype == np.float64 and batch['name'] == ['a', 'b']   # as PyTorch
    pair = default_collate([(minidl.ones(3), 0), (minidl.zeros(3), 1)])
    assert pair[0].shape == (2, 3) and pair[1].tolist() == [0, 1]


def test_argument_checks():
    with pytest.raises(ValueError, match='batch_size must be a positive integer'):
        DataLoader(make_dataset(), batch_size=0)
    with pytest.raises(ValueError, match='num_workers'):
        DataLoader(make_dataset(), num_workers=-1)


# ---------------------------------------------------------------- PyTorch's other arguments

def test_sampler_and_batch_sampler_choose_the_order():
    from minidl.data import BatchSampler, SubsetRandomSampler
    ds = make_dataset(10)
    loader = DataLoader(ds, batch_size=3, sampler=[9, 8, 7, 1, 0])
    assert labels_of(loader) == [[9, 8, 7], [1, 0]] and len(loader) == 2
    batches = [[0, 5], [2], [9, 3, 4]]
    loader = DataLoader(ds, batch_sampler=batches)
    assert labels_of(loader) == batches and len(loader) == 3 and loader.batch_size is None
    sampler = SubsetRandomSampler([1, 3, 5, 7], generator=np.random.default_rng(0))
    assert sorted(sum(labels_of(DataLoader(ds, batch_size=2, sampler=sampler)), [])) == [1, 3, 5, 7]
    default = DataLoader(ds, batch_size=4, drop_last=True)
    assert isinstance(default.batch_sampler, BatchSampler) and default.sampler is not None


def test_shuffled_epochs_follow_the_generator_argument():
    first = labels_of(DataLoader(make_dataset(20), batch_size=5, shuffle=True,
                                 generator=np.random.default_rng(11)))
    again = labels_of(DataLoader(make_dataset(20), batch_size=5, shuffle=True,
                                 generator=np.random.default_rng(11)))
    assert first == again and sorted(sum(first, [])) == list(range(20))


def test_batch_size_none_yields_items_as_tensors():
    loader = DataLoader(make_dataset(3), batch_size=None)
    items = list(loader)
    assert len(loader) == 3 and len(items) == 3
    image, label = items[1]
    assert isinstance(image, minidl.Tensor) and image.shape == (1, 4, 4) and label.item() == 1


def test_iterable_dataset_is_batched_in_its_order():
    from minidl.data import IterableDataset

    class Stream(IterableDataset):
        def __iter__(self):
            for i in range(7):
                yield np.full(2, i, np.float32), i

    loader = DataLoader(Stream(), batch_size=3)
    batches = list(loader)
    assert [b[1].tolist() for b in batches] == [[0, 1, 2], [3, 4, 5], [6]]
    assert batches[0][0].shape == (3, 2)
    assert [b[1].tolist() for b in DataLoader(Stream(), batch_size=3, drop_last=True)] == \
        [[0, 1, 2], [3, 4, 5]]
    with pytest.raises(TypeError):
        len(loader)   # a stream without __len__, as in PyTorch
    with pytest.raises(ValueError, match='IterableDataset: expected unspecified shuffle'):
        DataLoader(Stream(), shuffle=True)


def test_workers_run_in_process_and_torch_only_options_are_accepted():
    from minidl.data import get_worker_info
    seen = []

    class Probe(Dataset):
        def __getitem__(self, i):
            seen.append(get_worker_info())
            return np.zeros(1, np.float32), i

        def __len__(self):
            return 4

    loader = DataLoader(Probe(), batch_size=2, num_workers=4, pin_memory=True, timeout=5,
                        worker_init_fn=lambda i: seen.append('init'), persistent_workers=True,
                        prefetch_factor=2)
    assert [b[1].tolist() for b in loader] == [[0, 1], [2, 3]]
    assert seen == [None] * 4     # read here, by no worker process


def test_mutually_exclusive_arguments_like_torch():
    ds = make_dataset()
    with pytest.raises(ValueError, match='sampler option is mutually exclusive with shuffle'):
        DataLoader(ds, sampler=[0, 1], shuffle=True)
    with pytest.raises(ValueError, match='batch_sampler option is mutually exclusive'):
        DataLoader(ds, batch_sampler=[[0]], batch_size=2)
    with pytest.raises(ValueError, match='mutually exclusive with drop_last'):
        DataLoader(ds, batch_size=None, drop_last=True)


def test_a_sampler_with_set_epoch_is_told_each_epoch():
    class EpochSampler:
        def __init__(self):
            self.epoch = None

        def set_epoch(self, epoch):
            self.epoch = epoch

        def __iter__(self):
            return iter([self.epoch % 3, 3])

        def __len__(self):
            return 2

    loader = DataLoader(make_dataset(5), batch_size=2, sampler=EpochSampler())
    assert labels_of(loader) == [[0, 3]] and labels_of(loader) == [[1, 3]]
    loader.set_epoch(5)
    assert labels_of(loader) == [[2, 3]]
