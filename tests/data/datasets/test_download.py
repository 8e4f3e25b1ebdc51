import errno
import hashlib
import os
import subprocess
import sys

import pytest

from minidl.data.datasets import download
from minidl.data.datasets.download import (ChecksumError, DownloadError, check_integrity,
                                           download_from_mirrors, download_url, mirror_urls)
from minidl.serialization.atomic import staging_path

from .files import dead_url, serve, serve_raw

pytestmark = pytest.mark.cpu_only

PAYLOAD = bytes(range(256)) * 1000
PAYLOAD_MD5 = hashlib.md5(PAYLOAD).hexdigest()


@pytest.fixture
def site(tmp_path):
    folder = tmp_path / 'site'
    folder.mkdir()
    (folder / 'blob.bin').write_bytes(PAYLOAD)
    with serve(folder) as url:
        yield url


def test_download_with_checksum(tmp_path, site):
    target = tmp_path / 'out' / 'blob.bin'
    assert download_url(site + 'blob.bin', target, md5=PAYLOAD_MD5) == str(target)
    assert target.read_bytes() == PAYLOAD
    assert os.listdir(target.parent) == ['blob.bin']
    assert check_integrity(target, PAYLOAD_MD5) and check_integrity(target)
    assert not check_integrity(target, '0' * 32)
    assert not check_integrity(tmp_path / 'absent.bin')


def test_wrong_checksum_leaves_no_file(tmp_path, site):
    target = tmp_path / 'blob.bin'
    with pytest.raises(ChecksumError, match=f'MD5 checksum {PAYLOAD_MD5} does not match'):
        download_url(site + 'blob.bin', target, md5='0' * 32)
    assert os.listdir(tmp_path) == ['site']


def test_wrong_checksum_keeps_the_old_file(tmp_path, site):
    target = tmp_path / 'blob.bin'
    target.write_bytes(b'old')
    with pytest.raises(ChecksumError):
        download_url(site + 'blob.bin', target, md5='0' * 32)
    assert target.read_bytes() == b'old'


def test_http_error_and_server_down(tmp_path, site):
    with pytest.raises(DownloadError, match='missing.bin: HTTP 404'):
        download_url(site + 'missing.bin', tmp_path / 'missing.bin')
    url = dead_url() + 'blob.bin'
    with pytest.raises(DownloadError, match='refused'):
        download_url(url, tmp_path / 'blob.bin', timeout=5)
    assert sorted(os.listdir(tmp_path)) == ['site']


def test_mirrors_in_order_with_environment_first(tmp_path, site, monkeypatch):
    monkeypatch.setenv('MINIDL_DATA_MIRROR', 'http://a.example/x/, http://b.example')
    assert mirror_urls('f.gz', ['http://c.example/']) == [
        'http://a.example/x/f.gz', 'http://b.example/f.gz', 'http://c.example/f.gz']
    monkeypatch.delenv('MINIDL_DATA_MIRROR')
    path = download_from_mirrors('blob.bin', tmp_path / 'got', PAYLOAD_MD5,
                                 [dead_url(), site], 'Thing')
    assert open(path, 'rb').read() == PAYLOAD


def test_all_mirrors_failing(tmp_path, site, monkeypatch):
    monkeypatch.delenv('MINIDL_DATA_MIRROR', raising=False)
    folder = str(tmp_path / 'got')
    with pytest.raises(DownloadError) as info:
        download_from_mirrors('blob.bin', folder, '0' * 32, [dead_url(), site], 'Thing')
    message = str(info.value)
    assert message.startswith('Thing: could not download blob.bin from any mirror (')
    assert 'does not match' in message and 'offline' not in message
    assert message.endswith(f'Put the files in {folder}')


# ---------------------------------------------------------------- transfers that go wrong

HEADERS = b'HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\n'


@pytest.mark.parametrize('response, message', [
    (HEADERS + b'Content-Length: 1000\r\n\r\n' + b'x' * 500, 'connection was cut'),
    (b'HELLO THERE\r\n\r\n', 'BadStatusLine'),
    (b'', 'RemoteDisconnected'),
])
def test_a_broken_transfer_is_a_download_error_and_the_next_mirror_is_tried(
        tmp_path, site, response, message, monkeypatch):
    monkeypatch.delenv('MINIDL_DATA_MIRROR', raising=False)
    with serve_raw(response) as broken:
        with pytest.raises(DownloadError, match=message):
            download_url(broken + 'blob.bin', tmp_path / 'blob.bin', timeout=5)
        assert os.listdir(tmp_path) == ['site']         # no partial file
        path = download_from_mirrors('blob.bin', tmp_path / 'got', None, [broken, site],
                                     'Thing', timeout=5)
    assert open(path, 'rb').read() == PAYLOAD


def test_a_body_shorter_than_its_content_length_is_refused_without_a_checksum(
        tmp_path, monkeypatch):
    class Short:
        headers = {'Content-Length': '10'}

        def __init__(self):
            self.chunks = [b'abc']

        def read(self, size):
            return self.chunks.pop() if self.chunks else b''

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(download.urllib.request, 'urlopen', lambda *args, **kw: Short())
    with pytest.raises(DownloadError, match='cut: 3 of 10 bytes arrived'):
        download_url('http://127.0.0.1/short', tmp_path / 'short.bin')
    assert os.listdir(tmp_path) == []


def test_downloaded_files_take_the_users_umask(tmp_path, site):
    old = os.umask(0o022)
    try:
        download_url(site + 'blob.bin', tmp_path / 'blob.bin', md5=PAYLOAD_MD5)
    finally:
        os.umask(old)
    assert os.stat(tmp_path / 'blob.bin').st_mode & 0o777 == 0o644


def test_staging_files_of_a_killed_download_are_removed_next_time(tmp_path, site):
    host = staging_path(tmp_path / 'x').rsplit('.tmp-', 1)[1].rsplit('-', 1)[0]
    child = subprocess.Popen([sys.executable, '-c', 'pass'])
    child.wait()
    stale = tmp_path / f'blob.bin.tmp-{host}-{child.pid}'
    alive = tmp_path / f'blob.bin.tmp-{host}-{os.getppid()}'   # our parent: running
    stale.write_bytes(b'half')
    alive.write_bytes(b'half')
    download_url(site + 'blob.bin', tmp_path / 'blob.bin')
    assert sorted(os.listdir(tmp_path)) == sorted(['site', 'blob.bin', alive.name])


def test_a_disk_error_is_not_blamed_on_the_network(tmp_path, site, monkeypatch):
    class FullDisk:
        def __init__(self, *args):
            self.file = open(*args)

        def write(self, data):
            raise OSError(errno.ENOSPC, 'No space left on device')

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.file.close()

    monkeypatch.setattr(download, 'open', FullDisk, raising=False)
    with pytest.raises(OSError, match='No space left') as info:
        download_from_mirrors('blob.bin', tmp_path / 'got', None, [site, site], 'Thing')
    assert not isinstance(info.value, DownloadError)
    assert os.listdir(tmp_path / 'got') == []
