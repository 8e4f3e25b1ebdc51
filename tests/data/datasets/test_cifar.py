import hashlib
import io
import os
import pickle
import tarfile

import numpy as np
import pytest

from minidl.data import DataLoader
from minidl.data.datasets import CIFAR10, DatasetError, DownloadError, get_dataset
from minidl.data.datasets.cifar import _extract_safely, _unpickle

from tests.serialization.evil import evil_pickle

from .files import dead_url, md5_of, serve, write_cifar_archive

pytestmark = pytest.mark.cpu_only

TRAIN = ['data_batch_1', 'data_batch_2', 'data_batch_3', 'data_batch_4', 'data_batch_5']


@pytest.fixture
def archive(tmp_path, monkeypatch):
    """A small cifar-10-python.tar.gz in tmp_path/root, and CIFAR10 expecting its md5s."""
    root = tmp_path / 'root'
    root.mkdir()
    batches, md5s = write_cifar_archive(root / 'cifar-10-python.tar.gz')
    monkeypatch.setattr(CIFAR10, 'train_list', [(name, md5s[name]) for name in TRAIN])
    monkeypatch.setattr(CIFAR10, 'test_list', [('test_batch', md5s['test_batch'])])
    monkeypatch.setattr(CIFAR10, 'tgz_md5', md5_of(root / 'cifar-10-python.tar.gz'))
    return root, batches


def check_contents(ds, batches, names):
    data = np.concatenate([batches[n]['data'] for n in names])
    labels = sum((batches[n]['labels'] for n in names), [])
    assert ds.data.shape == (len(labels), 32, 32, 3) and ds.data.dtype == np.uint8
    np.testing.assert_array_equal(ds.targets, labels)
    # each row holds the red, green and blue planes, 32 x 32 each, row by row
    image, label = ds[2]
    assert image.shape == (3, 32, 32) and image.dtype == np.float32 and label == labels[2]
    np.testing.assert_array_equal(image, data[2].reshape(3, 32, 32) / np.float32(255))
    np.testing.assert_array_equal(ds.data[2][..., 1], data[2, 1024:2048].reshape(32, 32))


def test_reads_batches_from_the_archive(archive):
    root, batches = archive
    check_contents(CIFAR10(root, train=True), batches, TRAIN)
    test = CIFAR10(root, train=False)
    check_contents(test, batches, ['test_batch'])
    assert test.num_classes == 10 and test.in_channels == 3 and test.classes[0] == 'airplane'
    assert not os.path.exists(root / 'cifar-10-batches-py')


def test_reads_extracted_batches_and_batches_load(archive):
    root, batches = archive
    _extract_safely(str(root / 'cifar-10-python.tar.gz'), str(root), 'CIFAR10')
    os.remove(root / 'cifar-10-python.tar.gz')
    ds = CIFAR10(root, train=True)
    check_contents(ds, batches, TRAIN)
    images, labels = next(iter(DataLoader(ds, batch_size=6, shuffle=True, seed=0)))
    assert images.shape == (6, 3, 32, 32) and labels.dtype == np.int64
    assert get_dataset('cifar10', root=root, size=16)[0][0].shape == (3, 16, 16)


def test_wrong_batch_checksum(archive, monkeypatch):
    root, _ = archive
    monkeypatch.setattr(CIFAR10, 'test_list', [('test_batch', '0' * 32)])
    with pytest.raises(DatasetError, match=r'cifar-10-batches-py/test_batch fails its MD5 check'):
        CIFAR10(root, train=False)


def test_missing_files_name_what_and_where(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        CIFAR10(tmp_path, train=True)
    message = str(info.value)
    assert 'data_batch_1, data_batch_2, data_batch_3, data_batch_4, data_batch_5' in message
    assert os.path.join(str(tmp_path), 'cifar-10-batches-py') in message
    assert 'cifar-10-python.tar.gz' in message and 'download=True' in message


def test_corrupt_archive(tmp_path):
    (tmp_path / 'cifar-10-python.tar.gz').write_bytes(b'\x1f\x8b garbage')
    with pytest.raises(DatasetError, match='cannot read .*cifar-10-python.tar.gz'):
        CIFAR10(tmp_path, train=False)


def test_download_extracts(archive, tmp_path, monkeypatch):
    site, batches = archive
    with serve(site) as url:
        monkeypatch.setattr(CIFAR10, 'mirrors', [url])
        root = tmp_path / 'fresh'
        ds = CIFAR10(root, train=False, download=True)
    check_contents(ds, batches, ['test_batch'])
    assert sorted(os.listdir(root / 'cifar-10-batches-py')) == sorted(TRAIN + ['test_batch'])
    assert sorted(os.listdir(root)) == ['cifar-10-batches-py', 'cifar-10-python.tar.gz']
    CIFAR10(root, train=True, download=True)   # all there: nothing fetched


def test_download_offline(tmp_path, monkeypatch):
    monkeypatch.setattr(CIFAR10, 'mirrors', [dead_url()])
    monkeypatch.delenv('MINIDL_DATA_MIRROR', raising=False)
    with pytest.raises(DownloadError, match=r'CIFAR10: could not download cifar-10-python.tar.gz '
                                            r'from any mirror \(.*\): are you offline\? Put the '
                                            r'files in'):
        CIFAR10(tmp_path, download=True)
    assert os.listdir(tmp_path) == []


def test_unsafe_archive_is_not_extracted(tmp_path, monkeypatch):
    path = tmp_path / 'cifar-10-python.tar.gz'
    with tarfile.open(path, 'w:gz') as tar:
        info = tarfile.TarInfo('../escaped')
        info.size = 3
        tar.addfile(info, io.BytesIO(b'bad'))
    monkeypatch.setattr(CIFAR10, 'tgz_md5', md5_of(path))
    with pytest.raises(DatasetError, match="unsafe entry '../escaped'"):
        CIFAR10(tmp_path, download=True)
    assert not (tmp_path.parent / 'escaped').exists()


def test_unpickler_refuses_code():
    class Sneaky:
        def __reduce__(self):
            return (os.getcwd, ())

    raw = pickle.dumps({'data': Sneaky(), 'labels': []})
    with pytest.raises(DatasetError, match='asks to load posix.getcwd, which is not data'):
        _unpickle(raw, 'evil', 'CIFAR10')


def test_a_malicious_batch_with_a_matching_checksum_runs_nothing(tmp_path, monkeypatch):
    marker = tmp_path / 'ran'
    folder = tmp_path / 'cifar-10-batches-py'
    folder.mkdir()
    raw = evil_pickle(marker, protocol=2, hidden_in={'labels': [1]})
    (folder / 'test_batch').write_bytes(raw)
    monkeypatch.setattr(CIFAR10, 'test_list', [('test_batch', hashlib.md5(raw).hexdigest())])
    with pytest.raises(DatasetError, match='test_batch asks to load posix.system'):
        CIFAR10(tmp_path, train=False)
    assert not marker.exists()
