"""PyTorch scripts in the shapes real ones have, run on minidl two ways: with their imports
rewritten to minidl (what a user does by hand), and unmodified under ``minidl run``.

Each script in ``scripts/`` is written for PyTorch and torchvision and ends by printing
``RESULT name=value ...``; the tests check what it learned. They run in subprocesses:
``minidl run`` must own a fresh interpreter's imports, and so that a real PyTorch
imported by other tests cannot interfere.
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.cpu_only

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = Path(__file__).resolve().parent / 'scripts'
NOTICE = 'runs on minidl: its imports of torch and torchvision resolve to minidl'


_MODULE = r'(?:torchvision|torch)(?:\.\w+)*'
_IMPORT = re.compile(rf'^(?P<indent>[ \t]*)(?:import (?P<module>{_MODULE})(?P<alias> as \w+)?'
                     rf'|from (?P<source>{_MODULE}) import (?P<names>.*))$', re.M)


def rewrite_imports(source):
    """The imports of torch and torchvision turned into minidl's, as a user ports a script."""
    def minidl_name(name):
        if name.split('.')[0] == 'torchvision':
            return 'minidl.vision' + name[len('torchvision'):]
        return 'minidl' + name[len('torch'):]

    def fix(match):
        indent = match['indent']
        if match['source']:
            return f"{indent}from {minidl_name(match['source'])} import {match['names']}"
        name, alias = match['module'], match['alias']
        if alias:
            return f'{indent}import {minidl_name(name)}{alias}'
        if '.' in name:
            raise ValueError(f'rewrite_imports: write "import {name} as ..." in the script')
        return f'{indent}import {minidl_name(name)} as {name}'

    return _IMPORT.sub(fix, source)


def run(args, cwd, timeout=600):
    env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND='Agg', OMP_NUM_THREADS='1')
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def results(output):
    """{name: float} from the script's last ``RESULT a=1 b=2`` line."""
    lines = [l for l in output.splitlines() if l.startswith('RESULT ')]
    assert lines, f'the script printed no RESULT line:\n{output[-3000:]}'
    return {k: float(v) for k, v in re.findall(r'(\w+)=([-\d.e+]+)', lines[-1])}


def run_script(name, mode, tmp_path, args=()):
    source = (SCRIPTS / name).read_text(encoding='utf-8')
    if mode == 'rewritten':
        rewritten = rewrite_imports(source)
        assert 'import torch' not in rewritten and 'from torch' not in rewritten
        path = tmp_path / name
        path.write_text(rewritten, encoding='utf-8')
        done = run([str(path), *args], cwd=tmp_path)
    else:
        done = run(['-m', 'minidl', 'run', str(SCRIPTS / name), *args], cwd=tmp_path)
        assert NOTICE in done.stderr.splitlines()[0]
    assert done.returncode == 0, f'{name} ({mode}) failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}'
    return results(done.stdout)


MODES = ['rewritten', 'minidl_run']


def test_rewrite_imports():
    source = ('import torch\nimport torch.nn as nn\nfrom torch.utils.data import DataLoader\n'
              'from torch import nn, optim\nimport torchvision\n'
              'from torchvision import datasets, transforms\n    import torch.nn.functional as F\n')
    assert rewrite_imports(source) == (
        'import minidl as torch\nimport minidl.nn as nn\nfrom minidl.utils.data import DataLoader\n'
        'from minidl import nn, optim\nimport minidl.vision as torchvision\n'
        'from minidl.vision import datasets, transforms\n    import minidl.nn.functional as F\n')


# ---------------------------------------------------------------- the scripts

@pytest.mark.parametrize('mode', MODES)
def test_sgd_by_hand_finds_the_line(mode, tmp_path):
    found = run_script('sgd_by_hand.py', mode, tmp_path)
    assert found['w_error'] < 0.01 and found['b_error'] < 0.01 and found['loss'] < 1e-3


@pytest.mark.parametrize('mode', MODES)
def test_batchnorm_from_scratch_tracks_moving_statistics(mode, tmp_path):
    found = run_script('batchnorm_from_scratch.py', mode, tmp_path)
    assert found['accuracy'] > 0.9          # inference normalises with the moving statistics
    assert found['mean_gap'] < 0.15


@pytest.mark.parametrize('mode', MODES)
def test_tensordataset_classifier(mode, tmp_path):
    found = run_script('tensordataset_accuracy.py', mode, tmp_path)
    assert found['train_accuracy'] > 0.95 and found['test_accuracy'] > 0.85


@pytest.fixture(scope='module')
def digits_as_mnist(tmp_path_factory):
    """minidl's embedded handwritten digits, upscaled to 28x28, written as MNIST's IDX files."""
    from minidl.data.datasets.digits import load_digits_arrays
    from tests.data.datasets.files import idx_bytes
    images, labels = load_digits_arrays()
    big = np.stack([np.asarray(Image.fromarray((image * 15).astype(np.uint8)).resize(
        (20, 20), Image.Resampling.BILINEAR)) for image in images])
    big = np.pad(big, ((0, 0), (4, 4), (4, 4)))       # MNIST's 20x20 digit in a 28x28 frame
    order = np.random.default_rng(0).permutation(len(labels))
    root = tmp_path_factory.mktemp('mnist')
    raw = root / 'MNIST' / 'raw'
    raw.mkdir(parents=True)
    for prefix, part in (('train', order[:1400]), ('t10k', order[1400:])):
        (raw / f'{prefix}-images-idx3-ubyte').write_bytes(idx_bytes(big[part], 2051))
        (raw / f'{prefix}-labels-idx1-ubyte').write_bytes(idx_bytes(labels[part], 2049))
    return root


@pytest.mark.parametrize('mode', MODES)
def test_mnist_example_with_adadelta_steplr_and_save_load(mode, tmp_path, digits_as_mnist):
    found = run_script('mnist_adaptive.py', mode, tmp_path,
                       ['--data', str(digits_as_mnist), '--epochs', '3',
                        '--save-model', str(tmp_path / 'mnist_cnn.pt')])
    assert found['accuracy'] > 0.85
    assert found['reloaded_accuracy'] == found['accuracy']
    assert found['lr'] == pytest.approx(0.7 ** 3, rel=1e-6)


@pytest.fixture(scope='module')
def red_and_blue(tmp_path_factory):
    """An ImageFolder tree of 40x40 PNGs in two classes: mostly red, mostly blue."""
    root = tmp_path_factory.mktemp('hymenoptera')
    rng = np.random.default_rng(0)
    for split, count in (('train', 32), ('val', 16)):
        for name, channel in (('blue', 2), ('red', 0)):
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(count // 2):
                pixels = rng.integers(0, 120, (40, 40, 3), dtype=np.uint8)
                pixels[:, :, channel] += 120
                Image.fromarray(pixels).save(folder / f'{i}.png')
    return root


@pytest.mark.parametrize('mode', MODES)
def test_finetune_frozen_backbone_keeps_best_weights(mode, tmp_path, red_and_blue):
    found = run_script('finetune_frozen_backbone.py', mode, tmp_path, [str(red_and_blue)])
    assert found['best_acc'] > 0.9
    assert found['reloaded_acc'] == found['best_acc']   # the best epoch's weights came back


@pytest.mark.parametrize('mode', MODES)
def test_custom_function_fitted_by_hand(mode, tmp_path):
    found = run_script('custom_function.py', mode, tmp_path)
    # the tutorial's fit: loss from ~900 down to ~9, y ~ -2.2 P3(0.26 x)
    assert found['first_loss'] > 100 and found['loss'] < 15
    assert found['b'] == pytest.approx(-2.2, abs=0.2) and found['d'] == pytest.approx(0.26, abs=0.05)
