import numpy as np
import pytest

from minidl.data import DataLoader, transforms as T
from minidl.data.datasets import Digits, get_dataset
from minidl.data.datasets.digits import load_digits_arrays

pytestmark = pytest.mark.cpu_only

CLASS_COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


def test_vendored_file_holds_the_1797_digits():
    images, labels = load_digits_arrays()
    assert images.shape == (1797, 8, 8) and images.dtype == np.uint8
    assert labels.dtype == np.int64 and images.max() == 16
    assert np.bincount(labels).tolist() == CLASS_COUNTS


def test_vendored_file_matches_scikit_learn():
    sklearn_datasets = pytest.importorskip('sklearn.datasets')
    digits = sklearn_datasets.load_digits()
    images, labels = load_digits_arrays()
    np.testing.assert_array_equal(images, digits.images)
    np.testing.assert_array_equal(labels, digits.target)


def test_split_is_disjoint_stratified_and_deterministic():
    train, test = Digits(train=True), Digits(train=False)
    assert len(train) + len(test) == 1797
    assert not set(train.indices.tolist()) & set(test.indices.tolist())
    expected_test = [round(c * 0.2) for c in CLASS_COUNTS]
    assert np.bincount(test.targets).tolist() == expected_test
    expected_train = [c - t for c, t in zip(CLASS_COUNTS, expected_test)]
    assert np.bincount(train.targets).tolist() == expected_train
    np.testing.assert_array_equal(Digits(train=False).indices, test.indices)
    assert not np.array_equal(Digits(train=False, split_seed=1).indices, test.indices)
    assert len(Digits(train=False, test_fraction=0.5)) == sum(round(c / 2) for c in CLASS_COUNTS)


def test_items_and_attributes():
    ds = Digits(train=True)
    image, label = ds[0]
    assert image.shape == (1, 8, 8) and image.dtype == np.float32 and isinstance(label, int)
    assert ds.data.shape == (len(ds), 1, 8, 8) and ds.data.dtype == np.float32
    assert 0 <= ds.data.min() and ds.data.max() == 1.0
    images, labels = load_digits_arrays()
    np.testing.assert_array_equal(ds.data[5, 0], images[ds.indices[5]] / np.float32(16))
    assert ds.targets[5] == labels[ds.indices[5]]
    assert ds.num_classes == 10 and ds.in_channels == 1 and ds.classes[3] == '3'


def test_resized_to_28():
    small, big = Digits(train=False), Digits(train=False, size=28)
    assert big.data.shape == (len(small), 1, 28, 28)
    assert big.data.min() >= 0 and big.data.max() <= 1
    np.testing.assert_allclose(big.data, np.clip(T.Resize((28, 28))(small.data), 0, 1))
    assert big[0][0].shape == (1, 28, 28)


def test_transform_and_loader_fast_path():
    ds = Digits(train=False, transform=T.Normalize([0.5], [0.5]))
    image, _ = ds[2]
    np.testing.assert_allclose(image, (ds.data[2] - 0.5) / 0.5)
    images, labels = next(iter(DataLoader(ds, batch_size=16)))
    np.testing.assert_allclose(images.numpy(), (ds.data[:16] - 0.5) / 0.5)
    np.testing.assert_array_equal(labels.numpy(), ds.targets[:16])


def test_get_dataset_digits():
    ds = get_dataset('digits', train=False, size=28)
    assert isinstance(ds, Digits) and ds.data.shape[-1] == 28
    with pytest.raises(ValueError, match="unknown dataset 'svhn'"):
        get_dataset('svhn')


def test_bad_arguments():
    with pytest.raises(ValueError, match='test_fraction'):
        Digits(test_fraction=1.0)
