"""Peak memory of one training step: predicted from the summary, and measured.

The terms of a training step with SGD and momentum (forward, backward, update):

    parameters + gradients + momentum buffers + input batch (when no operator saved it)
    + bytes saved for backward + the largest scratch buffer of one operator

Added up all at once they make the simple estimate ``sum_of_terms_bytes``, which is
off both ways: the gradients fill in while the saved arrays are released, the largest
scratch buffer (im2col's column matrix, from ``Cost.transient_bytes``) belongs to one
operator, and the activation gradients in flight are left out. The prediction
(``predicted_peak_bytes``) counts each term at the moment it is live, walking the
recorded operators as the engine will: forward in order, backward in reverse, then
the update.

    forward, operator i:  base + saved by operators 1..i + its output
    backward, operator i: base + saved arrays still held (an array is released after the
                          backward of the last operator that keeps it) + parameter
                          gradients made so far + its output gradient + the gradients it
                          returns + its scratch
    update:               base + all gradients + one parameter-sized temporary

with base = parameters + momentum buffers + the input. The largest of these is the
predicted peak.

Measured peak: the same step run for real, after one warm-up step that creates the
momentum buffers (so the measured step is a steady-state one), with the gradients set
to None before it as ``zero_grad()`` does. On the CPU, NumPy reports every buffer it
allocates to ``tracemalloc``; on a GPU a CuPy memory hook follows the pool's
allocations. Arrays that existed before tracing began (the parameters, the input
batch) are added by their sizes.
"""
import gc
import tracemalloc
from dataclasses import dataclass

import numpy as np

from ..backend import Device, random_integers
from ..tensor import Tensor, randn
from .summary import output_tensors, storage_of
from .table import megabytes


@dataclass
class MemoryReport:
    param_bytes: int
    grad_bytes: int
    momentum_bytes: int
    input_bytes: int          # 0 when the input is already among the saved arrays
    saved_bytes: int
    transient_bytes: int
    predicted_peak_bytes: int
    measured_peak_bytes: int
    tool: str

    @property
    def sum_of_terms_bytes(self):
        """Every term counted at once (no activation gradients): the simple estimate."""
        return (self.param_bytes + self.grad_bytes + self.momentum_bytes + self.input_bytes
                + self.saved_bytes + self.transient_bytes)

    @property
    def ratio(self):
        """measured / predicted."""
        return self.measured_peak_bytes / self.predicted_peak_bytes

    def lines(self):
        return [
            'Training step memory (SGD, momentum 0.9; cross-entropy loss):',
            f'  terms: parameters {megabytes(self.param_bytes)}, gradients '
            f'{megabytes(self.grad_bytes)}, momentum {megabytes(self.momentum_bytes)}, input '
            f'{megabytes(self.input_bytes)}, saved for backward {megabytes(self.saved_bytes)}, '
            f'largest scratch buffer {megabytes(self.transient_bytes)}; all at once '
            f'{megabytes(self.sum_of_terms_bytes)}',
            f'  predicted peak {megabytes(self.predicted_peak_bytes)} (each term counted while '
            f'it is live, operator by operator)',
            f'  measured peak  {megabytes(self.measured_peak_bytes)} ({self.tool}); '
            f'measured / predicted = {self.ratio:.3f}']


def predict_peak(summary, momentum_bytes, input_bytes, largest_param_bytes):
    """The predicted peak of a training step from the recorded operators (module docstring)."""
    ops, sizes = summary.ops, summary.storage_bytes
    base = summary.param_bytes + momentum_bytes + input_bytes
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
    # the update: every gradient (one per momentum buffer) and one temporary
    return max(peak, base + momentum_bytes + largest_param_bytes)


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


def measure_training_peak(model, inputs, target=None, lr=0.01, momentum=0.9):
    """Measured peak bytes of one steady-state training step (forward, backward, SGD
    step with momentum) of ``model`` on ``inputs``. The model's parameters, buffers and
    gradients are as they were afterwards. Returns (peak_bytes, tool)."""
    from ..optim import SGD
    params = [p for p in model.parameters() if p.requires_grad]
    snapshot = {k: _copy(v) for k, v in model.state_dict().items()}
    optimizer = SGD(params, lr=lr, momentum=momentum)

    def step():
        loss = training_loss(model(*inputs), target)
        loss.backward()
        optimizer.step()

    def clear_grads():
        for p in params:
            p.grad = None

    tracker = _tracker(inputs[0].device)
    before = [storage_of(p.array)[0] for p in params]
    try:
        with tracker:
            clear_grads()
            step()                      # warm-up: creates the momentum buffers
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
                        + (int(target.array.nbytes) if target is not None else 0))
    finally:
        clear_grads()
        model.load_state_dict(snapshot)
    return baseline + traced_peak, tracker.tool


def _copy(value):
    data = value.array if isinstance(value, Tensor) else value
    return data.copy()


def memory_report(model, summary, shapes, dtype, device):
    """Predicted and measured training-step peak for ``summary``'s model and inputs."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    grad_bytes = sum(int(p.array.nbytes) for p in trainable)
    input_bytes = 0 if summary.input_saved else summary.input_bytes
    largest = max((int(p.array.nbytes) for p in trainable), default=0)
    root = summary.rows[0]
    inputs = [randn(*s, dtype=np.dtype(dtype), device=device) for s in shapes]
    target = classification_targets(root.output_shape, device)
    measured, tool = measure_training_peak(model, inputs, target)
    return MemoryReport(param_bytes=summary.param_bytes, grad_bytes=grad_bytes,
                        momentum_bytes=grad_bytes, input_bytes=input_bytes,
                        saved_bytes=summary.saved_bytes,
                        transient_bytes=summary.transient_bytes,
                        predicted_peak_bytes=predict_peak(summary, grad_bytes, input_bytes,
                                                          largest),
                        measured_peak_bytes=measured, tool=tool)
