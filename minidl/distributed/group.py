"""ProcessGroup: the collectives of one group of ranks on raw arrays, and Work.

A backend (``mpi.py``, ``nccl.py``) says how to start each collective on a buffer it
can use (``_start_all_reduce`` ...) and returns a test ``is_done()``; this base class
does what is common to both: checking arguments, moving an array the backend cannot
use as it is into a buffer it can (and the result back), averaging (a sum, then a
division, since MPI has no average), numbering the collectives so that errors can
say which one, and waiting through the watchdog.
"""
import time

import numpy as np

from ..backend import device_of, to_device

# how long a rank that ends the job waits for the launcher to forward its last output
_OUTPUT_DRAIN_SECONDS = 0.5


class ReduceOp:
    """How ``all_reduce`` and ``reduce`` combine the ranks' values (torch.distributed.ReduceOp)."""
    SUM = 'sum'
    PRODUCT = 'product'
    MIN = 'min'
    MAX = 'max'
    AVG = 'avg'

    ALL = (SUM, PRODUCT, MIN, MAX, AVG)


def check_op(op, dtype, name):
    op = str(op).lower()
    if op not in ReduceOp.ALL:
        raise ValueError(f'{name}: unknown reduce operation {op!r}; expected one of '
                         f'{", ".join(ReduceOp.ALL)} (minidl.distributed.ReduceOp)')
    if op == ReduceOp.AVG and np.dtype(dtype).kind not in 'fc':
        raise TypeError(f'{name}: ReduceOp.AVG needs a floating-point tensor, got {dtype}')
    return op


class Work:
    """A collective in flight (``torch.distributed.Work``): ``wait()`` blocks until it is
    done (through the watchdog: another rank's failure or the timeout raise
    DistBackendError), ``is_completed()`` asks without blocking. ``finish`` steps run
    once, when it is seen to be done (copying results into place, averaging)."""

    def __init__(self, watchdog, is_done, name, *finish):
        self._watchdog, self._is_done, self.name = watchdog, is_done, name
        self._steps = [step for step in finish if step is not None]
        self._finished = False

    def then(self, step):
        """Run ``step()`` after the collective and the steps before it; returns self."""
        self._steps.append(step)
        return self

    def is_completed(self):
        if not self._finished and self._is_done():
            self._complete()
        return self._finished

    def wait(self, timeout=None):
        if not self._finished:
            self._watchdog.wait(self._is_done, self.name)
            self._complete()
        return True

    def _complete(self):
        self._finished = True
        for step in self._steps:
            step()

    def __repr__(self):
        return f'<Work {self.name}{" done" if self._finished else ""}>'


class ProcessGroup:
    """Every rank of the job (minidl has no sub-groups). ``rank`` and ``size`` as in MPI;
    the collectives take raw NumPy/CuPy arrays, work in place, and return a Work."""
    backend = None

    def __init__(self, watchdog):
        self.watchdog = watchdog
        self.rank, self.size = watchdog.rank, watchdog.size
        self._started = 0    # collectives started so far, to name them: 'all_reduce #57'

    # ---------------------------------------------------------- what a backend provides
    def _buffer(self, array):
        """(buffer, write_back): a contiguous buffer with ``array``'s values that the
        backend can use, and a function that copies the result back into ``array``
        (a no-op when the buffer is the array itself)."""
        raise NotImplementedError

    def _start_all_reduce(self, buffer, op):
        raise NotImplementedError

    def _start_broadcast(self, buffer, src):
        raise NotImplementedError

    def _start_reduce(self, buffer, dst, op):
        raise NotImplementedError

    def _start_all_gather(self, output, buffer):
        raise NotImplementedError

    def _start_barrier(self):
        raise NotImplementedError

    def abort(self):
        """Stop the backend's own communication at once (before the job is ended)."""

    def end_job(self, exit_code):
        """End every process of the job now (MPI_Abort, which the launcher carries out).
        The launcher forwards each rank's output through pipes; MPI_Abort tears them
        down, so this rank's last lines (its error) get a moment to pass first."""
        self.abort()
        time.sleep(_OUTPUT_DRAIN_SECONDS)
        self.watchdog.MPI.COMM_WORLD.Abort(exit_code)

    # ---------------------------------------------------------- the collectives
    def _work(self, name, is_done, finish=None):
        self._started += 1
        return Work(self.watchdog, is_done, f'{name} #{self._started}', finish)

    def _check_rank(self, rank, what, name):
        if not isinstance(rank, (int, np.integer)) or not 0 <= rank < self.size:
            raise ValueError(f'{name}: {what}={rank!r} is not a rank of this job '
                             f'(0..{self.size - 1})')

    def all_reduce(self, array, op=ReduceOp.SUM):
        """Every rank gets the elementwise combination of all ranks' ``array``."""
        op = check_op(op, array.dtype, 'all_reduce')
        buffer, write_back = self._buffer(array)
        is_done = self._start_all_reduce(buffer, ReduceOp.SUM if op == ReduceOp.AVG else op)

        def finish():
            if op == ReduceOp.AVG:
                buffer[...] /= self.size
            write_back()
        return self._work('all_reduce', is_done, finish)

    def broadcast(self, array, src):
        """Every rank gets rank ``src``'s ``array``."""
        self._check_rank(src, 'src', 'broadcast')
        buffer, write_back = self._buffer(array)
        return self._work('broadcast', self._start_broadcast(buffer, src), write_back)

    def reduce(self, array, dst, op=ReduceOp.SUM):
        """Rank ``dst`` gets the combination of all ranks' ``array``; the others' arrays
        are left as they were."""
        self._check_rank(dst, 'dst', 'reduce')
        op = check_op(op, array.dtype, 'reduce')
        buffer, write_back = self._buffer(array)
        is_done = self._start_reduce(buffer, dst, ReduceOp.SUM if op == ReduceOp.AVG else op)

        def finish():
            if self.rank == dst:
                if op == ReduceOp.AVG:
                    buffer[...] /= self.size
                write_back()
        return self._work('reduce', is_done, finish)

    def all_gather(self, output, array):
        """``output[r]`` = rank r's ``array`` on every rank; ``output`` has shape
        (size, *array.shape) and ``array``'s dtype."""
        expected = (self.size,) + tuple(array.shape)
        if tuple(output.shape) != expected or output.dtype != array.dtype:
            raise ValueError(f'all_gather: output has shape {tuple(output.shape)} and dtype '
                             f'{output.dtype}; expected {expected} and {array.dtype}')
        buffer, _ = self._buffer(array)
        out_buffer, write_back = self._buffer(output)
        return self._work('all_gather', self._start_all_gather(out_buffer, buffer), write_back)

    def barrier(self):
        """Done once every rank has called it."""
        return self._work('barrier', self._start_barrier())


def copy_back(array, buffer):
    """A write_back function for ``_buffer``: copy ``buffer`` (maybe on another device)
    into ``array``, unless they are the same array."""
    if buffer is array:
        return lambda: None

    def write_back():
        array[...] = to_device(buffer, device_of(array)).reshape(array.shape)
    return write_back
