"""The ``cp`` fixture of the GPU kernel tests."""
import pytest

import minidl


@pytest.fixture(scope='module')
def cp(request):
    """CuPy, or a skip: the kernel tests need ``--device cuda`` and a GPU."""
    if request.config.getoption('--device') != 'cuda' or not minidl.cuda_is_available():
        pytest.skip('CUDA kernels: run with --device cuda on a machine with a GPU')
    import cupy
    return cupy
