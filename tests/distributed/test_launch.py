"""Finding mpiexec, and the flags Open MPI needs."""
import os
import stat
import sys

import pytest

from minidl.distributed import launch

pytestmark = pytest.mark.cpu_only


def fake_mpiexec(folder, version_text):
    path = os.path.join(folder, 'mpiexec')
    with open(path, 'w') as f:
        f.write(f'#!/bin/sh\necho "{version_text}"\n')
    os.chmod(path, os.stat(path).st_mode | stat.S_IEXEC)
    return path


@pytest.mark.skipif(sys.platform == 'win32', reason='shell scripts')
def test_the_mpiexec_beside_python_comes_first(tmp_path, monkeypatch):
    path = fake_mpiexec(str(tmp_path), 'HYDRA build details:')
    monkeypatch.setattr(sys, 'executable', str(tmp_path / 'python'))
    assert launch.find_mpiexec() == path
    assert launch.mpiexec_command(2, 'python', 'x.py') == [path, '-n', '2', 'python', 'x.py']


@pytest.mark.skipif(sys.platform == 'win32', reason='shell scripts')
def test_open_mpi_gets_oversubscribe_and_root_permission(tmp_path, monkeypatch):
    path = fake_mpiexec(str(tmp_path), 'mpiexec (Open MPI) 4.1.6')
    monkeypatch.setattr(os, 'geteuid', lambda: 0)
    assert launch.mpiexec_command(3, 'a', mpiexec=path) == [
        path, '--oversubscribe', '--allow-run-as-root', '-n', '3', 'a']
    monkeypatch.setattr(os, 'geteuid', lambda: 1000)
    assert launch.mpiexec_command(3, 'a', mpiexec=path) == [path, '--oversubscribe', '-n', '3', 'a']


def test_no_mpiexec_says_how_to_get_one(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, 'executable', str(tmp_path / 'python'))
    monkeypatch.setenv('PATH', str(tmp_path))
    with pytest.raises(RuntimeError, match=r"pip install 'minidl\[distributed\]'"):
        launch.mpiexec_command(2, 'x')
