"""Peak memory of one training step: predicted from the summary, and measured.

The terms of a training step (forward, backward, the optimizer's update; SGD with
momentum 0.9 unless another optimizer is given):

    parameters + gradients + optimizer state + input batch (when no operator saved it)
    + bytes saved for backward + the largest scratch buffer of one operator

The optimizer state is what the optimizer says it keeps: ``param_state_arrays`` arrays
the size of each parameter (SGD with momentum 1, Adam 2, Adam with amsgrad 3), so the
profiler knows no optimizer by name. Added up all at once the terms make the simple
estimate ``sum_of_terms_bytes``, which is off both ways: the gradients fill in while the
saved arrays are released, the largest scratch buffer (im2col's column matrix, from
``Cost.transient_bytes``) belongs to one operator, and the activation gradients in
flight are left out. The prediction (``predicted_peak_bytes``) counts each term at the
moment it is live, walking the recorded operators as the engine will: forward in order,
backward in reverse, then the update.

    forward, operator i:  base + saved by operators 1..i + its output
    backward, operator i: base + saved arrays still held (an array is released after the
                          backward of the last operator that keeps it) + parameter
                          gradients made so far + its output gradient + the gradients it
                          returns + its scratch
    update:               base + all gradients + the temporaries of one parameter's
                          update (``update_scratch_arrays`` times the largest parameter)

with base = parameters + optimizer state + the input. The largest of these is the
predicted peak.

Measured peak: the same step run for real, after one warm-up step that creates the
optimizer's state (so the measured step is a steady-state one), with the gradients set
to None before it as ``zero_grad()`` does. On the CPU, NumPy reports every buffer it
allocates to ``tracemalloc``; on a GPU a CuPy memory hook follows the pool's
allocations. Arrays that existed before tracing began (the parameters, the input
batch, state an optimizer made before) are added by their sizes.
"""
import gc
import tracemalloc
from dataclasses import dataclass

import numpy as np

from ..backend import Device, is_array, random_integers
from ..tensor import Tensor
from ..creation import randn
from .tracer import output_tensors, storage_of
from .table import megabytes


@dataclass
class MemoryReport:
    param_bytes: int
    grad_bytes: int
    state_bytes: int          # the optimizer's per-parameter state
    input_bytes: int          # 0 when the input is already among the saved arrays
    saved_bytes: int
    transient_bytes: int
    predicted_peak_bytes: int
    measured_peak_bytes: int
    tool: str
    optimizer: str            # as ``describe`` names it

    @property
    def sum_of_terms_bytes(self):
        """Every term counted at once (no activation gradients): the simple estimate."""
        return (self.param_bytes + self.grad_bytes + self.state_bytes + self.input_bytes
                + self.saved_bytes + self.transient_bytes)

    @property
    def ratio(self):
        """measured / predicted."""
        return self.measured_peak_bytes / self.predicted_peak_bytes

    def lines(self):
        return [
            f'Training step memory ({self.optimizer}; cross-entropy loss):',
            f'  terms: parameters {megabytes(self.param_bytes)}, gradients '
            f'{megabytes(self.grad_bytes)}, optimizer state {megabytes(self.state_bytes)}, input '
            f'{megabytes(self.input_bytes)}, saved for backward {megabytes(self.saved_bytes)}, '
            f'largest scratch buffer {megabytes(self.transient_bytes)}; all at once '
            f'{megabytes(self.sum_of_terms_bytes)}',
            f'  predicted peak {megabytes(self.predicted_peak_bytes)} (each term counted while '
            f'it is live, operator by operator)',
            f'  measured peak  {megabytes(self.measured_peak_bytes)} ({self.tool}); '
            f'measured / predicted = {self.ratio:.3f}']


def predict_peak(summary, state_bytes, input_bytes, grad_bytes, update_scratch_bytes):
    """The predicted peak of a training step from the recorded operators (module
    docstring): ``state_bytes`` of optimizer state, ``grad_bytes`` of parameter gradients
    at the update, and at most ``update_scratch_bytes`` of temporaries in the update of
    one parameter."""
    ops, sizes = summary.ops, summary.storage_bytes
    base = summary.param_bytes + state_bytes + input_bytes
    peak, saved, held = base, 0, set()
    for op in ops:
        for key in op.saved_keys:
            if key not in held:
                held.add(key)
                saved += sizes[key]
        peak = max(peak, base + saved + op.output_bytes)
    users = {}
    for op in ops:
        for key in set(op.saved_keys):
            users[key] = users.get(key, 0) + 1
    grads = 0
    for op in reversed(ops):
        peak = max(peak, base + saved + grads + op.output_bytes + op.input_grad_bytes
                   + op.param_grad_bytes + op.transient_bytes)
        grads += op.param_grad_bytes
        for key in set(op.saved_keys):
            users[key] -= 1
            if users[key] == 0:
                saved -= sizes[key]
    return max(peak, base + grad_bytes + update_scratch_bytes)


def describe(optimizer):
    """'Adam, 2 state arrays per parameter': an optimizer as the report names it."""
    counts = sorted({optimizer.param_state_arrays(g) for g in optimizer.param_groups})
    arrays = ' or '.join(str(c) for c in counts)
    return f'{type(optimizer).__name__}, {arrays} state array{"s" * (counts != [1])} per parameter'


# ---------------------------------------------------------------- trackers

class _HostTracker:
    """Traced NumPy memory through tracemalloc (NumPy reports its buffers to it)."""
    tool = 'tracemalloc'

    def __enter__(self):
        self.started_here = not tracemalloc.is_tracing()
        if self.started_here:
            tracemalloc.start()
        self.offset = tracemalloc.get_traced_memory()[0]
        return self

    def reset_peak(self):
        tracemalloc.reset_peak()

    def current(self):
        return tracemalloc.get_traced_memory()[0] - self.offset

    def peak(self):
        return tracemalloc.get_traced_memory()[1] - self.offset

    def __exit__(self, *exc):
        if self.started_here:
            tracemalloc.stop()
        return False


def _cupy_tracker():
    """A cupy.cuda.MemoryHook that follows the bytes the memory pool hands out."""
    import cupy

    class PeakMemoryHook(cupy.cuda.MemoryHook):
        name = 'MinidlPeakMemoryHook'
        tool = 'cupy MemoryHook'

        def __init__(self):
            super().__init__()
            self.in_use = 0
            self.top = 0

        def malloc_postprocess(self, device_id, size, mem_size, mem_ptr, pmem_id):
            self.in_use += mem_size
            self.top = max(self.top, self.in_use)

        def free_postprocess(self, device_id, mem_size, mem_ptr, pmem_id):
            self.in_use -= mem_size

        def reset_peak(self):
            cupy.cuda.Device().synchronize()
            self.top = self.in_use

        def current(self):
            return self.in_use

        def peak(self):
            cupy.cuda.Device().synchronize()
            return self.top

    return PeakMemoryHook()


def _tracker(device):
    return _cupy_tracker() if Device(device).type == 'cuda' else _HostTracker()


# ---------------------------------------------------------------- one training step

def classification_targets(output_shape, device):
    """Random class indices for a (N, classes) output, None for any other output."""
    shape = output_shape[0] if isinstance(output_shape, list) else output_shape
    if shape is None or len(shape) != 2:
        return None
    return Tensor(random_integers(0, shape[1], (shape[0],), Device(device), np.dtype('int64')))


def training_loss(output, target):
    """Cross-entropy of every (N, classes) output against ``target`` (summed), or the sum
    of the outputs when there are no targets."""
    from .. import functional as F
    loss = None
    for t in output_tensors(output):
        term = F.cross_entropy(t, target) if target is not None and t.ndim == 2 else t.sum()
        loss = term if loss is None else loss + term
    return loss


def measure_training_peak(model, inputs, target=None, lr=0.01, momentum=0.9, optimizer=None):
    """Measured peak bytes of one steady-state training step (forward, backward, the
    optimizer's step) of ``model`` on ``inputs``; ``optimizer`` is a minidl optimizer of
    the model's parameters, by default SGD with ``lr`` and ``momentum``. The model's
    parameters, buffers and gradients, and the optimizer's state, are as they were
    afterwards. Returns (peak_bytes, tool)."""
    from ..optim import SGD
    params = [p for p in model.parameters() if p.requires_grad]
    snapshot = {k: _copy(v) for k, v in model.state_dict().items()}
    if optimizer is None:
        optimizer = SGD(params, lr=lr, momentum=momentum)
    optimizer_snapshot = optimizer.state_dict()

    def step():
        loss = training_loss(model(*inputs), target)
        loss.backward()
        optimizer.step()

    def clear_grads():
        for p in params:
            p.grad = None

    tracker = _tracker(inputs[0].device)
    before = [storage_of(p.array)[0] for p in params]
    # state the optimizer made before tracing (Adagrad's, at construction)
    untraced_state = sum(int(v.nbytes) for entries in optimizer.state.values()
                         for v in entries.values() if is_array(v))
    try:
        with tracker:
            clear_grads()
            step()                      # warm-up: creates the optimizer's state
            clear_grads()
            gc.collect()
            tracker.reset_peak()
            step()
            traced_peak = tracker.peak()
            # parameters updated in place were allocated before tracing: add them
            untraced = [p for p, key in zip(params, before) if storage_of(p.array)[0] == key]
            frozen = [p for p in model.parameters() if not p.requires_grad]
            baseline = (sum(int(p.array.nbytes) for p in untraced + frozen)
                        + sum(int(x.array.nbytes) for x in inputs)
                        + (int(target.array.nbytes) if target is not None else 0)
                        + untraced_state)
    finally:
        clear_grads()
        model.load_state_dict(snapshot)
        optimizer.load_state_dict(optimizer_snapshot)
    return baseline + traced_peak, tracker.tool


def _copy(value):
    data = value.array if isinstance(value, Tensor) else value
    return data.copy()


def memory_report(model, summary, shapes, dtype, device, optimizer=None):
    """Predicted and measured training-step peak for ``summary``'s model and inputs, with
    ``optimizer`` (a minidl optimizer of the model's parameters; default SGD, momentum
    0.9), whose stated state and update temporaries enter the prediction."""
    from ..optim import SGD
    trainable = [p for p in model.parameters() if p.requires_grad]
    if optimizer is None:
        optimizer = SGD(trainable, lr=0.01, momentum=0.9)
    grad_bytes = sum(int(p.array.nbytes) for p in trainable)
    input_bytes = 0 if summary.input_saved else summary.input_bytes
    scratch_bytes = max((optimizer.update_scratch_arrays(group) * int(p.array.nbytes)
                         for group in optimizer.param_groups for p in group['params']), default=0)
    state_bytes = optimizer.state_bytes()
    root = summary.rows[0]
    inputs = [randn(*s, dtype=np.dtype(dtype), device=device) for s in shapes]
    target = classification_targets(root.output_shape, device)
    measured, tool = measure_training_peak(model, inputs, target, optimizer=optimizer)
    return MemoryReport(param_bytes=summary.param_bytes, grad_bytes=grad_bytes,
                        state_bytes=state_bytes, input_bytes=input_bytes,
                        saved_bytes=summary.saved_bytes,
                        transient_bytes=summary.transient_bytes,
                        predicted_peak_bytes=predict_peak(summary, state_bytes, input_bytes,
                                                          grad_bytes, scratch_bytes),
                        measured_peak_bytes=measured, tool=tool, optimizer=describe(optimizer))
