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


def pytest_report_header(config):
    required = os.environ.get('MINIDL_REQUIRE_TORCH') == '1'
    mpi = os.environ.get('MINIDL_REQUIRE_MPI') == '1'
    return (f'minidl device: {config.getoption("--device")}; '
            f'MINIDL_REQUIRE_TORCH={int(required)}; MINIDL_REQUIRE_MPI={int(mpi)}')
