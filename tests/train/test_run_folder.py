"""The run-folder rules: a run is only continued or replaced when asked to."""
import pytest

from minidl.train import CheckpointError, RunExistsError, plan_run, save_checkpoint
from minidl.train.run_folder import clear_run

pytestmark = pytest.mark.cpu_only


def make_run(folder, *names):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        if name.endswith('.minidl'):
            save_checkpoint(folder / name, {'epoch': 1}, keep_previous=False)
        else:
            (folder / name).write_bytes(b'x')
    return folder


def test_a_new_run_needs_a_folder_without_one(tmp_path):
    assert plan_run(tmp_path / 'missing') is None
    assert plan_run(make_run(tmp_path / 'other', 'notes.txt')) is None
    for files in (['metrics.csv'], ['checkpoint.prev.minidl'], ['checkpoint.pkl']):
        folder = make_run(tmp_path / files[0], *files)
        with pytest.raises(RunExistsError, match=f'already holds a run \\({files[0]}\\)'):
            plan_run(folder)
        assert plan_run(folder, overwrite=True) is None
    with pytest.raises(ValueError, match='exclude each other'):
        plan_run(tmp_path, resume=True, overwrite=True)


def test_resume_finds_the_checkpoint_or_its_previous_copy(tmp_path):
    run = make_run(tmp_path / 'run', 'checkpoint.minidl', 'checkpoint.prev.minidl')
    assert plan_run(run, resume=True) == str(run / 'checkpoint.minidl')
    (run / 'checkpoint.minidl').unlink()
    assert plan_run(run, resume=True) == str(run / 'checkpoint.prev.minidl')
    # nothing to resume from: a fresh start, which rewrites a first epoch's metrics
    assert plan_run(make_run(tmp_path / 'early', 'metrics.csv'), resume=True) is None
    with pytest.raises(CheckpointError, match=r"checkpoint of minidl 0\.1.*convert_legacy"):
        plan_run(make_run(tmp_path / 'old', 'checkpoint.pkl', 'metrics.csv'), resume=True)


def test_resume_from_a_file_or_another_folder(tmp_path):
    run = make_run(tmp_path / 'run', 'checkpoint.minidl', 'checkpoint.prev.minidl')
    previous = str(run / 'checkpoint.prev.minidl')
    assert plan_run(run, resume=previous) == previous                  # in its own folder
    assert plan_run(tmp_path / 'empty', resume=previous) == previous   # into an empty one
    assert plan_run(tmp_path / 'empty', resume=str(run)) == str(run / 'checkpoint.minidl')
    busy = make_run(tmp_path / 'busy', 'metrics.csv')
    with pytest.raises(RunExistsError, match='holds another run'):
        plan_run(busy, resume=previous)
    with pytest.raises(RunExistsError, match='holds another run'):
        plan_run(busy, resume=str(run))
    with pytest.raises(CheckpointError, match='nope.minidl does not exist'):
        plan_run(tmp_path / 'empty', resume=str(tmp_path / 'nope.minidl'))
    with pytest.raises(CheckpointError, match='holds no checkpoint'):
        plan_run(tmp_path / 'empty', resume=str(busy))


def test_clear_run_deletes_only_run_files(tmp_path):
    run = make_run(tmp_path, 'checkpoint.minidl', 'metrics.csv', 'curves.png', 'notes.txt')
    clear_run(run)
    assert [p.name for p in run.iterdir()] == ['notes.txt']
