import numpy as np
import pytest
from PIL import Image

import minidl
from minidl.utils.data import DataLoader
from minidl.vision import datasets, transforms as T
from tests.data.datasets.files import cifar_batch, write_mnist

pytestmark = pytest.mark.cpu_only
NORMALIZE = T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,))])


@pytest.fixture
def mnist_root(tmp_path):
    made = write_mnist(str(tmp_path / 'MNIST' / 'raw'))
    return tmp_path, made


def test_mnist_items_are_pil_images_then_tensors_as_torchvision(mnist_root):
    root, made = mnist_root
    images, labels = made['train']
    raw = datasets.MNIST(root, train=True)
    image, label = raw[3]
    assert isinstance(image, Image.Image) and image.mode == 'L' and label == int(labels[3])
    assert isinstance(raw.data, minidl.Tensor) and raw.data.dtype == np.uint8
    assert raw.targets.dtype == np.int64 and raw.class_to_idx['3 - three'] == 3
    ds = datasets.MNIST(root, train=True, transform=NORMALIZE, target_transform=lambda t: t * 10)
    x, y = ds[3]
    assert isinstance(x, minidl.Tensor) and x.shape == (1, 28, 28) and y == 10 * int(labels[3])
    np.testing.assert_allclose(x.numpy()[0], (images[3] / 255 - 0.1307) / 0.3081, rtol=1e-5)


def test_exact_pipelines_read_whole_batches_with_the_same_values(mnist_root):
    root, _ = mnist_root
    ds = datasets.MNIST(root, train=False, transform=NORMALIZE)
    assert ds.supports_batches
    xb, yb = next(iter(DataLoader(ds, batch_size=5)))
    for i in range(5):
        x, y = ds[i]
        np.testing.assert_array_equal(xb.numpy()[i], x.numpy())
        assert yb.tolist()[i] == y
    resized = datasets.MNIST(root, train=False, transform=T.Compose([T.Resize(14), T.ToTensor()]))
    assert not resized.supports_batches
    assert next(iter(DataLoader(resized, batch_size=2)))[0].shape == (2, 1, 14, 14)


def test_cifar10_keeps_torchvisions_types(tmp_path):
    import pickle
    folder = tmp_path / 'cifar-10-batches-py'
    folder.mkdir()
    batch = cifar_batch(6, seed=1)
    (folder / 'test_batch').write_bytes(pickle.dumps(batch))
    datasets.CIFAR10.test_list = [('test_batch', None)]
    try:
        ds = datasets.CIFAR10(tmp_path, train=False, transform=T.ToTensor())
    finally:
        del datasets.CIFAR10.test_list
    assert isinstance(ds.data, np.ndarray) and ds.data.shape == (6, 32, 32, 3)
    assert ds.targets == batch['labels'] and isinstance(ds.targets, list)
    x, y = ds[2]
    np.testing.assert_array_equal(x.numpy(), batch['data'][2].reshape(3, 32, 32) / np.float32(255))
    assert next(iter(DataLoader(ds, batch_size=6)))[1].tolist() == batch['labels']


def test_image_folder_classes_samples_and_items(tmp_path):
    for name, count in (('bees', 2), ('ants', 3)):
        (tmp_path / name / 'deep').mkdir(parents=True)
        for i in range(count):
            Image.new('L', (5, 4), color=i).save(tmp_path / name / ('deep' if i else '.') / f'{i}.png')
    (tmp_path / 'ants' / 'notes.txt').write_text('not an image')
    ds = datasets.ImageFolder(tmp_path, transform=T.ToTensor())
    assert ds.classes == ['ants', 'bees'] and ds.class_to_idx == {'ants': 0, 'bees': 1}
    assert ds.targets == [0, 0, 0, 1, 1] and len(ds) == 5 and ds.imgs == ds.samples
    x, y = ds[0]
    assert x.shape == (3, 4, 5) and y == 0               # read as RGB
    (tmp_path / 'wasps').mkdir()
    with pytest.raises(FileNotFoundError, match='Found no valid file for the classes wasps'):
        datasets.ImageFolder(tmp_path)


def test_fake_data_is_repeatable():
    ds = datasets.FakeData(size=5, image_size=(1, 6, 7), num_classes=3, transform=T.ToTensor())
    (a, ya), (b, yb) = ds[4], ds[4]
    assert a.shape == (1, 6, 7) and ya == yb and 0 <= ya < 3
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert len(ds) == 5 and len(list(DataLoader(ds, batch_size=2))) == 3
    with pytest.raises(IndexError):
        ds[5]
