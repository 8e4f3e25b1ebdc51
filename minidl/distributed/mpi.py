"""The MPI process group: collectives on mpi4py, between processes and machines.

mpi4py passes NumPy arrays to MPI through the buffer interface: the bytes go from the
array's memory to the network and back, nothing is pickled. Every collective is
started as MPI's non-blocking version (``Iallreduce``, ``Ibcast``, ``Ireduce``,
``Iallgather``, ``Ibarrier``) and waited for by the watchdog, which is how a failed or
stuck rank is noticed instead of waited for forever (see watchdog.py).

Two duplicates of ``MPI.COMM_WORLD`` are made: one carries the collectives, the other
only the watchdog's messages, so that neither can be mistaken for the other, nor for
a user's own MPI messages on ``COMM_WORLD``.

CuPy arrays are copied to the host and back (no CUDA-aware MPI is assumed); on GPUs
the NCCL backend is the fast path.
"""
import numpy as np

from ..backend import to_device
from .group import ProcessGroup, ReduceOp, copy_back
from .watchdog import Watchdog


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError as err:
        raise RuntimeError("minidl.distributed's MPI backend needs mpi4py and an MPI "
                           "library: pip install 'minidl[distributed]' (mpi4py and MPICH)"
                           ) from err
    return MPI


class MPIProcessGroup(ProcessGroup):
    backend = 'mpi'

    def __init__(self, timeout):
        MPI = self.MPI = _mpi()
        world = MPI.COMM_WORLD
        self.comm = world.Dup()
        super().__init__(Watchdog(world.Dup(), timeout))
        self._ops = {ReduceOp.SUM: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD,
                     ReduceOp.MIN: MPI.MIN, ReduceOp.MAX: MPI.MAX}

    def _buffer(self, array):
        host = to_device(array, 'cpu')
        buffer = host if host.flags.c_contiguous else np.ascontiguousarray(host)
        return buffer, copy_back(array, buffer)

    def _start_all_reduce(self, buffer, op):
        return self.comm.Iallreduce(self.MPI.IN_PLACE, buffer, op=self._ops[op]).Test

    def _start_broadcast(self, buffer, src):
        return self.comm.Ibcast(buffer, root=src).Test

    def _start_reduce(self, buffer, dst, op):
        send = self.MPI.IN_PLACE if self.rank == dst else buffer
        receive = buffer if self.rank == dst else None
        return self.comm.Ireduce(send, receive, op=self._ops[op], root=dst).Test

    def _start_all_gather(self, output, buffer):
        return self.comm.Iallgather(buffer, output).Test

    def _start_barrier(self):
        return self.comm.Ibarrier().Test

