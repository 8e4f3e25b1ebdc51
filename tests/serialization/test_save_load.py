"""minidl.save and minidl.load as a PyTorch script uses them; every format load reads."""
import io
import os
import pickle

import numpy as np
import pytest
import safetensors.numpy

import minidl
from minidl import nn, optim
from minidl.serialization import LoadError, UnsafeFileError

from .evil import evil_pickle, object_array_npz

pytestmark = pytest.mark.cpu_only


def test_the_pytorch_way_of_saving_a_model_and_its_optimizer(tmp_path):
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(18, 3))
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(minidl.randn(4, 1, 5, 5)).sum().backward()
    opt.step()
    minidl.save({'epoch': 7, 'model_state_dict': model.state_dict(),
                 'optimizer_state_dict': opt.state_dict(), 'loss': 0.25}, tmp_path / 'ckpt.pt')
    assert os.listdir(tmp_path) == ['ckpt.pt']           # no staging file left

    checkpoint = minidl.load(tmp_path / 'ckpt.pt', weights_only=True)
    twin = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(18, 3))
    twin_opt = optim.SGD(twin.parameters(), lr=0.5)
    twin.load_state_dict(checkpoint['model_state_dict'])
    twin_opt.load_state_dict(checkpoint['optimizer_state_dict'])
    assert checkpoint['epoch'] == 7 and checkpoint['loss'] == 0.25
    assert twin_opt.param_groups[0]['lr'] == 0.1
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(twin.state_dict()[key], value)
    saved = opt.state_dict()['state']
    assert list(checkpoint['optimizer_state_dict']['state']) == list(saved)   # int keys
    np.testing.assert_array_equal(checkpoint['optimizer_state_dict']['state'][0]
                                  ['momentum_buffer'], saved[0]['momentum_buffer'])


def test_file_objects_and_tensors(tmp_path):
    buffer = io.BytesIO()
    x = minidl.randn(3, 2, requires_grad=True)
    minidl.save(x, buffer)
    buffer.seek(0)
    y = minidl.load(buffer, map_location='cpu')
    assert isinstance(y, minidl.Tensor) and y.requires_grad and y.dtype == np.float32
    np.testing.assert_array_equal(y.numpy(), x.numpy())


def test_map_location_back_to_a_gpu_without_one_is_a_clear_error(tmp_path):
    if minidl.cuda_is_available():
        pytest.skip('a GPU is present')
    from minidl.serialization import tree
    tree_, arrays = tree.encode({'w': minidl.ones(2)})
    tree_['dict']['w']['device'] = 'cuda:0'
    with pytest.raises(LoadError, match=r"saved on 'cuda:0'.*map_location='cpu'"):
        tree.decode(tree_, arrays, None, 'w.pt')
    assert tree.decode(tree_, arrays, 'cpu', 'w.pt')['w'].device == 'cpu'


def test_other_formats_load_by_their_contents(tmp_path):
    arrays = {'a': np.arange(3.0), 'b': np.ones((2, 2), np.int32)}
    np.savez(tmp_path / 'x.bin', **arrays)                    # the name says nothing
    os.rename(tmp_path / 'x.bin.npz', tmp_path / 'x.bin')
    np.save(tmp_path / 'y.npy', arrays['a'])
    safetensors.numpy.save_file(arrays, tmp_path / 'z.safetensors')
    npz, npy, st = (minidl.load(tmp_path / name) for name in ('x.bin', 'y.npy', 'z.safetensors'))
    for key in arrays:
        np.testing.assert_array_equal(npz[key], arrays[key])
        np.testing.assert_array_equal(st[key].numpy(), arrays[key])
    np.testing.assert_array_equal(npy, arrays['a'])
    assert isinstance(st['a'], minidl.Tensor)


def test_files_that_would_run_code_are_refused(tmp_path):
    marker = tmp_path / 'ran'
    (tmp_path / 'plain.pkl').write_bytes(evil_pickle(marker))
    with pytest.raises(UnsafeFileError, match='is a bare pickle'):
        minidl.load(tmp_path / 'plain.pkl')
    object_array_npz(tmp_path / 'objects.npz', marker)
    with pytest.raises(UnsafeFileError, match='arrays of Python objects'):
        minidl.load(tmp_path / 'objects.npz')
    with pytest.raises(pickle.UnpicklingError):          # what PyTorch's refusal is, too
        minidl.load(tmp_path / 'plain.pkl')
    assert not marker.exists()


def test_unloadable_files_are_named(tmp_path):
    (tmp_path / 'empty').write_bytes(b'')
    (tmp_path / 'text').write_text('hello there')
    for name, message in (('missing', 'does not exist'), ('empty', 'is empty'),
                          ('text', 'not a file minidl can load'), ('', 'is a folder')):
        with pytest.raises(LoadError, match=message):
            minidl.load(tmp_path / name)


def test_what_cannot_be_saved_leaves_no_file(tmp_path):
    with pytest.raises(TypeError, match='cannot store model'):
        minidl.save({'model': nn.Linear(2, 2)}, tmp_path / 'm.pt')
    assert os.listdir(tmp_path) == []
