"""The import hook of ``minidl run``: torch and torchvision resolve to minidl's modules.

Imports are checked in fresh interpreters (``minidl run`` owns one; this process may
have imported the real PyTorch for the parity tests)."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import minidl
from minidl.compat import TorchModule, minidl_name

pytestmark = pytest.mark.cpu_only
ROOT = Path(__file__).resolve().parents[1]


def minidl_run(tmp_path, source, args=(), options=()):
    """``minidl run [options] script.py [args]`` on ``source``, in a fresh interpreter."""
    script = tmp_path / 'script.py'
    script.write_text(textwrap.dedent(source), encoding='utf-8')
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, '-m', 'minidl', 'run', *options, str(script), *args],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


def test_torch_names_map_to_minidl_modules():
    assert minidl_name('torch') == 'minidl'
    assert minidl_name('torch.nn.functional') == 'minidl.nn.functional'
    assert minidl_name('torch.utils.data.dataloader') == 'minidl.utils.data'
    assert minidl_name('torchvision.transforms') == 'minidl.vision.transforms'
    assert minidl_name('torchaudio') is None and minidl_name('numpy') is None


def test_a_view_reads_and_writes_minidl_and_names_what_is_missing():
    import minidl.backends.cudnn as cudnn
    view = TorchModule('torch.backends.cudnn', cudnn)
    before = cudnn.benchmark
    try:
        view.benchmark = not before
        assert cudnn.benchmark is (not before)
    finally:
        cudnn.benchmark = before
    nn_view = TorchModule('torch.nn', minidl.nn)
    assert nn_view.Linear is minidl.nn.Linear
    with pytest.raises(AttributeError, match='torch.nn.Transformer: minidl does not provide '
                                             'this PyTorch API'):
        nn_view.Transformer
    assert not hasattr(nn_view, 'Transformer')


def test_minidl_run_resolves_imports_without_pytorch(tmp_path):
    done = minidl_run(tmp_path, '''
        import sys
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
        import torchvision
        from torch.utils.data import DataLoader
        from torch.utils.data.dataloader import default_collate
        from torch.autograd.function import once_differentiable
        from torchvision import datasets, models, transforms
        import minidl
        assert nn.Linear is minidl.nn.Linear and DataLoader is minidl.utils.data.DataLoader
        assert models.resnet18 is minidl.vision.models.resnet18 and torch.nn is nn
        assert isinstance(torch.zeros(2), minidl.Tensor) and F.relu is minidl.nn.functional.relu
        torch.backends.cudnn.benchmark = True
        assert minidl.backends.cudnn.benchmark is True
        assert not hasattr(torch, 'compile')
        real = [m for m in list(sys.modules.values())
                if 'site-packages/torch' in (getattr(m, '__file__', None) or '')]
        assert not real, real
        for statement in ('import torch.distributions', 'from torch.nn import Transformer'):
            try:
                exec(statement)
            except ImportError as error:
                print('IMPORT', error)
        print('ARGV', sys.argv[1:])
        torch.fft.rfft(torch.zeros(4))
    ''', args=['a', '--flag'])
    assert done.returncode == 1
    notice = done.stderr.splitlines()[0]
    assert notice.startswith('minidl run: ') and 'resolve to minidl' in notice
    assert 'IMPORT cannot import torch.distributions: minidl does not provide' in done.stdout
    assert 'IMPORT cannot import torch.nn.Transformer: minidl does not provide' in done.stdout
    assert "ARGV ['a', '--flag']" in done.stdout
    assert 'torch.fft: minidl does not provide this PyTorch API' in done.stderr
    assert 'runpy' not in done.stderr and 'script.py' in done.stderr   # the script's traceback


def test_exit_status_and_usage(tmp_path):
    assert minidl_run(tmp_path, 'import sys\nsys.exit(3)\n').returncode == 3
    assert minidl_run(tmp_path, 'print("fine")\n').returncode == 0
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    missing = subprocess.run([sys.executable, '-m', 'minidl', 'run', 'nowhere.py'],
                             capture_output=True, text=True, env=env, cwd=tmp_path)
    assert missing.returncode == 2 and 'no such script: nowhere.py' in missing.stderr


def test_profile_prints_each_models_table(tmp_path):
    done = minidl_run(tmp_path, '''
        import torch
        import torch.nn as nn
        net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(144, 3))
        loss = nn.CrossEntropyLoss()(net(torch.randn(5, 1, 8, 8)), torch.tensor([0, 1, 2, 0, 1]))
    ''', options=['--profile'])
    assert done.returncode == 0, done.stderr
    assert 'minidl run --profile: Sequential, input (1, 1, 8, 8)' in done.stderr
    assert 'Total params: 475' in done.stderr and 'CrossEntropyLoss' not in done.stderr


def test_minidl_run_reaches_the_newcomers_api(tmp_path):
    """What a first trial of real scripts reached for and minidl lacked: gradient
    clipping under torch.nn.utils, GELU, BCE with logits, register_hook, torch.Size."""
    done = minidl_run(tmp_path, '''
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
        from torch.nn.utils import clip_grad_norm_, parameters_to_vector
        from torch.nn.utils.clip_grad import clip_grad_value_
        net = nn.Sequential(nn.Linear(3, 8), nn.GELU(), nn.Linear(8, 1))
        x, y = torch.randn(16, 3), torch.randint(0, 2, (16, 1)).float()
        seen = []
        net[0].weight.register_hook(lambda g: seen.append(g.shape))
        loss = nn.BCEWithLogitsLoss(pos_weight=torch.tensor([2.0]))(net(x), y)
        loss.backward()
        total = torch.nn.utils.clip_grad_norm_(net.parameters(), max_norm=1e-3)
        clip_grad_value_(net.parameters(), 1e-4)
        after = parameters_to_vector(p.grad for p in net.parameters()).abs().max()
        print('SEEN', seen, 'CLIPPED', bool(total > 1e-3), bool(after <= 1e-4))
        print('EINSUM', torch.einsum('ij,jk->ik', x, net[0].weight.T).shape)
        print('FINFO', torch.finfo(torch.float32).eps, torch.iinfo(torch.int64).max)
    ''')
    assert done.returncode == 0, done.stderr
    assert 'SEEN [torch.Size([8, 3])] CLIPPED True True' in done.stdout
    assert 'EINSUM torch.Size([16, 8])' in done.stdout
    assert 'FINFO 1.1920928955078125e-07 9223372036854775807' in done.stdout
