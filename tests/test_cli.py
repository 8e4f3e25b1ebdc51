"""The minidl command: train, evaluate, demo, models, summary, and clean user errors."""
import csv
import os
import subprocess
import sys

import pytest

import minidl
from minidl.cli import default_size, main, model_kwargs

pytestmark = pytest.mark.cpu_only

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_main(capsys, *argv):
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def assert_clean_error(err):
    """One message line, no traceback."""
    assert 'Traceback' not in err
    assert err.startswith('minidl ') and 'error:' in err


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """One short `minidl train` run on the digits, shared by the tests below."""
    out = tmp_path_factory.mktemp('run')
    status = main(['train', '--epochs', '2', '--out', str(out), '--no-progress', '--lr', '0.1',
                   '--batch-size', '64'])
    assert status == 0
    return out


def test_train_writes_its_files_and_prints_a_summary(trained, capsys):
    assert sorted(os.listdir(trained)) == ['checkpoint.pkl', 'checkpoint.prev.pkl',
                                           'curves.png', 'metrics.csv']
    with open(trained / 'metrics.csv') as f:
        rows = list(csv.reader(f))
    assert rows[0][:5] == ['epoch', 'train_loss', 'train_acc', 'test_loss', 'test_acc']
    assert len(rows) == 3


def test_train_resume_continues_and_reports(trained, capsys):
    status, out, _ = run_main(capsys, 'train', '--epochs', '3', '--out', str(trained),
                              '--no-progress', '--lr', '0.1', '--batch-size', '64', '--resume')
    assert status == 0
    assert 'resumed from' in out and 'after epoch 2' in out
    assert 'epoch 3/3' in out and 'best test accuracy' in out
    assert minidl.train.load_checkpoint(trained / 'checkpoint.pkl')['epoch'] == 3


def test_evaluate_a_checkpoint(trained, capsys):
    status, out, _ = run_main(capsys, 'evaluate', '--checkpoint',
                              str(trained / 'checkpoint.prev.pkl'))
    assert status == 0
    assert 'lenet5_bn after epoch' in out and 'digits test (359 images)' in out
    assert 'accuracy' in out and 'top-5' in out


def test_corrupt_checkpoint_is_a_clean_error(tmp_path, trained, capsys):
    bad = tmp_path / 'checkpoint.pkl'
    bad.write_bytes((trained / 'checkpoint.pkl').read_bytes()[:200])
    status, _, err = run_main(capsys, 'evaluate', '--checkpoint', str(bad))
    assert status == 2
    assert_clean_error(err)
    assert 'truncated' in err and str(bad) in err


def test_missing_dataset_files_are_a_clean_error(tmp_path, capsys):
    status, _, err = run_main(capsys, 'train', '--dataset', 'mnist', '--data-dir', str(tmp_path),
                              '--out', str(tmp_path / 'out'), '--epochs', '1')
    assert status == 2
    assert_clean_error(err)
    assert 'not found' in err and '--download' in err


def test_corrupt_dataset_file_is_a_clean_error(tmp_path, capsys):
    raw = tmp_path / 'MNIST' / 'raw'
    raw.mkdir(parents=True)
    for name in ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte',
                 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'):
        (raw / name).write_bytes(b'\x00\x00\x08\x03 not really idx')
    status, _, err = run_main(capsys, 'train', '--dataset', 'mnist', '--data-dir', str(tmp_path),
                              '--out', str(tmp_path / 'out'), '--epochs', '1')
    assert status == 2
    assert_clean_error(err)


def test_cuda_without_gpu_is_a_clean_error(tmp_path, capsys):
    if minidl.cuda_is_available():
        pytest.skip('a GPU is present')
    status, _, err = run_main(capsys, 'train', '--device', 'cuda', '--out', str(tmp_path))
    assert status == 2
    assert_clean_error(err)
    assert "device 'cuda'" in err
    assert not os.listdir(tmp_path)   # failed before doing anything


def test_demo_shows_the_loss_falling(capsys):
    status, out, _ = run_main(capsys, 'demo', '--epochs', '3')
    assert status == 0
    losses = [float(v) for v in out.split('training loss fell ')[1].split(';')[0].split(' -> ')]
    assert len(losses) == 3 and losses[-1] < losses[0]


def test_models_lists_the_zoo(capsys):
    status, out, _ = run_main(capsys, 'models')
    assert status == 0
    names = [line.split()[0] for line in out.splitlines()]
    assert names == minidl.models.list_models()


def test_summary_dispatches_to_the_profiler(capsys):
    status, out, _ = run_main(capsys, 'summary', 'lenet5', '--input', '1,1,28,28', '--num-classes', '10')
    assert status == 0
    assert '61,706' in out or '61.7' in out or '61706' in out


def test_unknown_model_is_rejected_by_argparse(capsys):
    with pytest.raises(SystemExit) as info:
        main(['train', '--model', 'nope'])
    assert info.value.code == 2


def test_default_sizes_and_model_arguments():
    assert default_size('lenet5_bn', 'digits') == 28
    assert default_size('resnet18', 'digits') == 32
    assert default_size('alexnet_2012', 'digits') == 67
    assert default_size('resnet18', 'cifar10') is None
    assert default_size('nin', 'mnist') == 67
    assert model_kwargs('resnet18', 32) == {'small_input': True}
    assert model_kwargs('resnet18', 224) == {} and model_kwargs('vgg11', 32) == {}


def test_python_dash_m_minidl_runs():
    result = subprocess.run([sys.executable, '-m', 'minidl', 'models'], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert 'lenet5_bn' in result.stdout
