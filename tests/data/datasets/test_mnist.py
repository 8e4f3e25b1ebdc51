import gzip
import os

import numpy as np
import pytest

from minidl.data import DataLoader
from minidl.data.datasets import MNIST, DatasetError, DownloadError, FashionMNIST, get_dataset
from minidl.data.datasets.mnist import read_idx

from .files import dead_url, md5_of, serve, write_mnist

pytestmark = pytest.mark.cpu_only


@pytest.mark.parametrize('gz', [True, False])
def test_reads_idx_files(tmp_path, gz):
    made = write_mnist(tmp_path / 'MNIST' / 'raw', gz=gz)
    for train, split in ((True, 'train'), (False, 'test')):
        ds = MNIST(tmp_path, train=train)
        images, labels = made[split]
        assert len(ds) == len(labels)
        np.testing.assert_array_equal(ds.data, images)
        assert ds.targets.dtype == np.int64
        np.testing.assert_array_equal(ds.targets, labels)
        image, label = ds[1]
        assert image.shape == (1, 28, 28) and image.dtype == np.float32
        np.testing.assert_array_equal(image[0], images[1] / np.float32(255))
        assert label == labels[1] and isinstance(label, int)
    assert ds.num_classes == 10 and ds.in_channels == 1


def test_loader_batches_match_items(tmp_path):
    write_mnist(tmp_path / 'MNIST' / 'raw')
    ds = MNIST(tmp_path)
    images, labels = next(iter(DataLoader(ds, batch_size=5)))
    assert images.shape == (5, 1, 28, 28) and images.dtype == np.float32
    np.testing.assert_array_equal(images.numpy()[3], ds[3][0])
    assert labels.numpy().tolist() == [ds[i][1] for i in range(5)]


def test_fashion_mnist_has_its_folder_and_classes(tmp_path):
    made = write_mnist(tmp_path / 'FashionMNIST' / 'raw', gz=False)
    ds = FashionMNIST(tmp_path, train=False)
    np.testing.assert_array_equal(ds.data, made['test'][0])
    assert ds.classes[9] == 'Ankle boot'
    assert isinstance(get_dataset('fashion-mnist', root=tmp_path, train=False), FashionMNIST)


def test_get_dataset_resizes(tmp_path):
    write_mnist(tmp_path / 'MNIST' / 'raw')
    ds = get_dataset('mnist', root=tmp_path, size=32)
    assert ds[0][0].shape == (1, 32, 32)


def test_missing_files_name_what_and_where(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        MNIST(tmp_path)
    message = str(info.value)
    assert os.path.join(str(tmp_path), 'MNIST', 'raw') in message
    for name in ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte',
                 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'):
        assert name in message
    assert 'download=True' in message


def test_corrupt_files_are_reported(tmp_path):
    raw = tmp_path / 'MNIST' / 'raw'
    write_mnist(raw, gz=False)
    images = raw / 'train-images-idx3-ubyte'
    good = images.read_bytes()
    images.write_bytes(good[:-10])              # truncated
    with pytest.raises(DatasetError, match=r'train-images-idx3-ubyte is not a valid IDX file: '
                                           r'.* data bytes for shape \(12, 28, 28\)'):
        MNIST(tmp_path)
    images.write_bytes(b'\x00\x00\x08\x01' + good[4:])   # a labels magic number
    with pytest.raises(DatasetError, match='magic number 2049, expected 2051'):
        MNIST(tmp_path)
    images.write_bytes(good)
    (raw / 'train-labels-idx1-ubyte').write_bytes(
        (raw / 't10k-labels-idx1-ubyte').read_bytes())   # 5 labels for 12 images
    with pytest.raises(DatasetError, match='12 images but 5 labels'):
        MNIST(tmp_path)


def test_broken_gzip_is_reported(tmp_path):
    raw = tmp_path / 'MNIST' / 'raw'
    write_mnist(raw)
    (raw / 't10k-images-idx3-ubyte.gz').write_bytes(b'not gzip at all')
    with pytest.raises(DatasetError, match=r'cannot read .*t10k-images-idx3-ubyte.gz'):
        MNIST(tmp_path, train=False)


def test_read_idx_directly(tmp_path):
    path = tmp_path / 'x-idx1-ubyte.gz'
    with gzip.open(path, 'wb') as f:
        f.write((2049).to_bytes(4, 'big') + (3).to_bytes(4, 'big') + bytes([1, 2, 3]))
    assert read_idx(str(path), 2049).tolist() == [1, 2, 3]


# ---------------------------------------------------------------- download

@pytest.fixture
def served(tmp_path):
    """The four gzipped files on a local server, and MNIST subclass expecting their md5s."""
    site = tmp_path / 'site'
    made = write_mnist(site)
    md5s = {name: md5_of(site / name) for name in os.listdir(site)}
    with serve(site) as url:
        yield url, md5s, made


def test_download_verifies_and_reads(tmp_path, served, monkeypatch):
    url, md5s, made = served
    monkeypatch.setattr(MNIST, 'mirrors', [dead_url(), url])   # the first mirror is down
    monkeypatch.setattr(MNIST, 'resources', md5s)
    ds = MNIST(tmp_path / 'data', train=True, download=True)
    np.testing.assert_array_equal(ds.data, made['train'][0])
    raw = tmp_path / 'data' / 'MNIST' / 'raw'
    assert sorted(os.listdir(raw)) == sorted(md5s)   # no partial files left
    MNIST(tmp_path / 'data', download=True)          # present: nothing fetched again


def test_wrong_checksum_leaves_nothing(tmp_path, served, monkeypatch):
    url, md5s, _ = served
    monkeypatch.setattr(MNIST, 'mirrors', [url])
    monkeypatch.setattr(MNIST, 'resources', dict(md5s, **{'train-images-idx3-ubyte.gz': '0' * 32}))
    with pytest.raises(DownloadError) as info:
        MNIST(tmp_path / 'data', download=True)
    message = str(info.value)
    assert 'could not download train-images-idx3-ubyte.gz' in message
    assert 'does not match the expected 00000000' in message and 'offline' not in message
    raw = tmp_path / 'data' / 'MNIST' / 'raw'
    assert 'train-images-idx3-ubyte.gz' not in os.listdir(raw)
    assert not [name for name in os.listdir(raw) if name.endswith('.part')]


def test_offline_message(tmp_path, monkeypatch):
    monkeypatch.setattr(MNIST, 'mirrors', [dead_url()])
    monkeypatch.delenv('MINIDL_DATA_MIRROR', raising=False)
    root = tmp_path / 'data'
    with pytest.raises(DownloadError) as info:
        MNIST(root, download=True)
    message = str(info.value)
    assert message.startswith('MNIST: could not download train-images-idx3-ubyte.gz from any '
                              'mirror (')
    assert message.endswith(f"): are you offline? Put the files in "
                            f"{os.path.join(str(root), 'MNIST', 'raw')}")
    assert os.listdir(root / 'MNIST' / 'raw') == []


def test_mirror_from_environment_comes_first(tmp_path, served, monkeypatch):
    url, md5s, made = served
    monkeypatch.setattr(FashionMNIST, 'mirrors', [dead_url()])
    monkeypatch.setattr(FashionMNIST, 'resources', md5s)
    monkeypatch.setenv('MINIDL_DATA_MIRROR', url)
    ds = FashionMNIST(tmp_path, train=False, download=True)
    np.testing.assert_array_equal(ds.targets, made['test'][1])
