"""Checkpoints: round trip, atomic replacement, last-good kept, damage reported by name."""
import os

import numpy as np
import pytest

from minidl.train import CheckpointError, fit, load_checkpoint, previous_path, save_checkpoint
from minidl.train import checkpoint as checkpoint_module

pytestmark = pytest.mark.cpu_only


def state(version):
    return {'epoch': version, 'weights': {'w': np.full((3, 4), version, np.float32)},
            'history': [1.5, 2.5], 'nested': ({'a': np.arange(3)},)}


def test_round_trip_keeps_arrays_and_structure(tmp_path):
    path = tmp_path / 'run' / 'checkpoint.pkl'   # the folder is created
    save_checkpoint(path, state(1))
    loaded = load_checkpoint(path)
    assert loaded['epoch'] == 1 and loaded['history'] == [1.5, 2.5]
    np.testing.assert_array_equal(loaded['weights']['w'], np.ones((3, 4), np.float32))
    assert loaded['weights']['w'].dtype == np.float32
    np.testing.assert_array_equal(loaded['nested'][0]['a'], np.arange(3))
    assert not os.path.exists(previous_path(path))  # nothing to keep the first time


def test_the_previous_checkpoint_is_kept_as_last_good(tmp_path):
    path = tmp_path / 'checkpoint.pkl'
    for version in (1, 2, 3):
        save_checkpoint(path, state(version))
    assert previous_path(path) == str(tmp_path / 'checkpoint.prev.pkl')
    assert load_checkpoint(path)['epoch'] == 3
    assert load_checkpoint(previous_path(path))['epoch'] == 2
    assert sorted(os.listdir(tmp_path)) == ['checkpoint.pkl', 'checkpoint.prev.pkl']


def test_truncated_checkpoint_names_the_file(tmp_path):
    path = tmp_path / 'checkpoint.pkl'
    save_checkpoint(path, state(1))
    save_checkpoint(path, state(2))
    blob = path.read_bytes()
    path.write_bytes(blob[:len(blob) // 2])
    with pytest.raises(CheckpointError, match=r'checkpoint .*checkpoint\.pkl is truncated') as info:
        load_checkpoint(path)
    assert 'checkpoint.prev.pkl may be intact' in str(info.value)
    assert load_checkpoint(previous_path(path))['epoch'] == 1
    path.write_bytes(blob[:5])
    with pytest.raises(CheckpointError, match='truncated'):
        load_checkpoint(path)


def test_corrupt_or_foreign_files_are_reported(tmp_path):
    path = tmp_path / 'checkpoint.pkl'
    save_checkpoint(path, state(1))
    blob = bytearray(path.read_bytes())
    blob[-10] ^= 0xFF
    path.write_bytes(bytes(blob))
    with pytest.raises(CheckpointError, match=r'checkpoint\.pkl is corrupt'):
        load_checkpoint(path)
    path.write_text('this is not a checkpoint at all, just some text')
    with pytest.raises(CheckpointError, match='not a minidl checkpoint'):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match=r'missing\.pkl does not exist'):
        load_checkpoint(tmp_path / 'missing.pkl')


@pytest.mark.parametrize('fail_in', ['write', 'fsync'])
def test_a_kill_during_save_leaves_the_checkpoints_intact(tmp_path, monkeypatch, fail_in):
    path = tmp_path / 'checkpoint.pkl'
    save_checkpoint(path, state(1))
    save_checkpoint(path, state(2))

    class Killed(BaseException):
        pass

    if fail_in == 'write':  # the process dies with half of the new file written
        real_atomic_write = checkpoint_module.atomic_write

        def half_write(target, write, keep_previous=False):
            def partial(f):
                class Half:
                    def write(self, data):
                        f.write(data[:len(data) // 2])
                        raise Killed
                write(Half())
            return real_atomic_write(target, partial, keep_previous)
        monkeypatch.setattr(checkpoint_module, 'atomic_write', half_write)
    else:  # written completely but not yet on disk
        def dying_fsync(fd):
            raise Killed
        monkeypatch.setattr(checkpoint_module.os, 'fsync', dying_fsync)

    with pytest.raises(Killed):
        save_checkpoint(path, state(3))
    monkeypatch.undo()
    assert load_checkpoint(path)['epoch'] == 2
    assert load_checkpoint(previous_path(path))['epoch'] == 1
    assert sorted(os.listdir(tmp_path)) == ['checkpoint.pkl', 'checkpoint.prev.pkl']


def test_resume_from_a_corrupt_checkpoint_is_a_clear_error(tmp_path, make_run):
    run = make_run()
    fit(run.model, run.train_loader, epochs=2, out=str(tmp_path), **run.kwargs())
    path = tmp_path / 'checkpoint.pkl'
    path.write_bytes(path.read_bytes()[:100])
    again = make_run()
    with pytest.raises(CheckpointError, match='truncated.*checkpoint.prev.pkl may be intact'):
        fit(again.model, again.train_loader, epochs=3, out=str(tmp_path), resume=True,
            **again.kwargs())
    # the last-good one resumes
    resumed = fit(again.model, again.train_loader, epochs=2, out=str(tmp_path / 'other'),
                  resume=previous_path(path), **again.kwargs())
    assert [m['epoch'] for m in resumed.metrics] == [1, 2]
