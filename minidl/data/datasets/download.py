"""Downloading dataset files: atomic writes, MD5 checks and errors that say what to do.

A file is streamed into a staging file in the destination folder and moved into place
with ``os.replace`` only once it is complete (as long as the server's Content-Length
says) and its checksum matches, so an interrupted or corrupt download never leaves a
file that looks finished. Staging files left by a killed process are removed by the
next download of the same file. Files get the permissions the user's umask gives.
"""
import hashlib
import http.client
import os
import urllib.error
import urllib.request

from ...serialization.atomic import remove_stale_staging, staging_path

MIRROR_ENV = 'MINIDL_DATA_MIRROR'   # base URLs tried before a dataset's own mirrors
USER_AGENT = 'minidl'


class DownloadError(RuntimeError):
    """A file could not be fetched (network trouble, HTTP error). ``unreachable`` is True
    when the server could not be reached at all."""

    def __init__(self, message, unreachable=False):
        super().__init__(message)
        self.unreachable = unreachable


class _WriteFailed(Exception):
    """Writing the downloaded bytes to disk failed: not the network's fault."""


class ChecksumError(DownloadError):
    """A file arrived (or lies on disk) with the wrong MD5 checksum."""


def calculate_md5(path, chunk_size=1 << 20):
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(chunk_size), b''):
            digest.update(chunk)
    return digest.hexdigest()


def check_integrity(path, md5=None):
    """True when ``path`` is a file and, if ``md5`` is given, has that checksum."""
    if not os.path.isfile(path):
        return False
    return md5 is None or calculate_md5(path) == md5


def _progress_bar(total, name):
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    # disable=None: shown on a terminal only
    return tqdm(total=total, unit='B', unit_scale=True, desc=name, disable=None, leave=False)


def _receive(response, out, digest, name, chunk_size):
    """Copy the body of ``response`` to ``out`` and into ``digest``; returns its length."""
    length = response.headers.get('Content-Length')
    bar = _progress_bar(int(length) if length and length.isdigit() else None, name)
    received = 0
    try:
        for chunk in iter(lambda: response.read(chunk_size), b''):
            try:
                out.write(chunk)
            except OSError as err:
                raise _WriteFailed(err) from err
            digest.update(chunk)
            received += len(chunk)
            if bar is not None:
                bar.update(len(chunk))
    finally:
        if bar is not None:
            bar.close()
    return received


def download_url(url, path, md5=None, timeout=30.0, chunk_size=1 << 16):
    """Fetch ``url`` into the file ``path``; with ``md5``, only a file with that checksum.

    Raises DownloadError when the server cannot be reached or answers with an error,
    ChecksumError when the bytes that arrive have another checksum. Either way nothing
    is left at ``path`` nor beside it.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    name = os.path.basename(path)
    remove_stale_staging(folder, [name])
    request = urllib.request.Request(url, headers={'User-Agent': USER_AGENT})
    partial = staging_path(path)
    try:
        digest = hashlib.md5(usedforsecurity=False)
        with open(partial, 'wb') as out:     # mode 0666 less the umask, as any new file
            try:
                with urllib.request.urlopen(request, timeout=timeout) as response:
                    received = _receive(response, out, digest, name, chunk_size)
                    length = response.headers.get('Content-Length')
            except _WriteFailed as err:
                raise err.args[0] from None    # the disk's error (full, read-only), as it is
            except urllib.error.HTTPError as err:
                raise DownloadError(f'{url}: HTTP {err.code} {err.reason}') from err
            except urllib.error.URLError as err:
                raise DownloadError(f'{url}: {err.reason}', unreachable=True) from err
            except http.client.IncompleteRead as err:
                raise DownloadError(f'{url}: the connection was cut ({err!r})') from err
            except (OSError, ValueError, http.client.HTTPException) as err:
                # timeouts, dropped connections, bad status lines, bad URLs
                raise DownloadError(f'{url}: {type(err).__name__}: {err}') from err
        if length is not None and length.isdigit() and received != int(length):
            raise DownloadError(f'{url}: the connection was cut: {received} of {length} bytes '
                                f'arrived')
        if md5 is not None and digest.hexdigest() != md5:
            raise ChecksumError(f'{url}: MD5 checksum {digest.hexdigest()} does not match the '
                                f'expected {md5}')
        os.replace(partial, path)
    except BaseException:
        if os.path.exists(partial):
            os.remove(partial)
        raise
    return path


def mirror_urls(filename, mirrors):
    """Where to look for ``filename``: the mirrors in $MINIDL_DATA_MIRROR (comma-separated
    base URLs) first, then ``mirrors``."""
    extra = [m.strip() for m in os.environ.get(MIRROR_ENV, '').split(',') if m.strip()]
    return [base.rstrip('/') + '/' + filename for base in extra + list(mirrors)]


def download_from_mirrors(filename, folder, md5, mirrors, dataset, timeout=30.0):
    """Fetch ``filename`` into ``folder`` from the first mirror that serves it intact.

    When all fail, the error lists each mirror's failure and says where to put the file
    by hand; when no server could be reached at all, it asks whether we are offline. An
    error writing the file (a full disk) stops at once.
    """
    failures, offline = [], True
    for url in mirror_urls(filename, mirrors):
        try:
            return download_url(url, os.path.join(folder, filename), md5=md5, timeout=timeout)
        except DownloadError as err:
            failures.append(str(err))
            offline = offline and err.unreachable
    question = ': are you offline?' if offline else '.'
    raise DownloadError(f'{dataset}: could not download {filename} from any mirror '
                        f'({"; ".join(failures) or "no mirrors given"}){question} '
                        f'Put the files in {folder}')
