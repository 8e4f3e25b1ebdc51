"""Small dataset files in the real formats (IDX, CIFAR pickled batches) and local HTTP
servers, well-behaved and not."""
import contextlib
import functools
import gzip
import hashlib
import http.server
import io
import os
import pickle
import socket
import tarfile
import threading

import numpy as np


def md5_of(path):
    with open(path, 'rb') as f:
        return hashlib.md5(f.read()).hexdigest()


def idx_bytes(array, magic):
    """An IDX file: magic number, big-endian dimensions, uint8 data."""
    header = magic.to_bytes(4, 'big') + b''.join(int(d).to_bytes(4, 'big') for d in array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def mnist_arrays(n, seed):
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
            rng.integers(0, 10, n, dtype=np.uint8))


def write_mnist(folder, gz=True, n_train=12, n_test=5):
    """The four MNIST files in ``folder``; returns {'train': (images, labels), 'test': ...}."""
    os.makedirs(folder, exist_ok=True)
    made = {}
    for split, prefix, n in (('train', 'train', n_train), ('test', 't10k', n_test)):
        images, labels = mnist_arrays(n, seed=n)
        for kind, array, magic in (('images-idx3', images, 2051), ('labels-idx1', labels, 2049)):
            name = os.path.join(folder, f'{prefix}-{kind}-ubyte')
            data = idx_bytes(array, magic)
            if gz:
                with gzip.open(name + '.gz', 'wb') as f:
                    f.write(data)
            else:
                with open(name, 'wb') as f:
                    f.write(data)
        made[split] = (images, labels)
    return made


def cifar_batch(n, seed):
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    labels = rng.integers(0, 10, n).tolist()
    return {'batch_label': f'batch {seed}', 'labels': labels, 'data': data,
            'filenames': [f'img_{seed}_{i}.png' for i in range(n)]}


def write_cifar_archive(path, per_batch=3):
    """cifar-10-python.tar.gz with five training batches and a test batch; returns
    ({batch name: its dict}, {batch name: md5 of its pickle})."""
    batches, md5s = {}, {}
    with tarfile.open(path, 'w:gz') as tar:
        for k, name in enumerate(['data_batch_1', 'data_batch_2', 'data_batch_3',
                                  'data_batch_4', 'data_batch_5', 'test_batch']):
            batches[name] = cifar_batch(per_batch, seed=k)
            raw = pickle.dumps(batches[name], protocol=2)
            md5s[name] = hashlib.md5(raw).hexdigest()
            info = tarfile.TarInfo(f'cifar-10-batches-py/{name}')
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return batches, md5s


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve(folder):
    """Serve ``folder`` over HTTP on 127.0.0.1; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f'http://127.0.0.1:{server.server_address[1]}/'
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextlib.contextmanager
def serve_raw(response):
    """A server on 127.0.0.1 that answers every request with the bytes ``response`` and
    hangs up (a connection cut short, a garbled status line); yields the base URL."""
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen()
    listener.settimeout(0.2)
    stop = threading.Event()

    def answer():
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:   # the timeout: look at ``stop`` again
                continue
            with connection:
                connection.recv(65536)
                connection.sendall(response)

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        yield f'http://127.0.0.1:{listener.getsockname()[1]}/'
    finally:
        stop.set()
        thread.join()
        listener.close()


def dead_url():
    """A URL on 127.0.0.1 where nothing listens."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    return f'http://127.0.0.1:{port}/'
