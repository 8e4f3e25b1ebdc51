"""Test configuration: the device switch and the PyTorch requirement.

    pytest                      # CPU
    pytest --device cuda        # the same tests on CuPy (skipped without a GPU)
"""
import os

import numpy as np
import pytest

import minidl


def pytest_addoption(parser):
    parser.addoption('--device', default='cpu', choices=('cpu', 'cuda'),
                     help='run the tests on this device (cuda needs CuPy and a GPU)')


def pytest_configure(config):
    from tests import parity
    parity.DEVICE = config.getoption('--device')
    config.addinivalue_line('markers', 'cpu_only: a test about host-side behaviour only')


def pytest_collection_modifyitems(config, items):
    if config.getoption('--device') == 'cuda':
        if not minidl.cuda_is_available():
            skip = pytest.mark.skip(reason='--device cuda: no GPU or CuPy here')
            for item in items:
                item.add_marker(skip)
        else:
            skip = pytest.mark.skip(reason='host-side test, run on CPU only')
            for item in items:
                if 'cpu_only' in item.keywords:
                    item.add_marker(skip)


@pytest.fixture
def device(request):
    return request.config.getoption('--device')


@pytest.fixture(autouse=True)
def _seeded():
    minidl.manual_seed(0)
    np.random.seed(0)
    yield


# outcome counts of the tests that run PyTorch's own samples (tests/torch_samples.py),
# gathered from the reports (which carry them from xdist's workers too)
_torch_sample_counts = []


def pytest_runtest_logreport(report):
    if report.when == 'call':
        _torch_sample_counts.extend(value for key, value in report.user_properties
                                    if key == 'torch_samples')


def pytest_terminal_summary(terminalreporter):
    if not _torch_sample_counts:
        return
    from tests.torch_samples import summarize
    terminalreporter.write_sep('-', "PyTorch's OpInfo/ModuleInfo samples")
    for line in summarize(_torch_sample_counts):
        terminalreporter.write_line(line)


def pytest_report_header(config):
    required = os.environ.get('MINIDL_REQUIRE_TORCH') == '1'
    mpi = os.environ.get('MINIDL_REQUIRE_MPI') == '1'
    return (f'minidl device: {config.getoption("--device")}; '
            f'MINIDL_REQUIRE_TORCH={int(required)}; MINIDL_REQUIRE_MPI={int(mpi)}')


@pytest.fixture
def threads(monkeypatch):
    """set_num_threads freely in the test; minidl's and BLAS's settings are restored
    afterwards."""
    from threadpoolctl import threadpool_limits
    from minidl import backend
    monkeypatch.setattr(backend, '_num_threads', backend._num_threads)
    monkeypatch.setattr(backend, '_blas_setting', backend._blas_setting)
    with threadpool_limits(limits=None):     # whatever is set inside is undone on exit
        yield backend.set_num_threads
