"""The NCCL backend on 2 GPUs: the MPI tests' scenarios again, their tensors on the GPUs.

NCCL puts one rank on each GPU, so these tests need a machine with two GPUs or more
(and CuPy built with NCCL); they skip elsewhere.
"""
import pytest

from tests import mpi_job
from tests.distributed import test_mpi
from tests.nn.parallel import test_distributed


def _gpus():
    try:
        import cupy
        from cupy.cuda import nccl
        return cupy.cuda.runtime.getDeviceCount() if getattr(nccl, 'available', True) else 0
    except Exception:   # no CuPy, no NCCL in it, or no CUDA driver
        return 0


pytestmark = pytest.mark.skipif(_gpus() < 2, reason='the NCCL backend needs 2 GPUs and CuPy')


@pytest.fixture(scope='module')
def job():
    collectives = mpi_job.run(test_mpi.__file__, ['collectives'], backend='nccl')
    ddp = mpi_job.run(test_distributed.__file__, ['plain_model', 'many_buckets',
                                                  'sync_batchnorm_layer', 'sync_batchnorm_model',
                                                  'no_sync'], backend='nccl')
    return {**collectives, **ddp}


def test_the_backend_is_nccl(job):
    assert {r['backend'] for r in job['collectives']} == {'nccl'}


# the same checks as on MPI, on this module's job (pytest runs them here again)
from tests.distributed.test_mpi import (test_all_reduce_matches_numpy,  # noqa: E402,F401
                                        test_collectives_match_numpy,
                                        test_views_async_and_scalars)
from tests.nn.parallel.test_distributed import (  # noqa: E402,F401
    test_ddp_on_halves_equals_one_process_on_the_whole_batch,
    test_no_sync_accumulates_locally_then_averages,
    test_sync_batchnorm_equals_batchnorm_on_the_whole_batch)
