"""DistributedDataParallel: the same model on every rank, each rank on its share of the batch.

    dist.init_process_group('mpi')
    model = DistributedDataParallel(model)      # every rank now holds rank 0's weights
    loss = F.cross_entropy(model(x_shard), y_shard)
    loss.backward()                             # .grad is the average over all ranks
    optimizer.step()                            # the same step on every rank

Why this equals training on one process: with the loss of each rank the mean over its
shard, and equal shards, the whole batch's mean loss is the average of the ranks'
losses, so its gradient is the average of the ranks' gradients. Averaging the
gradients, and starting from the same weights, keeps every rank's weights equal
after every step.

How the averaging is done. The parameters are put into buckets of about
``bucket_cap_mb`` megabytes, in the reverse of their order in the model (backward
reaches the last layers first). Each parameter has a post-accumulate-grad hook: when
backward has finished its gradient, the gradient is copied into its bucket's flat
buffer; when a bucket is full, one all-reduce of the whole buffer starts, without
waiting for it, while backward goes on with the earlier layers. When the last bucket
has started, DDP waits for all of them and copies the averages back into ``.grad``.
Buckets start in their order on every rank (a later bucket that is ready first waits
for the earlier ones), since MPI needs every rank to start collectives in one order.
"""
import contextlib
import zlib

import numpy as np

from ... import distributed as dist
from ...autograd import is_grad_enabled, no_grad
from ...backend import get_array_module
from ...tensor import Tensor
from ..module import Module

DEFAULT_BUCKET_CAP_MB = 25   # PyTorch's


class _Bucket:
    """Parameters whose gradients travel in one all-reduce, and the flat buffer for it."""

    def __init__(self, index, params, names):
        self.index, self.params, self.names = index, params, names
        self.offsets = np.cumsum([0] + [p.numel() for p in params]).tolist()
        self.buffer = None       # made at the first backward, on the parameters' device
        self.pending = 0         # parameters whose gradient has not arrived yet
        self.arrived = None      # True for each parameter whose gradient (or None) is in
        self.used = None         # 1 for each parameter that got a gradient on this rank
        self.work = None         # the all-reduce in flight

    def reset(self):
        self.pending = len(self.params)
        self.arrived = np.zeros(len(self.params), dtype=bool)
        self.used = np.zeros(len(self.params), dtype=np.float64)
        self.work = None
        first = self.params[0].array
        if (self.buffer is None or self.buffer.dtype != first.dtype
                or type(self.buffer) is not type(first)):   # new, or the model was moved
            self.buffer = get_array_module(first).zeros(self.offsets[-1], dtype=first.dtype)

    def put(self, slot, grad):
        """The gradient of parameter ``slot`` (None: it got none here: zeros)."""
        start, stop = self.offsets[slot], self.offsets[slot + 1]
        if grad is None:
            self.buffer[start:stop] = 0
        else:
            self.buffer[start:stop] = grad.array.reshape(-1)
            self.used[slot] = 1
        self.arrived[slot] = True
        self.pending -= 1


class DistributedDataParallel(Module):
    """Data parallelism over the ranks of ``minidl.distributed`` (``torch.nn.parallel.
    DistributedDataParallel``): wrap the model once every rank has called
    ``init_process_group``.

    Arguments:
        module: the model; its parameters and buffers are overwritten with rank 0's
            now (``init_sync``), so the ranks may build it with different seeds.
        device_ids, output_device: accepted for PyTorch's code; the model's device is
            wherever its parameters are (one device per process).
        broadcast_buffers: at every forward that will be followed by a gradient sync,
            copy rank 0's buffers (BatchNorm's running statistics) to every rank.
        bucket_cap_mb: the size of a bucket of gradients, in MB (default 25).
        find_unused_parameters: after each forward, walk the graph from the output and
            count the parameters it did not reach as ready (their gradient zero);
            without it, a parameter that gets no gradient stops the next forward with
            an error naming it.

    ``module`` is the wrapped model; ``state_dict()`` has PyTorch's ``module.`` prefix.
    ``no_sync()`` turns the averaging off for gradient accumulation. Raises ValueError
    when the ranks' models differ in their parameters.
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0,
                 broadcast_buffers=True, init_sync=True, process_group=None,
                 bucket_cap_mb=None, find_unused_parameters=False):
        super().__init__()
        if not dist.is_initialized():
            raise ValueError('DistributedDataParallel: Default process group has not been '
                             'initialized, please make sure to call init_process_group.')
        if dim != 0:
            raise ValueError(f'DistributedDataParallel: dim={dim}; minidl splits batches '
                             f'along dimension 0 only')
        self.module = module
        self.process_group = process_group or dist.group.WORLD
        self.device_ids, self.output_device = device_ids, output_device
        self.broadcast_buffers = bool(broadcast_buffers)
        self.find_unused_parameters = bool(find_unused_parameters)
        self.bucket_cap_mb = DEFAULT_BUCKET_CAP_MB if bucket_cap_mb is None else bucket_cap_mb
        self.require_backward_grad_sync = True
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        self._check_same_model_on_every_rank(named)
        if init_sync:
            with no_grad():
                self._broadcast([p.array for _, p in named] +
                                [b.array for b in module.buffers()])
        self._buckets = self._make_buckets(named)
        self._expecting_grads = False   # between a syncing forward and the end of its backward
        self._next_bucket = 0           # the next bucket to start, in order
        self._hooks = []
        for bucket in self._buckets:
            for slot, p in enumerate(bucket.params):
                self._hooks.append(p.register_post_accumulate_grad_hook(
                    self._make_hook(bucket, slot)))

    # ------------------------------------------------------------ construction
    def _check_same_model_on_every_rank(self, named):
        pg = self.process_group
        shapes = ';'.join(f'{n}{tuple(p.shape)}{p.dtype}' for n, p in named)
        mine = np.array([len(named), sum(p.numel() for _, p in named),
                         zlib.crc32(shapes.encode())], dtype=np.int64)
        every = np.empty((pg.size, 3), dtype=np.int64)
        pg.all_gather(every, mine).wait()
        for r in range(pg.size):
            if (every[r] != every[0]).any():
                raise ValueError(
                    f'DistributedDataParallel: the ranks have different models: rank 0 has '
                    f'{every[0][0]} parameters ({every[0][1]} values), rank {r} has '
                    f'{every[r][0]} ({every[r][1]} values), or other names, shapes or dtypes')

    def _broadcast(self, arrays):
        """Rank 0's values into ``arrays`` on every rank, one broadcast per dtype/device."""
        groups = {}
        for a in arrays:
            groups.setdefault((a.dtype, type(a)), []).append(a)
        for same in groups.values():
            xp = get_array_module(same[0])
            flat = xp.concatenate([a.reshape(-1) for a in same])
            self.process_group.broadcast(flat, 0).wait()
            start = 0
            for a in same:
                a[...] = flat[start:start + a.size].reshape(a.shape)
                start += a.size

    def _make_buckets(self, named):
        """Buckets of about bucket_cap_mb, in reverse parameter order, one dtype and
        device per bucket."""
        cap = self.bucket_cap_mb * 2 ** 20
        buckets, params, names, size = [], [], [], 0
        for name, p in reversed(named):
            if params and (size + p.array.nbytes > cap or p.dtype != params[0].dtype
                           or p.device != params[0].device):
                buckets.append(_Bucket(len(buckets), params, names))
                params, names, size = [], [], 0
            params.append(p)
            names.append(name)
            size += p.array.nbytes
        if params:
            buckets.append(_Bucket(len(buckets), params, names))
        return buckets

    # ------------------------------------------------------------ forward
    def forward(self, *inputs, **kwargs):
        if self._expecting_grads:
            self._raise_unfinished()
        sync = is_grad_enabled() and self.require_backward_grad_sync and bool(self._buckets)
        if sync and self.broadcast_buffers:
            buffers = [b.array for b in self.module.buffers()]
            if buffers:
                self._broadcast(buffers)
        output = self.module(*inputs, **kwargs)
        if sync:
            self._prepare_for_backward(output)
        return output

    def _prepare_for_backward(self, output):
        self._expecting_grads = True
        self._next_bucket = 0
        for bucket in self._buckets:
            bucket.reset()
        if self.find_unused_parameters:
            reached = _leaves_reached(output)
            for bucket in self._buckets:
                for slot, p in enumerate(bucket.params):
                    if id(p) not in reached:
                        bucket.put(slot, None)
            self._start_ready_buckets()

    def _raise_unfinished(self):
        missing = [name for bucket in self._buckets
                   for name, arrived in zip(bucket.names, bucket.arrived) if not arrived]
        self._expecting_grads = False
        raise RuntimeError(
            f'DistributedDataParallel (rank {self.process_group.rank}): the previous forward '
            f'was not followed by a backward that gave every parameter a gradient, so the '
            f'gradients were not averaged. Parameters without a gradient: '
            f'{", ".join(missing)}. Call backward after each forward (or run the forward '
            f'under minidl.no_grad()), and pass find_unused_parameters=True if some '
            f'parameters take no part in the loss.')

    # ------------------------------------------------------------ backward
    def _make_hook(self, bucket, slot):
        def gradient_ready(param):
            if not self._expecting_grads:    # no_sync(), eval, or a backward without forward
                return
            bucket.put(slot, param.grad)
            self._start_ready_buckets()
        return gradient_ready

    def _start_ready_buckets(self):
        """Start the all-reduce of every full bucket whose turn it is; after the last one,
        wait for all and put the averages into .grad."""
        while (self._next_bucket < len(self._buckets)
               and self._buckets[self._next_bucket].pending == 0):
            bucket = self._buckets[self._next_bucket]
            bucket.work = self.process_group.all_reduce(bucket.buffer, dist.ReduceOp.AVG)
            self._next_bucket += 1
        for bucket in self._buckets[:self._next_bucket]:
            bucket.work.is_completed()       # lets MPI move the messages along meanwhile
        if self._next_bucket == len(self._buckets):
            self._expecting_grads = False
            self._finish()

    def _finish(self):
        used = None
        if self.find_unused_parameters:   # which parameters got a gradient on some rank
            used = np.concatenate([b.used for b in self._buckets])
            self.process_group.all_reduce(used, dist.ReduceOp.MAX).wait()
        first = 0
        for bucket in self._buckets:
            bucket.work.wait()
            for slot, p in enumerate(bucket.params):
                if used is not None and not used[first + slot]:
                    continue                 # no rank used it: its .grad stays as it was
                average = bucket.buffer[bucket.offsets[slot]:bucket.offsets[slot + 1]]
                if p.grad is None:
                    p.grad = Tensor(average.reshape(p.shape).copy())
                else:
                    p.grad.array[...] = average.reshape(p.shape)
            first += len(bucket.params)

    # ------------------------------------------------------------ gradient accumulation
    @contextlib.contextmanager
    def no_sync(self):
        """Inside, gradients accumulate on each rank without being averaged; the first
        backward after it averages the accumulated gradients."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous


def _leaves_reached(output):
    """ids of the leaf tensors that backward from ``output`` (tensors in any nesting of
    tuples, lists and dicts) would reach."""
    roots = []

    def collect(value):
        if isinstance(value, Tensor):
            roots.append(value)
        elif isinstance(value, dict):
            for v in value.values():
                collect(v)
        elif isinstance(value, (tuple, list)):
            for v in value:
                collect(v)
    collect(output)
    reached, seen = set(), set()
    stack = [t.grad_fn for t in roots if t.grad_fn is not None]
    reached.update(id(t) for t in roots if t.grad_fn is None and t.requires_grad)
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        for edge in node.next_functions:
            if type(edge) is tuple:
                stack.append(edge[0])
            elif edge is not None:
                reached.add(id(edge))
    return reached
