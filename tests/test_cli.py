"""The minidl command: train, evaluate, demo, models, summary, and clean user errors."""
import collections
import csv
import errno
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

import minidl
from minidl import cli
from minidl import models
from minidl.cli import default_size, main
from minidl.serialization import atomic
from minidl.train import save_checkpoint
from tests.data.datasets.files import write_mnist
from tests.serialization.evil import evil_pickle, legacy_checkpoint, torch_like_zip

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
    assert err.count('\n') == 1 and err.endswith('\n'), err


def user_error(capsys, *argv):
    """The one line ``minidl argv`` prints for a mistake of use (exit status 2)."""
    status, _, err = run_main(capsys, *argv)
    assert status == 2, err
    assert_clean_error(err)
    return err


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """One short `minidl train` run on the digits, shared by the tests below."""
    out = tmp_path_factory.mktemp('run')
    status = main(['train', '--epochs', '2', '--out', str(out), '--no-progress', '--lr', '0.1',
                   '--batch-size', '64', '--scheduler', 'none'])
    assert status == 0
    return out


def test_train_writes_its_files_and_prints_a_summary(trained, capsys):
    assert sorted(os.listdir(trained)) == ['checkpoint.minidl', 'checkpoint.prev.minidl',
                                           'curves.png', 'metrics.csv']
    with open(trained / 'metrics.csv') as f:
        rows = list(csv.reader(f))
    assert rows[0][:5] == ['epoch', 'train_loss', 'train_acc', 'test_loss', 'test_acc']
    assert len(rows) == 3


def test_train_resume_continues_with_the_runs_options(trained, capsys):
    # --batch-size 64 and --lr 0.1 come from the checkpoint; --epochs may grow under
    # --scheduler none
    status, out, _ = run_main(capsys, 'train', '--epochs', '3', '--out', str(trained),
                              '--no-progress', '--resume')
    assert status == 0
    assert 'resumed from' in out and 'after epoch 2' in out and 'batch 64' in out
    assert 'epoch 3/3' in out and 'best test accuracy' in out
    assert minidl.train.load_checkpoint(trained / 'checkpoint.minidl')['epoch'] == 3


def test_evaluate_a_checkpoint(trained, capsys):
    status, out, _ = run_main(capsys, 'evaluate', '--checkpoint',
                              str(trained / 'checkpoint.prev.minidl'))
    assert status == 0
    assert 'lenet5_bn after epoch' in out and 'digits test (359 images)' in out
    assert 'accuracy' in out and 'top-5' in out


def test_corrupt_checkpoint_is_a_clean_error(tmp_path, trained, capsys):
    bad = tmp_path / 'checkpoint.minidl'
    bad.write_bytes((trained / 'checkpoint.minidl').read_bytes()[:200])
    err = user_error(capsys, 'evaluate', '--checkpoint', str(bad))
    assert 'truncated' in err and str(bad) in err


# ---------------------------------------------------------------- runs are never lost

def test_a_second_run_into_the_same_out_is_refused(trained, capsys):
    before = {name: (trained / name).read_bytes() for name in os.listdir(trained)}
    err = user_error(capsys, 'train', '--out', str(trained), '--epochs', '1')
    assert f'{trained} already holds a run (checkpoint.minidl, checkpoint.prev.minidl, ' \
           f'metrics.csv, curves.png)' in err and '--resume' in err and '--overwrite' in err
    assert {name: (trained / name).read_bytes() for name in os.listdir(trained)} == before


@pytest.mark.parametrize('argv, expected', [
    (['--lr', '0.05'], 'was trained with --lr 0.1, not --lr 0.05'),
    (['--batch-size', '32', '--model', 'lenet5'],
     'trained with --model lenet5_bn --batch-size 64, not --model lenet5 --batch-size 32'),
    (['--epochs', '1'], 'has already trained'),
    (['--overwrite'], '--resume and --overwrite exclude each other'),
])
def test_resume_refuses_changed_options(trained, capsys, argv, expected):
    err = user_error(capsys, 'train', '--out', str(trained), '--resume', *argv)
    assert expected in err


def test_resume_of_a_scheduled_run_keeps_its_epochs(tmp_path, trained, capsys):
    state = minidl.train.load_checkpoint(trained / 'checkpoint.prev.minidl')
    state['config']['scheduler'] = 'cosine'
    save_checkpoint(tmp_path / 'checkpoint.minidl', state)
    err = user_error(capsys, 'train', '--resume', str(tmp_path / 'checkpoint.minidl'),
                     '--epochs', '5')
    assert f'the run of {tmp_path / "checkpoint.minidl"} was trained with --epochs' in err
    assert 'cosine schedule is planned for its epochs' in err


def test_overwrite_replaces_a_run_and_keeps_other_files(tmp_path, capsys):
    (tmp_path / 'metrics.csv').write_text('epoch\n1\n')
    (tmp_path / 'notes.txt').write_text('mine')
    user_error(capsys, 'train', '--out', str(tmp_path), '--epochs', '1')
    status, _, _ = run_main(capsys, 'train', '--out', str(tmp_path), '--epochs', '1',
                            '--no-progress', '--overwrite')
    assert status == 0
    assert sorted(os.listdir(tmp_path)) == ['checkpoint.minidl', 'curves.png', 'metrics.csv',
                                            'notes.txt']
    assert len((tmp_path / 'metrics.csv').read_text().splitlines()) == 2


def test_interrupt_says_what_was_saved(trained, tmp_path, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(minidl.train, 'fit', interrupted)
    status, _, err = run_main(capsys, 'train', '--out', str(tmp_path / 'new'), '--epochs', '1')
    assert status == 130
    assert 'interrupted before the first epoch finished: no checkpoint was saved' in err
    status, _, err = run_main(capsys, 'train', '--out', str(trained), '--resume')
    assert status == 130
    assert f'{trained / "checkpoint.minidl"} holds epoch' in err and 'add --resume' in err


# ---------------------------------------------------------------- errors before training

@pytest.mark.parametrize('argv, expected', [
    (['--epochs', '0'], '--epochs 0: must be at least 1'),
    (['--batch-size', '0'], '--batch-size 0: must be at least 1'),
    (['--lr', '-1'], '--lr -1.0: must be a number >= 0'),
    (['--momentum', '1.5'], '--momentum 1.5: must be in [0, 1)'),
    (['--weight-decay', 'nan'], '--weight-decay nan: must be a number >= 0'),
    (['--size', '8'], '--size 8: must be at least 28 for lenet5_bn'),
    (['--epochs', 'x'], "argument --epochs: invalid int value: 'x'"),
    (['--bogus'], 'unrecognized arguments: --bogus'),
])
def test_bad_arguments_are_one_line(tmp_path, capsys, argv, expected):
    if argv[0] in ('--epochs', '--bogus') and not argv[-1].isdigit():
        with pytest.raises(SystemExit) as info:    # argparse's own errors
            main(['train', '--out', str(tmp_path), *argv])
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert err.count('\n') == 1 and 'Traceback' not in err
    else:
        err = user_error(capsys, 'train', '--out', str(tmp_path), *argv)
    assert expected in err
    assert not os.listdir(tmp_path)


def test_an_out_that_cannot_be_written_stops_before_training(tmp_path, capsys, monkeypatch):
    (tmp_path / 'a-file').write_text('x')
    err = user_error(capsys, 'train', '--out', str(tmp_path / 'a-file'), '--epochs', '1')
    assert 'a-file is a file, not a folder' in err

    def read_only(path, mode='r', *args, **kwargs):
        raise OSError(errno.EROFS, 'Read-only file system', path)
    monkeypatch.setattr(atomic, 'open', read_only, raising=False)
    err = user_error(capsys, 'train', '--out', str(tmp_path / 'ro'), '--epochs', '1')
    assert 'Read-only file system (choose a writable --out)' in err


def test_a_full_disk_stops_before_training(tmp_path, capsys, monkeypatch):
    usage = collections.namedtuple('usage', 'total used free')
    monkeypatch.setattr(atomic.shutil, 'disk_usage', lambda path: usage(10**9, 10**9, 10**4))
    err = user_error(capsys, 'train', '--out', str(tmp_path), '--epochs', '1', '--no-progress')
    assert 'MiB free on its disk' in err and 'free some space' in err
    assert 'metrics.csv' not in os.listdir(tmp_path)


def test_errors_while_training_are_one_line_too(capsys, monkeypatch):
    def disk_full(args):
        raise OSError(errno.ENOSPC, 'No space left on device', 'runs/x/checkpoint.minidl')
    monkeypatch.setattr(cli, 'cmd_models', disk_full)
    err = user_error(capsys, 'models')
    assert 'runs/x/checkpoint.minidl: No space left on device (free some space' in err
    with pytest.raises(OSError):
        main(['--debug', 'models'])         # the traceback, when asked for


def test_an_empty_dataset_is_a_clean_error(tmp_path, capsys):
    write_mnist(tmp_path / 'MNIST' / 'raw', n_train=0, n_test=0)
    err = user_error(capsys, 'train', '--dataset', 'mnist', '--data-dir', str(tmp_path),
                     '--out', str(tmp_path / 'out'), '--epochs', '1')
    assert 'mnist: the training set holds no images' in err


# ---------------------------------------------------------------- wrong checkpoints

def wrong_checkpoints(folder, trained):
    """(name, path, expected text) of checkpoints `minidl evaluate` must refuse."""
    marker = folder / 'ran'
    good = (trained / 'checkpoint.prev.minidl').read_bytes()
    state = minidl.train.load_checkpoint(trained / 'checkpoint.prev.minidl')

    def write(name, data):
        (folder / name).write_bytes(data)
        return folder / name

    def saved(name, obj):
        save_checkpoint(folder / name, obj)
        return folder / name
    flipped = bytearray(good)
    flipped[-3] ^= 1
    other_model = dict(state, config=dict(state['config'], model='no_such_model'))
    wrong_shapes = dict(state, config=dict(state['config'], num_classes=3))
    return [
        ('missing', folder / 'missing.minidl', 'does not exist'),
        ('folder', folder, 'is a folder'),
        ('empty', write('empty', b''), 'is empty'),
        ('cut in header', write('cut1', good[:20]), 'cut inside its 49-byte header'),
        ('cut in data', write('cut2', good[:len(good) // 2]), 'is truncated'),
        ('flipped bit', write('flip', bytes(flipped)), 'is corrupt'),
        ('text', write('text', b'hello world, not a checkpoint'), 'not a minidl file'),
        ('future', write('future', good[:8] + b'' + good[9:]), 'upgrade minidl'),
        ('legacy', legacy_checkpoint(folder / 'old.pkl', pickle.dumps({'epoch': 1})),
         'minidl 0.1 as a pickle'),
        ('evil legacy', legacy_checkpoint(folder / 'evil.pkl', evil_pickle(marker)),
         'minidl 0.1 as a pickle'),
        ('pytorch', torch_like_zip(folder / 'w.pt', evil_pickle(marker, protocol=2)),
         "a zip file (PyTorch's torch.save"),
        ('a list', saved('list', [1, 2]), 'holds a list, not a checkpoint'),
        ('no config', saved('noconfig', {'epoch': 1, 'model': {}}), 'config names no model'),
        ('unknown model', saved('unknown', other_model), "unknown model 'no_such_model'"),
        ('wrong weights', saved('shapes', wrong_shapes), 'its weights do not fit lenet5_bn'),
    ]


def test_every_wrong_checkpoint_is_one_line_and_runs_nothing(tmp_path, trained, capsys):
    for name, path, expected in wrong_checkpoints(tmp_path, trained):
        err = user_error(capsys, 'evaluate', '--checkpoint', str(path))
        assert expected in err, (name, err)
    assert not (tmp_path / 'ran').exists()


def test_missing_dataset_files_are_a_clean_error(tmp_path, capsys):
    err = user_error(capsys, 'train', '--dataset', 'mnist', '--data-dir', str(tmp_path),
                     '--out', str(tmp_path / 'out'), '--epochs', '1')
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
    assert models.small_input_kwargs('resnet18', 32) == {'small_input': True}
    assert models.small_input_kwargs('densenet121', 64) == {'small_input': True}
    assert (models.small_input_kwargs('resnet18', 224) == {}
            and models.small_input_kwargs('vgg11', 32) == {})
    assert [models.smallest_input(m) for m in ('lenet5', 'alexnet_2012', 'mobilenet_v1')] \
        == [28, 67, 32]


def test_python_dash_m_minidl_runs():
    result = subprocess.run([sys.executable, '-m', 'minidl', 'models'], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert 'lenet5_bn' in result.stdout


def test_train_with_another_optimizer_and_a_per_batch_schedule(tmp_path, capsys):
    status, out, _ = run_main(capsys, 'train', '--optimizer', 'adamw', '--scheduler', 'onecycle',
                              '--epochs', '1', '--batch-size', '128', '--no-progress',
                              '--out', str(tmp_path))
    assert status == 0
    assert 'adamw (lr 0.001, weight_decay 0.01), onecycle schedule' in out
    from minidl.train import load_checkpoint
    state = load_checkpoint(tmp_path / 'checkpoint.minidl')
    assert state['config']['optimizer'] == 'adamw'
    first = state['optimizer']['state'][0]
    assert sorted(first) == ['exp_avg', 'exp_avg_sq', 'step'] and first['step'] == 12
    assert state['scheduler']['total_steps'] == state['scheduler']['last_epoch'] == 12
    # --resume takes the optimizer and its options from the run
    status, out, _ = run_main(capsys, 'train', '--out', str(tmp_path), '--resume',
                              '--no-progress')
    assert status == 0 and 'adamw (lr 0.001, weight_decay 0.01), onecycle schedule' in out
    status, _, err = run_main(capsys, 'train', '--out', str(tmp_path), '--resume', '--lr', '0.1')
    assert status == 2 and 'trained with --lr 0.001, not --lr 0.1' in err


def test_optimizer_options_and_schedules():
    from minidl.cli import UsageError, build_optimizer, build_parser, build_scheduler, \
        optimizer_options

    def options(*argv):
        return optimizer_options(build_parser().parse_args(['train', *argv]))
    assert options() == {'lr': 0.1, 'momentum': 0.9, 'weight_decay': 5e-4}
    assert options('--optimizer', 'adam') == {'lr': 1e-3, 'weight_decay': 0.0}
    assert options('--optimizer', 'rmsprop', '--momentum', '0.5', '--lr', '0.01') == \
        {'lr': 0.01, 'momentum': 0.5, 'weight_decay': 0.0}
    assert options('--nesterov', '--weight-decay', '0')['nesterov'] is True
    with pytest.raises(UsageError, match='--momentum applies to sgd and rmsprop, not adam'):
        options('--optimizer', 'adam', '--momentum', '0.9')
    with pytest.raises(UsageError, match='--nesterov applies to sgd'):
        options('--optimizer', 'adagrad', '--nesterov')
    model = minidl.nn.Linear(2, 2)
    kinds = {}
    for name in ('none', 'step', 'multistep', 'cosine', 'warmup-cosine', 'cosine-restarts',
                 'linear', 'onecycle', 'plateau'):
        optimizer = build_optimizer('rmsprop', model.parameters(),
                                    options('--optimizer', 'rmsprop'))
        schedule, interval = build_scheduler(name, optimizer, epochs=10, steps_per_epoch=4)
        kinds[name] = (type(schedule).__name__, interval)
        if name == 'onecycle':        # rmsprop without momentum: no momentum to cycle
            assert not schedule.cycle_momentum and schedule.total_steps == 40
    assert kinds['onecycle'] == ('OneCycleLR', 'batch')
    assert kinds['plateau'] == ('ReduceLROnPlateau', 'epoch')
    assert kinds['warmup-cosine'] == ('SequentialLR', 'epoch')
    assert kinds['none'] == ('NoneType', 'epoch')


def test_an_option_the_optimizer_lacks_is_a_clean_error(tmp_path, capsys):
    status, _, err = run_main(capsys, 'train', '--optimizer', 'adam', '--momentum', '0.9',
                              '--out', str(tmp_path))
    assert status == 2
    assert_clean_error(err)
    assert '--momentum applies to sgd and rmsprop, not adam (it has betas)' in err


# ---------------------------------------------------------------- data-parallel training

def distributed_train(out, *argv):
    from tests import mpi_job
    return mpi_job.launch([sys.executable, '-m', 'minidl', 'train', '--distributed',
                           '--no-progress', '--scheduler', 'none', '--out', str(out), *argv],
                          timeout=300)


def test_distributed_train_resumes_exactly_and_reports_the_whole_job(tmp_path, capsys):
    whole = distributed_train(tmp_path / 'whole', '--epochs', '2')
    assert whole.returncode == 0, whole.stderr
    assert whole.stdout.count('lenet5_bn on digits') == 1          # rank 0 alone speaks
    assert 'data-parallel on 2 processes, 16 images each per step' in whole.stdout
    assert '2 processes: ' in whole.stdout and 'images/s for the whole job' in whole.stdout
    assert sorted(os.listdir(tmp_path / 'whole')) == ['checkpoint.minidl',
                                                      'checkpoint.prev.minidl', 'curves.png',
                                                      'metrics.csv']
    first = distributed_train(tmp_path / 'split', '--epochs', '1')
    assert first.returncode == 0, first.stderr
    resumed = distributed_train(tmp_path / 'split', '--epochs', '2', '--resume')
    assert resumed.returncode == 0, resumed.stderr
    assert 'after epoch 1' in resumed.stdout
    with open(tmp_path / 'whole' / 'metrics.csv') as f, \
            open(tmp_path / 'split' / 'metrics.csv') as g:
        # the same numbers, to the last digit, but for the time columns
        assert [row[:5] for row in csv.reader(f)] == [row[:5] for row in csv.reader(g)]
    # the checkpoint holds the bare model: `minidl evaluate` reads it in one process
    status, out, _ = run_main(capsys, 'evaluate', '--checkpoint',
                              str(tmp_path / 'whole' / 'checkpoint.minidl'))
    assert status == 0 and 'lenet5_bn after epoch 2 on digits test (359 images)' in out


def test_distributed_train_error_ends_the_whole_job(tmp_path):
    job = distributed_train(tmp_path, '--epochs', '1', '--batch-size', '31')
    assert job.returncode != 0
    assert ('minidl train: error: --batch-size 31 is the batch of the whole job: it must '
            'divide evenly among the 2 processes') in job.stderr


def test_accelerator_and_missing_names_as_pytorch_scripts_probe_them(tmp_path):
    """`torch.accelerator` picks the device as PyTorch's current examples do, and probing
    a name minidl lacks (hasattr, getattr with a default) answers False/None."""
    script = tmp_path / 'probe.py'
    script.write_text(
        'import torch\n'
        'import torch.nn.functional as F\n'
        'device = (torch.accelerator.current_accelerator() if torch.accelerator.is_available()\n'
        "          else torch.device('cpu'))\n"
        "print(device, hasattr(F, 'no_such_function'), getattr(F, 'no_such', None),\n"
        "      hasattr(F, 'relu'))\n")
    done = subprocess.run([sys.executable, '-m', 'minidl', 'run', str(script)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    expected = 'cuda:0' if minidl.cuda_is_available() else 'cpu'
    assert done.stdout.split() == [expected, 'False', 'None', 'True']


def test_load_of_a_missing_file_is_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError, match='does not exist'):
        minidl.load(tmp_path / 'missing.pth')
