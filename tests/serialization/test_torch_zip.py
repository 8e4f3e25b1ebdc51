"""PyTorch's torch.save files read without PyTorch, tensors only, and never run."""
import io
import struct
import sys
import zipfile

import numpy as np
import pytest

import minidl
from minidl import nn
from minidl.serialization import LoadError, UnsafeFileError
from tests.parity import require_torch

from .evil import RunsCode, evil_pickle, torch_like_zip

pytestmark = pytest.mark.cpu_only


def ints(values):
    """A pickled tuple of ints (MARK, BININT each, TUPLE)."""
    return b'(' + b''.join(b'J' + struct.pack('<i', n) for n in values) + b't'


def text(value):
    """A pickled str (BINUNICODE)."""
    raw = value.encode()
    return b'X' + struct.pack('<I', len(raw)) + raw


def tensor_pickle(size, stride, offset=0, numel=4, location='cpu', kind='FloatStorage'):
    """data.pkl of ``{'w': tensor}`` as torch.save writes it (``pickletools.dis`` of a real
    file shows the same opcodes): _rebuild_tensor_v2(storage '0', offset, size, stride,
    False, OrderedDict())."""
    storage = (b'(' + text('storage') + f'ctorch\n{kind}\n'.encode() + text('0') +
               text(location) + b'J' + struct.pack('<i', numel) + b'tQ')
    return (b'\x80\x02}' + text('w') + b'ctorch._utils\n_rebuild_tensor_v2\n(' + storage +
            b'J' + struct.pack('<i', offset) + ints(size) + ints(stride) +
            b'\x89ccollections\nOrderedDict\n)RtRs.')


def crafted(tmp_path, size, stride, offset=0, values=(1.0, 2.0, 3.0, 4.0), **kwargs):
    raw = np.asarray(values, '<f4').tobytes()
    return torch_like_zip(tmp_path / 'w.pt', tensor_pickle(size, stride, offset, **kwargs),
                          [('0', raw)])


def test_a_crafted_file_in_torchs_layout_loads(tmp_path):
    loaded = minidl.load(crafted(tmp_path, (2, 2), (1, 2)))   # a transposed view
    assert isinstance(loaded['w'], minidl.Tensor)
    np.testing.assert_array_equal(loaded['w'].numpy(), [[1, 3], [2, 4]])


@pytest.mark.parametrize('size, stride, offset', [((5,), (1,), 0), ((2, 2), (2, 1), 1),
                                                  ((4,), (2,), 0), ((3,), (1,), 2)])
def test_a_tensor_reaching_outside_its_storage_is_refused(tmp_path, size, stride, offset):
    with pytest.raises(UnsafeFileError, match='reaching outside its storage of 4 elements'):
        minidl.load(crafted(tmp_path, size, stride, offset))


def test_a_storage_shorter_than_it_claims_is_refused(tmp_path):
    path = torch_like_zip(tmp_path / 'w.pt', tensor_pickle((4,), (1,)), [('0', b'\x00' * 12)])
    with pytest.raises(LoadError, match=r'archive/data/0 holds 12 bytes, its 4 elements of '
                                        r'float32 need 16'):
        minidl.load(path)
    path = torch_like_zip(tmp_path / 'x.pt', tensor_pickle((4,), (1,)))
    with pytest.raises(LoadError, match='lacks archive/data/0'):
        minidl.load(path)


def test_map_location(tmp_path):
    path = crafted(tmp_path, (4,), (1,), location='cuda:0')
    if not minidl.cuda_is_available():
        with pytest.raises(LoadError, match=r"saved on 'cuda:0'.*map_location='cpu'"):
            minidl.load(path)
    for where in ('cpu', minidl.device('cpu'), {'cuda:0': 'cpu'}, lambda array, loc: array):
        w = minidl.load(path, map_location=where)['w']
        assert w.device == 'cpu' and w.numpy().tolist() == [1, 2, 3, 4]


def test_malicious_files_run_nothing(tmp_path):
    marker = tmp_path / 'ran'
    for protocol in (2, 4):
        path = torch_like_zip(tmp_path / f'evil{protocol}.pt',
                              evil_pickle(marker, protocol=protocol, hidden_in={'epoch': 1}))
        with pytest.raises(UnsafeFileError, match=r'asks to load posix\.system'):
            minidl.load(path, weights_only=False)     # changes nothing: data only
    (tmp_path / 'legacy.pt').write_bytes(evil_pickle(marker, protocol=2))
    with pytest.raises(UnsafeFileError, match="bare pickle .*PyTorch's format before 1.6"):
        minidl.load(tmp_path / 'legacy.pt')
    assert not marker.exists()


def test_torchscript_and_foreign_zips_are_named(tmp_path):
    with zipfile.ZipFile(tmp_path / 'script.pt', 'w') as archive:
        archive.writestr('m/data.pkl', b'')
        archive.writestr('m/constants.pkl', b'')
    with pytest.raises(LoadError, match='TorchScript archive'):
        minidl.load(tmp_path / 'script.pt')
    with zipfile.ZipFile(tmp_path / 'other.zip', 'w') as archive:
        archive.writestr('readme.txt', 'hello')
    with pytest.raises(LoadError, match='neither a torch.save file nor a NumPy .npz'):
        minidl.load(tmp_path / 'other.zip')


# ---------------------------------------------------------------- files PyTorch wrote

def torch_objects(torch):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2))
    model(torch.randn(2, 1, 5, 5))
    adam = torch.optim.Adam(model.parameters())
    model(torch.randn(2, 1, 5, 5)).sum().backward()
    adam.step()
    base = torch.arange(24, dtype=torch.float64).reshape(4, 6)
    return {'model': model.state_dict(), 'adam': adam.state_dict(),
            'param': torch.nn.Parameter(torch.ones(2)),
            'views': [base.t(), base[1:3, ::2], base[0, 5]], 'shared': (base, base),
            'dtypes': {str(d): torch.arange(5).to(d) for d in (
                torch.float32, torch.float16, torch.bfloat16, torch.int64, torch.int32,
                torch.int16, torch.int8, torch.uint8, torch.bool, torch.complex64)},
            'empty': torch.zeros(0, 3), 'meta': ('text', 3, 2.5, None, torch.Size([2, 3])),
            'dtype': torch.float16}


def as_numpy(torch, obj):
    """``obj`` with each tensor as a NumPy array (bfloat16 widened), to compare."""
    if isinstance(obj, torch.Tensor):
        obj = obj.detach()
        return (obj.float() if obj.dtype == torch.bfloat16 else obj).numpy()
    if isinstance(obj, minidl.Tensor):
        return obj.numpy()
    if isinstance(obj, dict):
        return {k: as_numpy(torch, v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [as_numpy(torch, v) for v in obj]
    return obj


def assert_same(ours, theirs):
    if isinstance(theirs, np.ndarray):
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
        np.testing.assert_array_equal(ours, theirs)
    elif isinstance(theirs, dict):
        assert list(ours) == list(theirs)
        for key in theirs:
            assert_same(ours[key], theirs[key])
    elif isinstance(theirs, list):
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            assert_same(a, b)
    else:
        assert ours == theirs or str(ours) == str(theirs).replace('torch.', '')


def test_a_file_pytorch_wrote_loads_with_pytorch_blocked(tmp_path, monkeypatch):
    torch = require_torch()
    saved = torch_objects(torch)
    torch.save(saved, tmp_path / 'all.pt')
    expected = as_numpy(torch, saved)
    with monkeypatch.context() as patch:
        patch.setitem(sys.modules, 'torch', None)        # `import torch` fails from here
        loaded = minidl.load(tmp_path / 'all.pt')
        with open(tmp_path / 'all.pt', 'rb') as f:      # a file object too
            again = minidl.load(io.BytesIO(f.read()))
    assert_same(as_numpy(torch, loaded), expected)
    assert_same(as_numpy(torch, again), expected)
    assert type(loaded['model']).__name__ == 'OrderedDict'
    assert isinstance(loaded['param'], nn.Parameter) and loaded['param'].requires_grad
    assert loaded['dtypes']['torch.bfloat16'].dtype == np.float32
    assert loaded['adam']['state'][0]['step'].shape == ()


def test_a_pytorch_model_runs_the_same_in_minidl(tmp_path):
    torch = require_torch()
    torch.manual_seed(0)
    theirs = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU(),
                                 torch.nn.Flatten(), torch.nn.Linear(18, 4))
    torch.save(theirs.state_dict(), tmp_path / 'm.pth')
    ours = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(18, 4))
    ours.load_state_dict(minidl.load(tmp_path / 'm.pth'))
    x = np.random.default_rng(0).standard_normal((2, 1, 5, 5)).astype(np.float32)
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours(minidl.tensor(x)).detach().numpy(), expected, rtol=1e-5,
                               atol=1e-6)


def test_a_real_checkpoint_with_a_hidden_extra_entry_is_refused(tmp_path):
    torch = require_torch()
    marker = tmp_path / 'ran'
    state = torch.nn.Linear(2, 2).state_dict()
    torch.save({'model': state, 'epoch': 3, 'extra': RunsCode(marker)}, tmp_path / 'c.pt')
    with pytest.raises(UnsafeFileError, match=r'c\.pt asks to load posix\.system'):
        minidl.load(tmp_path / 'c.pt')
    with pytest.raises(Exception):                     # PyTorch refuses it the same way
        torch.load(tmp_path / 'c.pt', weights_only=True)
    assert not marker.exists()
