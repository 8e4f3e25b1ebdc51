"""Downloading dataset files: atomic writes, MD5 checks and errors that say what to do.

A file is streamed into a temporary file in the destination folder and moved into
place with ``os.replace`` only once it is complete and its checksum matches, so an
interrupted or corrupt download never leaves a file that looks finished.
"""
import hashlib
import os
import tempfile
import urllib.error
import urllib.request

MIRROR_ENV = 'MINIDL_DATA_MIRROR'   # base URLs tried before a dataset's own mirrors
USER_AGENT = 'minidl'


class DownloadError(RuntimeError):
    """A file could not be fetched (network trouble, HTTP error)."""


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
    request = urllib.request.Request(url, headers={'User-Agent': USER_AGENT})
    handle, partial = tempfile.mkstemp(prefix=f'.{name}.', suffix='.part', dir=folder)
    try:
        digest = hashlib.md5(usedforsecurity=False)
        with os.fdopen(handle, 'wb') as out:
            try:
                with urllib.request.urlopen(request, timeout=timeout) as response:
                    length = response.headers.get('Content-Length')
                    bar = _progress_bar(int(length) if length else None, name)
                    for chunk in iter(lambda: response.read(chunk_size), b''):
                        out.write(chunk)
                        digest.update(chunk)
                        if bar is not None:
                            bar.update(len(chunk))
                    if bar is not None:
                        bar.close()
            except urllib.error.HTTPError as err:
                raise DownloadError(f'{url}: HTTP {err.code} {err.reason}') from err
            except urllib.error.URLError as err:
                raise DownloadError(f'{url}: {err.reason}') from err
            except (OSError, ValueError) as err:  # timeouts, dropped connections, bad URLs
                raise DownloadError(f'{url}: {err}') from err
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
    by hand; when every failure was a network one, it asks whether we are offline.
    """
    failures, offline = [], True
    for url in mirror_urls(filename, mirrors):
        try:
            return download_url(url, os.path.join(folder, filename), md5=md5, timeout=timeout)
        except DownloadError as err:
            failures.append(str(err))
            offline = offline and not isinstance(err, ChecksumError)
    question = ': are you offline?' if offline else '.'
    raise DownloadError(f'{dataset}: could not download {filename} from any mirror '
                        f'({"; ".join(failures) or "no mirrors given"}){question} '
                        f'Put the files in {folder}')
