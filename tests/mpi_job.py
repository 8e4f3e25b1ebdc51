"""Tests that run on several processes: pytest starts an MPI job, the job reports back.

A test module that needs ranks defines its scenarios as functions and ends with

    if __name__ == '__main__':
        mpi_job.serve({'name': scenario, ...})

and its tests call ``mpi_job.run(__file__, ['name', ...])``, which starts
``mpiexec -n 2 python <the module> <folder> <names>``; every rank runs the named
scenarios in order and writes what they return (JSON) to ``<folder>/rank<r>.json``.
``run`` returns ``{name: [rank 0's result, rank 1's, ...]}``, or fails the test with the
job's output when the job fails. A module-scoped fixture runs one job for many tests.
``run(..., backend='nccl')`` runs the same scenarios on GPUs, their tensors on
``device()``.

Without mpi4py or mpiexec the tests skip, unless MINIDL_REQUIRE_MPI=1 (CI) makes them fail.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _require_mpi():
    from minidl.distributed.launch import find_mpiexec
    try:
        import mpi4py  # noqa: F401
        missing = None if find_mpiexec() else 'mpiexec'
    except ImportError:
        missing = 'mpi4py'
    if missing:
        if os.environ.get('MINIDL_REQUIRE_MPI') == '1':
            pytest.fail(f'MINIDL_REQUIRE_MPI=1 but {missing} is not installed')
        pytest.skip(f"{missing} is not installed (pip install '.[distributed]')")


def launch(command, nprocs=2, timeout=180, env=None):
    """Run ``command`` (an argument list) as an MPI job of ``nprocs`` ranks from the
    repository root; returns the CompletedProcess (stdout and stderr as text)."""
    _require_mpi()
    from minidl.distributed.launch import mpiexec_command
    environment = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get('PYTHONPATH', ''),
                       OMP_NUM_THREADS='1', OPENBLAS_NUM_THREADS='1', MKL_NUM_THREADS='1',
                       MPLBACKEND='Agg', **(env or {}))
    return subprocess.run(mpiexec_command(nprocs, *command), cwd=REPO, env=environment,
                          capture_output=True, text=True, timeout=timeout)


def run(module_file, names, nprocs=2, timeout=180, backend='mpi'):
    with tempfile.TemporaryDirectory() as folder:
        job = launch([sys.executable, module_file, folder, *names], nprocs, timeout,
                     env={'MINIDL_TEST_BACKEND': backend})
        if job.returncode != 0:
            pytest.fail(f'the MPI job failed (exit status {job.returncode}):\n'
                        f'{job.stdout[-4000:]}\n{job.stderr[-8000:]}')
        per_rank = []
        for r in range(nprocs):
            with open(os.path.join(folder, f'rank{r}.json')) as f:
                per_rank.append(json.load(f))
    return {name: [results[name] for results in per_rank] for name in names}


def device():
    """The device of this rank's tensors: its GPU under NCCL, else the CPU."""
    import minidl.distributed as dist
    if dist.get_backend() == 'nccl':
        return f'cuda:{dist.group.WORLD.device_index}'
    return 'cpu'


def host(array):
    """A NumPy copy of a NumPy or CuPy array, or of a Tensor."""
    from minidl.backend import to_device
    return np.array(to_device(getattr(array, 'array', array), 'cpu'))


def serve(scenarios):
    """The rank's side: run the scenarios named on the command line, save their results.
    The backend is MINIDL_TEST_BACKEND's ('mpi' unless told)."""
    import minidl
    import minidl.distributed as dist
    folder, names = sys.argv[1], sys.argv[2:]
    dist.init_process_group(os.environ.get('MINIDL_TEST_BACKEND', 'mpi'), timeout=60)
    results = {}
    for name in names:
        minidl.manual_seed(0)
        np.random.seed(0)
        results[name] = scenarios[name]()
        dist.barrier()
    with open(os.path.join(folder, f'rank{dist.get_rank()}.json'), 'w') as f:
        json.dump(results, f)
    dist.destroy_process_group()
