import hashlib
import os

import pytest

from minidl.data.datasets.download import (ChecksumError, DownloadError, check_integrity,
                                           download_from_mirrors, download_url, mirror_urls)

from .files import dead_url, serve

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
