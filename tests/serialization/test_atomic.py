"""Atomic writes: whole files only, a previous copy that is a copy, staging cleaned safely."""
import collections
import errno
import os
import shutil
import subprocess
import sys

import pytest

from minidl.serialization import atomic
from minidl.serialization.atomic import (atomic_write, check_writable, previous_path,
                                         remove_stale_staging, staging_path)

pytestmark = pytest.mark.cpu_only


class Killed(BaseException):
    pass


def write_text(path, text, keep_previous=True):
    atomic_write(path, lambda f: f.write(text.encode()), keep_previous=keep_previous)


@pytest.mark.parametrize('dies_in', ['write', 'fsync', 'copyfile', 'replace-previous',
                                     'replace'])
def test_a_kill_at_any_step_leaves_two_separate_complete_files(tmp_path, monkeypatch, dies_in):
    path = tmp_path / 'state.txt'
    write_text(path, 'one')
    write_text(path, 'two')
    real_replace = os.replace

    def dying(*args, **kwargs):
        raise Killed

    def replace(source, target):
        if (dies_in == 'replace-previous') == str(target).endswith('.prev.txt'):
            raise Killed
        return real_replace(source, target)

    with monkeypatch.context() as patch:
        if dies_in == 'write':
            with pytest.raises(Killed):
                atomic_write(path, lambda f: (f.write(b'thr'), dying()), keep_previous=True)
        else:
            patch.setattr(*{'fsync': (os, 'fsync', dying),
                            'copyfile': (shutil, 'copyfile', dying),
                            'replace-previous': (os, 'replace', replace),
                            'replace': (os, 'replace', replace)}[dies_in])
            with pytest.raises(Killed):
                write_text(path, 'three')
    assert path.read_text() == 'two'
    assert open(previous_path(path)).read() in ('one', 'two')
    assert not os.path.samefile(path, previous_path(path))
    assert sorted(os.listdir(tmp_path)) == ['state.prev.txt', 'state.txt']


def test_files_take_the_users_umask(tmp_path):
    old = os.umask(0o027)
    try:
        write_text(tmp_path / 'a.txt', 'x')
        write_text(tmp_path / 'a.txt', 'y')
    finally:
        os.umask(old)
    assert os.stat(tmp_path / 'a.txt').st_mode & 0o777 == 0o640
    assert os.stat(previous_path(tmp_path / 'a.txt')).st_mode & 0o777 == 0o640


def dead_pid():
    child = subprocess.Popen([sys.executable, '-c', 'pass'])
    child.wait()
    return child.pid


def test_only_staging_files_of_dead_processes_of_this_host_are_removed(tmp_path):
    here = staging_path(tmp_path / 'checkpoint.minidl')           # this process: alive
    host = here.rsplit('.tmp-', 1)[1].rsplit('-', 1)[0]
    gone = dead_pid()
    names = {f'checkpoint.minidl.tmp-{host}-{gone}': True,          # killed: removed
             f'metrics.csv.tmp-{gone}': True,                       # minidl 0.1's name
             f'checkpoint.minidl.tmp-otherhost-{gone}': False,      # maybe alive elsewhere
             f'checkpoint.minidl.tmp-{host}-1': False,              # init: alive
             'checkpoint.minidl': False, 'notes.tmp-x': False, 'a.tmp-12-b': False}
    for name in names:
        (tmp_path / name).write_text('x')
    open(here, 'w').close()
    (tmp_path / f'notes.txt.tmp-{gone}').write_text('not ours')      # not a file we write
    removed = remove_stale_staging(tmp_path, ['checkpoint.minidl', 'metrics.csv'])
    assert sorted(os.path.basename(p) for p in removed) == sorted(n for n, r in names.items() if r)
    assert os.path.exists(here) and (tmp_path / f'notes.txt.tmp-{gone}').exists()
    assert remove_stale_staging(tmp_path / 'missing', ['a']) == []


def test_check_writable(tmp_path, monkeypatch):
    check_writable(tmp_path / 'new' / 'folder')              # created
    assert os.listdir(tmp_path / 'new' / 'folder') == []     # the probe is gone
    (tmp_path / 'file').write_text('x')
    with pytest.raises(NotADirectoryError, match='is a file, not a folder'):
        check_writable(tmp_path / 'file')
    usage = collections.namedtuple('usage', 'total used free')
    monkeypatch.setattr(atomic.shutil, 'disk_usage', lambda path: usage(1, 1, 3 * 2 ** 20))
    check_writable(tmp_path, need_bytes=2 ** 20)
    with pytest.raises(OSError, match='has 3 MiB free on its disk, and about 10 MiB') as info:
        check_writable(tmp_path, need_bytes=10 * 2 ** 20)
    assert info.value.errno == errno.ENOSPC

    def read_only(path, *args, **kwargs):
        raise OSError(errno.EROFS, 'Read-only file system', path)
    monkeypatch.setattr(atomic, 'open', read_only, raising=False)
    with pytest.raises(OSError, match='Read-only'):
        check_writable(tmp_path)
