"""The collectives of minidl.distributed on the MPI backend, on 2 ranks, against NumPy.

Each rank's input is a function of its rank (``_inputs``), so every rank can compute
what a collective must give from all ranks' inputs with NumPy, and compares.
"""
import sys

import numpy as np
import pytest

from tests import mpi_job

DTYPES = ('float64', 'float32', 'int64')
OPS = ('sum', 'avg', 'max', 'min', 'product')
REFERENCE = {'sum': np.sum, 'max': np.max, 'min': np.min, 'product': np.prod,
             'avg': lambda a, axis: np.mean(a, axis=axis)}


def _inputs(rank, dtype, shape=(3, 4)):
    values = np.random.default_rng(rank).normal(size=shape) * 3
    return values.astype(dtype) if np.dtype(dtype).kind == 'f' else np.round(values).astype(dtype)


def _mismatch(got, expected):
    """0.0 when equal (to float32 rounding), else the largest difference."""
    got, expected = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if got.shape != expected.shape:
        return float('inf')
    scale = 1e-6 * max(1.0, float(np.abs(expected).max(initial=0)))
    diff = float(np.abs(got - expected).max(initial=0))
    return 0.0 if diff <= scale else diff


# ---------------------------------------------------------------- on the ranks

def collectives():
    import minidl
    import minidl.distributed as dist
    rank, world = dist.get_rank(), dist.get_world_size()
    device = mpi_job.device()
    everyone = {d: np.stack([_inputs(r, d) for r in range(world)]) for d in DTYPES}
    out = {}
    for dtype in DTYPES:
        mine = _inputs(rank, dtype)
        for op in OPS:
            if op == 'avg' and dtype == 'int64':
                continue
            t = minidl.tensor(mine, device=device)
            dist.all_reduce(t, op=op)
            out[f'all_reduce {op} {dtype}'] = _mismatch(t.numpy(), REFERENCE[op](everyone[dtype],
                                                                               axis=0))
        t = minidl.tensor(mine, device=device)
        dist.broadcast(t, src=1)
        out[f'broadcast {dtype}'] = _mismatch(t.numpy(), everyone[dtype][1])
        t = minidl.tensor(mine, device=device)
        dist.reduce(t, dst=1, op='sum')
        expected = everyone[dtype].sum(axis=0) if rank == 1 else mine
        out[f'reduce {dtype}'] = _mismatch(t.numpy(), expected)
        gathered = [minidl.zeros(3, 4, dtype=dtype, device=device) for _ in range(world)]
        dist.all_gather(gathered, minidl.tensor(mine, device=device))
        out[f'all_gather {dtype}'] = _mismatch(np.stack([g.numpy() for g in gathered]),
                                               everyone[dtype])
    # a view that is not contiguous is reduced and written back in place
    base = minidl.tensor(_inputs(rank, 'float64', (4, 3)), device=device)
    view = base.T
    dist.all_reduce(view)
    out['all_reduce of a strided view'] = _mismatch(
        base.numpy(), sum(_inputs(r, 'float64', (4, 3)) for r in range(world)))
    # async_op returns a Work to wait on
    t = minidl.tensor(np.full(5, float(rank + 1)), device=device)
    work = dist.all_reduce(t, op=dist.ReduceOp.MAX, async_op=True)
    work.wait()
    out['async all_reduce'] = _mismatch(t.numpy(), np.full(5, float(world)))
    out['work completed'] = work.is_completed()
    # a 0-d tensor
    t = minidl.tensor(np.array(rank + 1.0), device=device)
    dist.all_reduce(t)
    out['all_reduce 0-d'] = _mismatch(t.numpy(), sum(range(1, world + 1)))
    dist.barrier()
    # tensors on the host are reduced too (NCCL takes them through the GPU)
    t = minidl.tensor(np.full(2, float(rank)))
    dist.all_reduce(t)
    out['host tensor'] = _mismatch(t.numpy(), np.full(2, float(sum(range(world)))))
    out['rank'], out['world_size'], out['backend'] = rank, world, dist.get_backend()
    return out


def mistakes():
    import minidl
    import minidl.distributed as dist
    out = {}
    attempts = {
        'src out of range': lambda: dist.broadcast(minidl.zeros(2), src=2),
        'avg of integers': lambda: dist.all_reduce(minidl.zeros(2, dtype='int64'), op='avg'),
        'unknown op': lambda: dist.all_reduce(minidl.zeros(2), op='median'),
        'all_gather list length': lambda: dist.all_gather([minidl.zeros(2)], minidl.zeros(2)),
        'not a tensor': lambda: dist.all_reduce(np.zeros(2)),
        'init twice': lambda: dist.init_process_group('mpi'),
    }
    for name, attempt in attempts.items():
        try:
            attempt()
            out[name] = 'no error'
        except (ValueError, TypeError, RuntimeError) as err:
            out[name] = f'{type(err).__name__}: {err}'
    dist.barrier()      # the ranks are still in step after the refused calls
    t = minidl.tensor(np.ones(2))
    dist.all_reduce(t)
    out['still working'] = t.array.tolist()
    return out


# ---------------------------------------------------------------- the tests

@pytest.fixture(scope='module')
def job():
    return mpi_job.run(__file__, ['collectives', 'mistakes'])


def test_ranks_and_backend(job):
    assert [r['rank'] for r in job['collectives']] == [0, 1]
    assert {r['world_size'] for r in job['collectives']} == {2}
    assert {r['backend'] for r in job['collectives']} == {'mpi'}


@pytest.mark.parametrize('op,dtype', [(op, dtype) for op in OPS for dtype in DTYPES
                                      if not (op == 'avg' and dtype == 'int64')])
def test_all_reduce_matches_numpy(job, op, dtype):
    for rank, result in enumerate(job['collectives']):
        assert result[f'all_reduce {op} {dtype}'] == 0.0, f'rank {rank}'


@pytest.mark.parametrize('collective', ['broadcast', 'reduce', 'all_gather'])
@pytest.mark.parametrize('dtype', DTYPES)
def test_collectives_match_numpy(job, collective, dtype):
    for rank, result in enumerate(job['collectives']):
        assert result[f'{collective} {dtype}'] == 0.0, f'rank {rank}'


@pytest.mark.parametrize('case', ['all_reduce of a strided view', 'async all_reduce',
                                  'all_reduce 0-d', 'host tensor'])
def test_views_async_and_scalars(job, case):
    for result in job['collectives']:
        assert result[case] == 0.0
        assert result['work completed'] is True


def test_mistakes_are_refused_with_a_reason_and_leave_the_ranks_in_step(job):
    for result in job['mistakes']:
        assert result['src out of range'].startswith('ValueError: broadcast: src=2 is not a rank')
        assert 'AVG needs a floating-point tensor' in result['avg of integers']
        assert "unknown reduce operation 'median'" in result['unknown op']
        assert 'tensor_list has 1 tensors; the job has 2 ranks' in result['all_gather list length']
        assert 'expected a minidl Tensor, got ndarray' in result['not a tensor']
        assert 'twice' in result['init twice']
        assert result['still working'] == [2.0, 2.0]


def test_without_a_process_group_the_calls_say_so():
    import minidl
    import minidl.distributed as dist
    assert not dist.is_initialized()
    with pytest.raises(ValueError, match='Default process group has not been initialized'):
        dist.get_rank()
    with pytest.raises(ValueError, match='has not been initialized'):
        dist.all_reduce(minidl.zeros(2))
    with pytest.raises(ValueError, match="unknown backend 'gloo'"):
        dist.init_process_group('gloo')
    with pytest.raises(ValueError, match='launched by mpiexec'):
        dist.init_process_group('mpi', init_method='tcp://10.0.0.1:23456')


if __name__ == '__main__':
    mpi_job.serve({'collectives': collectives, 'mistakes': mistakes})
    sys.exit(0)
