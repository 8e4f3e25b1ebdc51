"""Data-parallel training across processes and machines, with ``torch.distributed``'s names.

    mpiexec -n 4 python train.py          # 4 processes, here or on the hosts of a host file

    import minidl.distributed as dist
    dist.init_process_group('mpi')        # or 'nccl' on GPUs, one process per GPU
    rank, world = dist.get_rank(), dist.get_world_size()
    dist.all_reduce(t, op=dist.ReduceOp.SUM)   # in place, on every rank

minidl writes no communication layer of its own: the ``'mpi'`` backend is MPI through
mpi4py (NumPy arrays go to MPI through the buffer interface, never pickled), the
``'nccl'`` backend is NVIDIA's NCCL through CuPy. ``mpiexec`` starts the processes and
tells each its rank; ``docs/distributed.md`` explains the whole story, with ring
all-reduce and its cost.

The collectives take minidl Tensors and work in place: ``all_reduce``, ``broadcast``,
``reduce``, ``all_gather``, ``barrier``; ``async_op=True`` returns a ``Work`` to
``wait()`` on. They never wait blindly: a rank that fails (an uncaught exception,
``minidl train`` exiting with an error) tells the others, which raise
``DistBackendError`` naming it, and a collective that waits longer than
``init_process_group``'s ``timeout`` raises, naming the ranks that did not join.
"""
import datetime
import sys
import traceback

from ..backend import get_array_module
from ..tensor import Tensor
from .group import ProcessGroup, ReduceOp, Work
from .watchdog import DistBackendError, DistError

__all__ = ['init_process_group', 'destroy_process_group', 'is_initialized', 'is_available',
           'is_mpi_available', 'is_nccl_available', 'get_rank', 'get_world_size',
           'get_backend', 'all_reduce', 'broadcast', 'reduce', 'all_gather', 'barrier',
           'abort', 'ReduceOp', 'Backend', 'Work', 'ProcessGroup', 'DistError',
           'DistBackendError', 'group', 'default_pg_timeout']

# torch.distributed's default for CPU backends
default_pg_timeout = datetime.timedelta(minutes=30)


class Backend:
    MPI = 'mpi'
    NCCL = 'nccl'


class _Groups:
    """``group.WORLD``: the default process group (None before ``init_process_group``)."""

    @property
    def WORLD(self):
        return _default


group = _Groups()
_default = None                # the ProcessGroup of init_process_group
_previous_excepthook = None


def is_available():
    """True: minidl.distributed is always there (its backends need mpi4py, and CuPy)."""
    return True


def is_mpi_available():
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return True


def is_nccl_available():
    try:
        from cupy.cuda import nccl
    except ImportError:
        return False
    return bool(getattr(nccl, 'available', True)) and is_mpi_available()


def is_initialized():
    return _default is not None


def _group(group, name):
    if _default is None:
        raise ValueError(f'{name}: Default process group has not been initialized, please '
                         f'make sure to call init_process_group.')
    if group is not None and group is not _default:
        raise ValueError(f'{name}: minidl.distributed has only the default group (pass '
                         f'group=None)')
    return _default


def _seconds(timeout):
    if timeout is None:
        timeout = default_pg_timeout
    seconds = timeout.total_seconds() if isinstance(timeout, datetime.timedelta) else timeout
    if not seconds > 0:
        raise ValueError(f'init_process_group: timeout must be positive, got {timeout!r}')
    return float(seconds)


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1,
                       store=None, group_name='', pg_options=None, device_id=None):
    """Join the job's default process group; every rank must call it.

    Arguments (torch.distributed's; the processes, their number and their ranks come
    from ``mpiexec``, so ``world_size``/``rank`` need not be given, and are checked
    against MPI's when they are):
        backend: ``'mpi'`` (the default) or ``'nccl'`` (one GPU per process).
        init_method, store: must be None (or ``'env://'``): MPI brings the processes
            together.
        timeout: a ``datetime.timedelta`` or seconds; how long a collective waits for
            the others before raising (default 30 minutes, as PyTorch's).
        device_id: the GPU of this process with ``'nccl'`` (default: its local rank).

    After this call an uncaught exception on any rank is announced to the others
    (which raise DistBackendError naming it), then the job is ended (MPI_Abort).

    Raises RuntimeError when called twice or when the backend's library (mpi4py; CuPy
    with NCCL) is missing, ValueError for an unknown backend, an init_method or store,
    or a world_size/rank other than mpiexec's.
    """
    global _default, _previous_excepthook
    if _default is not None:
        raise RuntimeError('trying to initialize the default process group twice!')
    backend = (backend or Backend.MPI).lower()
    if backend not in (Backend.MPI, Backend.NCCL):
        raise ValueError(f"init_process_group: unknown backend {backend!r}; minidl has "
                         f"'mpi' (processes on CPUs, any machines) and 'nccl' (GPUs)")
    if init_method not in (None, 'env://') or store is not None:
        raise ValueError('init_process_group: minidl is launched by mpiexec, which brings '
                         'the processes together: leave init_method and store unset')
    seconds = _seconds(timeout)
    if backend == Backend.NCCL:
        from .nccl import NCCLProcessGroup
        pg = NCCLProcessGroup(seconds, device_id)
    else:
        from .mpi import MPIProcessGroup
        pg = MPIProcessGroup(seconds)
    for given, actual, what in ((world_size, pg.size, 'world_size'), (rank, pg.rank, 'rank')):
        if given not in (-1, None) and given != actual:
            raise ValueError(f'init_process_group: {what}={given}, but mpiexec started this '
                             f'process as {what} {actual}')
    _default = pg
    _previous_excepthook = sys.excepthook
    sys.excepthook = _announce_uncaught


def destroy_process_group(group=None):
    """Leave the default process group (every rank should call it at the end)."""
    global _default, _previous_excepthook
    _group(group, 'destroy_process_group')
    _default = None
    if _previous_excepthook is not None:
        sys.excepthook, _previous_excepthook = _previous_excepthook, None


def get_rank(group=None):
    """This process's number in the job, 0 .. world_size - 1."""
    return _group(group, 'get_rank').rank


def get_world_size(group=None):
    """How many processes the job has."""
    return _group(group, 'get_world_size').size


def get_backend(group=None):
    return _group(group, 'get_backend').backend


# ---------------------------------------------------------------- collectives

def _array(tensor, name):
    if not isinstance(tensor, Tensor):
        raise TypeError(f'{name}: expected a minidl Tensor, got {type(tensor).__name__}')
    return tensor.array


def _finish(work, async_op):
    if async_op:
        return work
    work.wait()
    return None


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Combine ``tensor`` over all ranks (SUM, AVG, MAX, MIN, PRODUCT); every rank's
    ``tensor`` holds the result. Like every collective here: ValueError without a process
    group, TypeError for a non-Tensor, DistBackendError when another rank failed or the
    timeout passed (at ``wait()`` with ``async_op=True``)."""
    return _finish(_group(group, 'all_reduce').all_reduce(_array(tensor, 'all_reduce'), op),
                   async_op)


def broadcast(tensor, src, group=None, async_op=False):
    """Every rank's ``tensor`` becomes rank ``src``'s."""
    return _finish(_group(group, 'broadcast').broadcast(_array(tensor, 'broadcast'), src),
                   async_op)


def reduce(tensor, dst, op=ReduceOp.SUM, group=None, async_op=False):
    """Rank ``dst``'s ``tensor`` becomes the combination over all ranks; the others'
    tensors are unchanged."""
    return _finish(_group(group, 'reduce').reduce(_array(tensor, 'reduce'), dst, op), async_op)


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """``tensor_list[r]`` becomes rank r's ``tensor``, on every rank; ``tensor_list``
    holds world_size tensors of ``tensor``'s shape and dtype."""
    pg = _group(group, 'all_gather')
    array = _array(tensor, 'all_gather')
    if len(tensor_list) != pg.size:
        raise ValueError(f'all_gather: tensor_list has {len(tensor_list)} tensors; the job has '
                         f'{pg.size} ranks')
    for r, t in enumerate(tensor_list):
        if _array(t, 'all_gather').shape != array.shape or t.dtype != array.dtype:
            raise ValueError(f'all_gather: tensor_list[{r}] has shape {t.shape} and dtype '
                             f'{t.dtype}; tensor has {tuple(array.shape)} and {array.dtype}')
    output = get_array_module(array).empty((pg.size,) + array.shape, dtype=array.dtype)

    def copy_into_list():
        for r, t in enumerate(tensor_list):
            t.array[...] = output[r]
    return _finish(pg.all_gather(output, array).then(copy_into_list), async_op)


def barrier(group=None, async_op=False, device_ids=None):
    """Return once every rank has called ``barrier``."""
    return _finish(_group(group, 'barrier').barrier(), async_op)


# ---------------------------------------------------------------- failing loudly

def abort(reason, exit_code=1):
    """Tell every other rank that this one failed because of ``reason`` (they raise
    DistBackendError naming this rank, at their next collective), give them a few
    seconds to read it, then end the whole job with ``exit_code`` (MPI_Abort).
    minidl's own name: PyTorch has no such function."""
    pg = _group(None, 'abort')
    sys.stdout.flush()
    sys.stderr.flush()
    pg.watchdog.announce_failure(str(reason))
    pg.end_job(exit_code)


def _announce_uncaught(kind, value, tb):
    """sys.excepthook while a process group is up: print as usual, then abort."""
    (_previous_excepthook or sys.__excepthook__)(kind, value, tb)
    reason = ''.join(traceback.format_exception_only(kind, value)).strip()
    abort(f'{reason} (its traceback is in its output)', 1)
