"""fit and evaluate: metrics files, exact resume (after a kill anywhere), run folders that
are never lost, divergence, bad labels, devices."""
import csv
import os
import shutil

import numpy as np
import pytest

import minidl
from minidl import nn
from minidl.data import DataLoader, Subset, TensorDataset, get_dataset
from minidl.optim import SGD, lr_scheduler
from minidl.train import (DeviceError, LabelError, ResumeError, RunExistsError,
                          TrainingDiverged, classification_loss, evaluate, fit, load_checkpoint,
                          previous_path, trainer)

pytestmark = pytest.mark.cpu_only


def read_csv(path):
    with open(path, newline='') as f:
        return list(csv.reader(f))


def test_fit_writes_metrics_curves_and_checkpoints(tmp_path, make_run):
    run = make_run()
    result = fit(run.model, run.train_loader, run.test_loader, epochs=2, out=str(tmp_path),
                 **run.kwargs())
    rows = read_csv(tmp_path / 'metrics.csv')
    assert rows[0] == ['epoch', 'train_loss', 'train_acc', 'test_loss', 'test_acc', 'test_top5']
    assert [r[0] for r in rows[1:]] == ['1', '2']
    for row, metrics in zip(rows[1:], result.metrics):
        assert float(row[1]) == metrics['train_loss']
        assert 0.0 <= float(row[2]) <= 1.0 and 0.0 <= float(row[4]) <= 1.0
        assert float(row[4]) <= float(row[5]) <= 1.0  # top-5 >= top-1
    assert (tmp_path / 'curves.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    state = load_checkpoint(tmp_path / 'checkpoint.minidl')
    assert state['epoch'] == 2 and len(state['metrics']) == 2
    assert set(state) >= {'model', 'optimizer', 'scheduler', 'rng', 'loader', 'config'}
    assert load_checkpoint(previous_path(tmp_path / 'checkpoint.minidl'))['epoch'] == 1
    assert result.best_test_acc == max(m['test_acc'] for m in result.metrics)
    # the model learns something in two epochs
    assert result.metrics[-1]['train_loss'] < result.metrics[0]['train_loss']


def test_top5_column_only_with_more_than_five_classes(tmp_path):
    rng = np.random.default_rng(0)
    data = TensorDataset(rng.standard_normal((40, 6)).astype(np.float32),
                         rng.integers(0, 3, 40))
    model = nn.Linear(6, 3)
    fit(model, DataLoader(data, batch_size=8, seed=0), DataLoader(data, batch_size=20),
        epochs=1, optimizer=SGD(model.parameters(), lr=0.1), out=str(tmp_path),
        progress=False, log=None)
    assert read_csv(tmp_path / 'metrics.csv')[0] == ['epoch', 'train_loss', 'train_acc',
                                                     'test_loss', 'test_acc']


def test_without_test_loader_the_test_cells_are_empty(tmp_path, make_run):
    run = make_run()
    fit(run.model, run.train_loader, None, epochs=1, out=str(tmp_path), **run.kwargs())
    assert read_csv(tmp_path / 'metrics.csv')[1][3:] == ['', '']


def _losses(metrics):
    return [(m['epoch'], m['train_loss'], m['train_acc'], m['test_loss'], m['test_acc'])
            for m in metrics]


class Interrupt:
    """A loss that raises KeyboardInterrupt on its ``at``-th training call (a Ctrl-C)."""

    def __init__(self, at):
        self.at, self.calls = at, 0

    def __call__(self, output, target):
        if output.requires_grad:  # a training step, not evaluation
            self.calls += 1
            if self.calls == self.at:
                raise KeyboardInterrupt
        return classification_loss(output, target)


def test_resume_after_interruption_gives_exactly_the_uninterrupted_losses(tmp_path, make_run):
    whole = make_run(seed=3)
    reference = fit(whole.model, whole.train_loader, whole.test_loader, epochs=4, seed=3,
                    out=str(tmp_path / 'whole'), **whole.kwargs())

    out = str(tmp_path / 'cut')
    first = make_run(seed=3)
    with pytest.raises(KeyboardInterrupt):  # stopped in the middle of epoch 3 (8 steps each)
        fit(first.model, first.train_loader, first.test_loader, epochs=4, seed=3, out=out,
            **first.kwargs(loss_fn=Interrupt(at=2 * 8 + 5)))
    assert load_checkpoint(os.path.join(out, 'checkpoint.minidl'))['epoch'] == 2

    # a new process would build everything afresh, with other random weights
    second = make_run(seed=99)
    resumed = fit(second.model, second.train_loader, second.test_loader, epochs=4, seed=99,
                  out=out, resume=True, **second.kwargs())
    assert _losses(resumed.metrics) == _losses(reference.metrics)
    final, expected = second.model.state_dict(), whole.model.state_dict()
    for key in expected:
        np.testing.assert_array_equal(np.asarray(final[key]), np.asarray(expected[key]))
    assert read_csv(os.path.join(out, 'metrics.csv')) == \
        read_csv(tmp_path / 'whole' / 'metrics.csv')


def test_resume_without_checkpoint_starts_from_scratch(tmp_path, make_run):
    run = make_run()
    notes = []
    result = fit(run.model, run.train_loader, epochs=1, out=str(tmp_path), resume=True,
                 **{**run.kwargs(), 'log': notes.append})
    assert len(result.metrics) == 1 and 'starting from scratch' in notes[0]


class NanAt:
    def __init__(self, at):
        self.at, self.calls = at, 0

    def __call__(self, output, target):
        loss = classification_loss(output, target)
        if output.requires_grad:
            self.calls += 1
            if self.calls == self.at:
                return loss * float('nan')
        return loss


def test_nan_loss_stops_naming_epoch_and_step_and_keeps_the_checkpoint(tmp_path, make_run):
    run = make_run()
    with pytest.raises(TrainingDiverged, match=r'nan at epoch 2, step 3 \(of 8\)') as info:
        fit(run.model, run.train_loader, run.test_loader, epochs=3, out=str(tmp_path),
            **run.kwargs(loss_fn=NanAt(at=8 + 3)))
    assert 'checkpoint (epoch 1)' in str(info.value)
    state = load_checkpoint(tmp_path / 'checkpoint.minidl')
    assert state['epoch'] == 1
    assert all(np.isfinite(np.asarray(v)).all() for v in state['model'].values())


def test_labels_out_of_range_for_the_model(make_run):
    rng = np.random.default_rng(0)
    data = TensorDataset(rng.standard_normal((16, 4)).astype(np.float32),
                         np.array([0, 1, 2, 12] * 4))
    model = nn.Linear(4, 10)
    with pytest.raises(LabelError, match=r'label 12 .* 10 classes .*num_classes=13'):
        fit(model, DataLoader(data, batch_size=8), epochs=1,
            optimizer=SGD(model.parameters(), lr=0.1), progress=False, log=None)
    with pytest.raises(LabelError, match='evaluate: step 1: label 12'):
        evaluate(model, DataLoader(data, batch_size=16))


def test_cuda_without_a_gpu_is_a_clear_error(make_run):
    if minidl.cuda_is_available():
        pytest.skip('a GPU is present')
    run = make_run()
    with pytest.raises(DeviceError, match="cuda"):
        fit(run.model, run.train_loader, epochs=1, device='cuda', **run.kwargs())
    with pytest.raises(DeviceError, match="unknown device 'tpu'"):
        fit(run.model, run.train_loader, epochs=1, device='tpu', **run.kwargs())


def test_evaluate_counts_and_restores_the_mode(make_run):
    run = make_run()
    run.model.train()
    result = evaluate(run.model, run.test_loader)
    assert run.model.training
    run.model.eval()
    images = minidl.tensor(np.concatenate([b[0].numpy() for b in run.test_loader]))
    labels = np.concatenate([b[1].numpy() for b in run.test_loader])
    with minidl.no_grad():
        logits = run.model(images).numpy()
    assert result['count'] == 128
    assert result['acc'] == np.mean(logits.argmax(1) == labels)
    top5 = np.argsort(-logits, axis=1)[:, :5]
    assert result['top5'] == np.mean((top5 == labels[:, None]).any(1))
    assert result['loss'] == pytest.approx(
        float(minidl.functional.cross_entropy(minidl.tensor(logits), minidl.tensor(labels))),
        rel=1e-5)


def test_epochs_must_be_a_count(make_run):
    run = make_run()
    with pytest.raises(ValueError, match='epochs'):
        fit(run.model, run.train_loader, epochs=-1, **run.kwargs())


# ---------------------------------------------------------------- killed anywhere, resumed

class Killed(BaseException):
    """The process dies here."""


class CrashAt:
    """Kills the run at its ``at``-th file-system step (an fsync, rename, copy or delete);
    from then on every such step fails as well, since a dead process does nothing more
    (its staging files stay, as after a real kill). ``at=0`` only counts the steps."""
    STEPS = ((os, 'fsync'), (os, 'replace'), (os, 'remove'), (shutil, 'copyfile'))

    def __init__(self, monkeypatch, at):
        self.at, self.count, self.dead, self.names = at, 0, False, []
        for module, name in self.STEPS:
            monkeypatch.setattr(module, name, self.step(getattr(module, name)))
        monkeypatch.setattr(os, 'getpid', lambda: DEAD_PID)   # names its staging files

    def step(self, real):
        def run(*args, **kwargs):
            if self.dead:
                raise Killed
            self.count += 1
            self.names.append(real.__name__)
            if self.count == self.at:
                self.dead = True
                raise Killed
            return real(*args, **kwargs)
        return run


DEAD_PID = 2 ** 30     # above any pid_max: no such process


def tiny_fit(out, seed, **kwargs):
    """Two short epochs: a model with dropout, a shuffling loader, a schedule."""
    minidl.manual_seed(seed)
    train = get_dataset('digits', train=True)
    test = get_dataset('digits', train=False)
    model = nn.Sequential(nn.Flatten(), nn.Dropout(0.2), nn.Linear(64, 10))
    optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
    fit(model, DataLoader(Subset(train, np.arange(64)), batch_size=32, shuffle=True, seed=seed),
        DataLoader(Subset(test, np.arange(32)), batch_size=32), epochs=2, optimizer=optimizer,
        scheduler=lr_scheduler.StepLR(optimizer, 1, 0.5), out=out, seed=seed, progress=False,
        log=None, **kwargs)
    return model


def quick_curves(path, metrics, title=None):
    """plot_curves's file steps without matplotlib's drawing (the slow part of a tiny run)."""
    text = repr([(row['epoch'], row['train_loss'], row['test_acc']) for row in metrics])
    trainer.atomic_write(path, lambda f: f.write(text.encode()))


def test_a_run_killed_at_any_file_step_resumes_to_the_same_files_byte_for_byte(
        tmp_path, monkeypatch):
    monkeypatch.setattr(trainer, 'plot_curves', quick_curves)
    with monkeypatch.context() as patch:
        counter = CrashAt(patch, at=0)
        whole = tiny_fit(str(tmp_path / 'whole'), seed=5)
    files = {name: (tmp_path / 'whole' / name).read_bytes()
             for name in ('metrics.csv', 'curves.png')}
    # At the first step, before each rename and copy from the first checkpoint on (the
    # first epoch's metrics and curves are written as the second's are), and at the last.
    moves = [at for at, name in enumerate(counter.names, 1) if name in ('replace', 'copyfile')]
    assert len(moves) == 3 + 5     # metrics, curves, checkpoint (+ its previous copy: 2)
    points = [1] + moves[2:] + [counter.count]
    for at in points:
        out = tmp_path / f'killed-{at}'
        with monkeypatch.context() as patch:
            CrashAt(patch, at)
            with pytest.raises(Killed):
                tiny_fit(str(out), seed=5)
        current, previous = out / 'checkpoint.minidl', out / 'checkpoint.prev.minidl'
        for path in (current, previous):
            if path.exists():
                load_checkpoint(path)            # complete, whatever the moment
        if current.exists() and previous.exists():
            assert not os.path.samefile(current, previous)
        # as `minidl train --resume` would: the same seed, used only when no checkpoint
        # was written (the exact restore of the generators is tested above)
        resumed = tiny_fit(str(out), seed=5, resume=True)
        assert sorted(os.listdir(out)) == sorted(['checkpoint.minidl', 'checkpoint.prev.minidl',
                                                  *files]), at   # no staging files left
        for name, expected in files.items():
            assert (out / name).read_bytes() == expected, (at, name)
        for key, value in whole.state_dict().items():
            np.testing.assert_array_equal(resumed.state_dict()[key], value)


def test_resuming_a_finished_run_rewrites_a_metrics_file_a_kill_left_short(tmp_path, make_run):
    run = make_run()
    fit(run.model, run.train_loader, run.test_loader, epochs=2, out=str(tmp_path),
        **run.kwargs())
    complete = (tmp_path / 'metrics.csv').read_bytes()
    (tmp_path / 'metrics.csv').write_bytes(b''.join(complete.splitlines(True)[:-1]))
    (tmp_path / 'curves.png').unlink()
    again = make_run()
    result = fit(again.model, again.train_loader, again.test_loader, epochs=2,
                 out=str(tmp_path), resume=True, **again.kwargs())
    assert len(result.metrics) == 2
    assert (tmp_path / 'metrics.csv').read_bytes() == complete
    assert (tmp_path / 'curves.png').exists()


# ---------------------------------------------------------------- runs are never lost

def test_a_folder_holding_a_run_is_refused_without_resume_or_overwrite(tmp_path, make_run):
    run = make_run()
    fit(run.model, run.train_loader, epochs=1, out=str(tmp_path), **run.kwargs())
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    again = make_run()
    with pytest.raises(RunExistsError, match=r'already holds a run \(checkpoint\.minidl, '
                                             r'metrics\.csv, curves\.png\).*--resume.*'
                                             r'--overwrite'):
        fit(again.model, again.train_loader, epochs=1, out=str(tmp_path), **again.kwargs())
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    (tmp_path / 'notes.txt').write_text('mine')
    fit(again.model, again.train_loader, epochs=1, out=str(tmp_path), overwrite=True,
        **again.kwargs())
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        'checkpoint.minidl', 'curves.png', 'metrics.csv', 'notes.txt']   # no stale previous
    with pytest.raises(ValueError, match='exclude each other'):
        fit(again.model, again.train_loader, epochs=1, out=str(tmp_path), overwrite=True,
            resume=True, **again.kwargs())


def test_resume_with_the_checkpoint_missing_uses_the_previous_copy_and_keeps_it(
        tmp_path, make_run):
    run = make_run()
    fit(run.model, run.train_loader, epochs=2, out=str(tmp_path), **run.kwargs())
    (tmp_path / 'checkpoint.minidl').unlink()
    previous = (tmp_path / 'checkpoint.prev.minidl').read_bytes()
    notes = []
    again = make_run()
    result = fit(again.model, again.train_loader, epochs=2, out=str(tmp_path), resume=True,
                 **{**again.kwargs(), 'log': notes.append})
    assert 'checkpoint.prev.minidl after epoch 1' in notes[0]
    assert [m['epoch'] for m in result.metrics] == [1, 2]
    assert (tmp_path / 'checkpoint.prev.minidl').read_bytes() == previous
    assert load_checkpoint(tmp_path / 'checkpoint.minidl')['epoch'] == 2


def test_resume_refuses_another_kind_of_run(tmp_path, make_run):
    run = make_run()
    fit(run.model, run.train_loader, epochs=1, out=str(tmp_path), config={'model': 'tiny'},
        **run.kwargs())
    other = make_run()
    with pytest.raises(ResumeError, match=r"another run: model 'tiny' \(this run: 'big'\)"):
        fit(other.model, other.train_loader, epochs=2, out=str(tmp_path), resume=True,
            config={'model': 'big'}, **other.kwargs())
    model = nn.Linear(64, 10)
    with pytest.raises(ResumeError, match=r'model class Sequential \(this run: Linear\)'):
        fit(model, other.train_loader, epochs=2, out=str(tmp_path), resume=True,
            optimizer=SGD(model.parameters(), lr=0.1), progress=False, log=None)
    loader = DataLoader(other.train_loader.dataset, batch_size=16, shuffle=True, seed=0)
    with pytest.raises(ResumeError, match="training loader: .*batch_size=32, this loader has "
                                          "batch_size=16"):
        fit(other.model, loader, epochs=2, out=str(tmp_path), resume=True, **other.kwargs())


def test_nan_in_the_input_is_not_blamed_on_the_learning_rate(make_run):
    rng = np.random.default_rng(0)
    images = rng.standard_normal((16, 4)).astype(np.float32)
    images[5, 2] = np.nan
    data = TensorDataset(images, rng.integers(0, 3, 16))
    model = nn.Linear(4, 3)
    with pytest.raises(TrainingDiverged, match=r'input images of epoch 1, step 1 hold NaN') \
            as info:
        fit(model, DataLoader(data, batch_size=8), epochs=1,
            optimizer=SGD(model.parameters(), lr=0.1), progress=False, log=None)
    assert 'learning rate' not in str(info.value)


def test_plateau_schedule_steps_with_the_test_loss(make_run):
    run = make_run()
    schedule = lr_scheduler.ReduceLROnPlateau(run.optimizer, patience=0, factor=0.5)
    result = fit(run.model, run.train_loader, run.test_loader, epochs=3,
                 **run.kwargs(scheduler=schedule))
    assert schedule.last_epoch == 3
    assert schedule.best == min(m['test_loss'] for m in result.metrics)
    with pytest.raises(ValueError, match='ReduceLROnPlateau steps once per epoch'):
        fit(run.model, run.train_loader, epochs=1,
            **run.kwargs(scheduler=schedule, scheduler_interval='batch'))


def test_a_per_batch_schedule_steps_after_every_optimizer_step(make_run):
    run = make_run()
    batches = len(run.train_loader)
    schedule = lr_scheduler.OneCycleLR(run.optimizer, max_lr=0.2, epochs=2,
                                       steps_per_epoch=batches)
    twin = lr_scheduler.OneCycleLR(make_run().optimizer, max_lr=0.2, epochs=2,
                                   steps_per_epoch=batches)
    expected = [twin.get_last_lr()[0]]
    for _ in range(2 * batches):
        twin.step()
        expected.append(twin.get_last_lr()[0])
    result = fit(run.model, run.train_loader, None, epochs=2,
                 **run.kwargs(scheduler=schedule, scheduler_interval='batch'))
    assert schedule.last_epoch == 2 * batches
    assert [m['lr'] for m in result.metrics] == [expected[0], expected[batches]]
    assert run.optimizer.param_groups[0]['lr'] == expected[-1]
    assert expected[-2] < 1e-5              # the last batch ran at the cycle's minimum
