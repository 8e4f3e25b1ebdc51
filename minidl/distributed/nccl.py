"""The NCCL process group: collectives between GPUs, through CuPy's ``cupy.cuda.nccl``.

One process per GPU, launched by ``mpiexec`` like the MPI backend. MPI does what NCCL
cannot do by itself: rank 0 makes NCCL's unique id and broadcasts it to every rank
(``ncclCommInitRank`` needs it), and the watchdog's messages (failures, timeouts) go
over MPI as in the MPI backend. The gradients themselves go over NCCL, GPU to GPU.

Each rank takes the GPU ``local rank % GPUs`` of its machine (the local rank is its
place among the ranks on the same machine, from ``MPI.COMM_TYPE_SHARED``), unless
``init_process_group(device_id=...)`` says otherwise.

NCCL collectives are queued on a CUDA stream of their own, after the work already
queued on the current stream (an event orders them); ``is_done`` asks the event
recorded after the collective, so waiting goes through the watchdog as with MPI.

Written against CuPy's API; verified only where several GPUs are at hand (the tests
skip otherwise).
"""
import numpy as np

from ..backend import Device, to_device
from .group import ProcessGroup, ReduceOp, copy_back
from .mpi import _mpi
from .watchdog import Watchdog


def _cupy_nccl():
    try:
        import cupy
        from cupy.cuda import nccl
    except ImportError as err:
        raise RuntimeError("minidl.distributed's NCCL backend needs CuPy built with NCCL "
                           "(pip install 'minidl[gpu]'; see docs/gpu.md)") from err
    if not getattr(nccl, 'available', True):
        raise RuntimeError("minidl.distributed's NCCL backend: this CuPy has no NCCL")
    return cupy, nccl


class NCCLProcessGroup(ProcessGroup):
    backend = 'nccl'

    def __init__(self, timeout, device_id=None):
        MPI = _mpi()
        cupy, nccl = self.cupy, self.nccl = _cupy_nccl()
        world = MPI.COMM_WORLD
        super().__init__(Watchdog(world.Dup(), timeout))
        if device_id is not None and not isinstance(device_id, int):
            device_id = Device(device_id).index          # 'cuda:1' or minidl.device('cuda:1')
        if device_id is None:
            local = world.Split_type(MPI.COMM_TYPE_SHARED)
            device_id = local.Get_rank() % cupy.cuda.runtime.getDeviceCount()
            local.Free()
        self.device_index = int(device_id)
        cupy.cuda.Device(self.device_index).use()
        unique_id = np.zeros(128, dtype=np.int8)     # NCCL_UNIQUE_ID_BYTES
        if self.rank == 0:
            unique_id[:] = nccl.get_unique_id()
        world.Bcast([unique_id, MPI.BYTE], root=0)
        self.comm = nccl.NcclCommunicator(self.size, tuple(int(b) for b in unique_id),
                                          self.rank)
        self.stream = cupy.cuda.Stream(non_blocking=True)
        self._ops = {ReduceOp.SUM: nccl.NCCL_SUM, ReduceOp.PRODUCT: nccl.NCCL_PROD,
                     ReduceOp.MIN: nccl.NCCL_MIN, ReduceOp.MAX: nccl.NCCL_MAX}
        self._types = {np.dtype(k): v for k, v in (
            ('int8', nccl.NCCL_INT8), ('uint8', nccl.NCCL_UINT8), ('int32', nccl.NCCL_INT32),
            ('uint32', nccl.NCCL_UINT32), ('int64', nccl.NCCL_INT64),
            ('uint64', nccl.NCCL_UINT64), ('float16', nccl.NCCL_FLOAT16),
            ('float32', nccl.NCCL_FLOAT32), ('float64', nccl.NCCL_FLOAT64))}

    def _buffer(self, array):
        device = f'cuda:{self.device_index}'
        on_gpu = to_device(array, device)
        buffer = on_gpu if on_gpu.flags.c_contiguous else self.cupy.ascontiguousarray(on_gpu)
        return buffer, copy_back(array, buffer)

    def _nccl_type(self, buffer):
        if buffer.dtype not in self._types:
            raise TypeError(f'NCCL backend: arrays of dtype {buffer.dtype} cannot be sent '
                            f'(supported: {", ".join(map(str, self._types))})')
        return self._types[buffer.dtype]

    def _enqueue(self, call, *buffers):
        """Run ``call(stream_pointer)`` on the NCCL stream after the current stream's
        work; return the test of an event recorded after it, which holds on to
        ``buffers`` (their memory must not be reused before NCCL is done with it)."""
        self.stream.wait_event(self.cupy.cuda.get_current_stream().record())
        call(self.stream.ptr)
        done = self.stream.record()

        def is_done(buffers=buffers):
            return done.done
        return is_done

    def _start_all_reduce(self, buffer, op):
        kind, ptr = self._nccl_type(buffer), buffer.data.ptr
        return self._enqueue(lambda s: self.comm.allReduce(ptr, ptr, buffer.size, kind,
                                                           self._ops[op], s), buffer)

    def _start_broadcast(self, buffer, src):
        kind, ptr = self._nccl_type(buffer), buffer.data.ptr
        return self._enqueue(lambda s: self.comm.broadcast(ptr, ptr, buffer.size, kind, src, s),
                             buffer)

    def _start_reduce(self, buffer, dst, op):
        kind, ptr = self._nccl_type(buffer), buffer.data.ptr
        return self._enqueue(lambda s: self.comm.reduce(ptr, ptr, buffer.size, kind,
                                                        self._ops[op], dst, s), buffer)

    def _start_all_gather(self, output, buffer):
        kind = self._nccl_type(buffer)
        return self._enqueue(lambda s: self.comm.allGather(buffer.data.ptr, output.data.ptr,
                                                           buffer.size, kind, s),
                             buffer, output)

    def _start_barrier(self):
        token = self.cupy.zeros(1, dtype=np.float32)
        return self._start_all_reduce(token, ReduceOp.SUM)

    def abort(self):
        if self.comm is not None:
            self.comm.abort()
            self.comm = None
