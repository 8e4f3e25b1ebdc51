"""Checkpoints: round trip, last-good kept, damage reported by name, pickles refused."""
import os

import numpy as np
import pytest

from minidl.serialization import UnsafeFileError
from minidl.train import (CheckpointError, convert_legacy_checkpoint, fit, load_checkpoint,
                          previous_path, save_checkpoint)
from tests.serialization.evil import evil_pickle, legacy_checkpoint

pytestmark = pytest.mark.cpu_only


def state(version):
    return {'epoch': version, 'weights': {'w': np.full((3, 4), version, np.float32)},
            'history': [1.5, 2.5], 'nested': ({'a': np.arange(3)},),
            'rng': np.random.default_rng(version).bit_generator.state}


def test_round_trip_keeps_arrays_and_structure(tmp_path):
    path = tmp_path / 'run' / 'checkpoint.minidl'   # the folder is created
    save_checkpoint(path, state(1))
    loaded = load_checkpoint(path)
    assert loaded['epoch'] == 1 and loaded['history'] == [1.5, 2.5]
    np.testing.assert_array_equal(loaded['weights']['w'], np.ones((3, 4), np.float32))
    assert loaded['weights']['w'].dtype == np.float32
    np.testing.assert_array_equal(loaded['nested'][0]['a'], np.arange(3))
    assert loaded['rng'] == state(1)['rng']   # 128-bit integers survive
    assert not os.path.exists(previous_path(path))  # nothing to keep the first time


def test_the_previous_checkpoint_is_kept_as_a_copy(tmp_path):
    path = tmp_path / 'checkpoint.minidl'
    for version in (1, 2, 3):
        save_checkpoint(path, state(version))
    assert previous_path(path) == str(tmp_path / 'checkpoint.prev.minidl')
    assert load_checkpoint(path)['epoch'] == 3
    assert load_checkpoint(previous_path(path))['epoch'] == 2
    assert not os.path.samefile(path, previous_path(path))
    assert sorted(os.listdir(tmp_path)) == ['checkpoint.minidl', 'checkpoint.prev.minidl']


def test_truncated_checkpoint_names_the_file_and_the_previous_copy(tmp_path):
    path = tmp_path / 'checkpoint.minidl'
    save_checkpoint(path, state(1))
    save_checkpoint(path, state(2))
    blob = path.read_bytes()
    path.write_bytes(blob[:len(blob) // 2])      # in place: the copy must not change
    with pytest.raises(CheckpointError, match=r'checkpoint .*checkpoint\.minidl is truncated') \
            as info:
        load_checkpoint(path)
    assert 'checkpoint.prev.minidl may be intact' in str(info.value)
    assert load_checkpoint(previous_path(path))['epoch'] == 1
    path.write_bytes(blob[:5])
    with pytest.raises(CheckpointError, match='truncated: 5 bytes, cut inside its MINIDLCK'):
        load_checkpoint(path)


def test_corrupt_foreign_and_missing_files_are_reported(tmp_path):
    path = tmp_path / 'checkpoint.minidl'
    save_checkpoint(path, state(1))
    blob = bytearray(path.read_bytes())
    blob[-10] ^= 0xFF
    path.write_bytes(bytes(blob))
    with pytest.raises(CheckpointError, match=r'checkpoint\.minidl is corrupt'):
        load_checkpoint(path)
    path.write_text('this is not a checkpoint at all, just some text')
    with pytest.raises(CheckpointError, match='not a minidl file'):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match=r'missing\.minidl does not exist'):
        load_checkpoint(tmp_path / 'missing.minidl')
    with pytest.raises(CheckpointError, match='is a folder'):
        load_checkpoint(tmp_path)


def test_a_checkpoint_holds_a_dict(tmp_path):
    save_checkpoint(tmp_path / 'c.minidl', [1, 2])
    with pytest.raises(CheckpointError, match='holds a list, not a checkpoint'):
        load_checkpoint(tmp_path / 'c.minidl')


def test_legacy_pickled_checkpoints_are_refused_never_unpickled(tmp_path):
    marker = tmp_path / 'ran'
    path = legacy_checkpoint(tmp_path / 'checkpoint.pkl',
                             evil_pickle(marker, hidden_in={'epoch': 3}))
    with pytest.raises(CheckpointError, match=r'minidl 0\.1 as a pickle.*convert_legacy'):
        load_checkpoint(path)
    with pytest.raises(UnsafeFileError, match='asks to load posix.system'):
        convert_legacy_checkpoint(path)
    assert not marker.exists()


def test_a_legacy_checkpoint_of_data_converts(tmp_path):
    import pickle
    old = {'epoch': 2, 'model': {'w': np.arange(6.0).reshape(2, 3)},
           'rng': {'numpy': np.random.get_state()}, 'metrics': [{'loss': 0.5, 'acc': None}]}
    path = legacy_checkpoint(tmp_path / 'checkpoint.pkl', pickle.dumps(old, protocol=4))
    new = convert_legacy_checkpoint(path)
    assert new == str(tmp_path / 'checkpoint.minidl')
    loaded = load_checkpoint(new)
    np.testing.assert_array_equal(loaded['model']['w'], old['model']['w'])
    np.testing.assert_array_equal(loaded['rng']['numpy'][1], old['rng']['numpy'][1])
    assert loaded['metrics'] == old['metrics'] and loaded['epoch'] == 2
    with pytest.raises(CheckpointError, match='nothing to convert'):
        convert_legacy_checkpoint(new)


def test_resume_from_a_corrupt_checkpoint_is_a_clear_error(tmp_path, make_run):
    run = make_run()
    fit(run.model, run.train_loader, epochs=2, out=str(tmp_path), **run.kwargs())
    path = tmp_path / 'checkpoint.minidl'
    path.write_bytes(path.read_bytes()[:100])
    again = make_run()
    with pytest.raises(CheckpointError, match='truncated.*checkpoint.prev.minidl may be intact'):
        fit(again.model, again.train_loader, epochs=3, out=str(tmp_path), resume=True,
            **again.kwargs())
    # the last-good one resumes, into another folder ...
    resumed = fit(again.model, again.train_loader, epochs=2, out=str(tmp_path / 'other'),
                  resume=previous_path(path), **again.kwargs())
    assert [m['epoch'] for m in resumed.metrics] == [1, 2]
    # ... or into its own, where the damaged checkpoint is replaced, not kept over it
    third = make_run()
    fit(third.model, third.train_loader, epochs=2, out=str(tmp_path),
        resume=previous_path(path), **third.kwargs())
    assert load_checkpoint(path)['epoch'] == 2
    assert load_checkpoint(previous_path(path))['epoch'] == 1
