"""Model summaries: parameters, multiply-adds, FLOPs and bytes saved for backward, per layer.

    from minidl.profile import summary
    s = summary(model, (1, 3, 224, 224), backward=True)
    print(s)                      # a table in the spirit of torchinfo's
    s.total_macs, s.saved_bytes   # the totals

How the counting works. Nothing is guessed from module types: every operator call
reports its own ``Function.cost`` through the autograd apply hook, and the cost goes to
the innermost module running at that moment. A stack of module paths, pushed by a
forward pre-hook and popped by a forward hook on every module, says which that is.
So the operators a container's own ``forward`` runs (a residual add, a concatenation,
a flatten) land on the container's row, and a module's row holds only its *own*
parameters and operators: the columns add up to the totals.

Bytes saved for backward are measured, not declared: the arrays each recorded node's
context keeps (``ctx.saved_arrays()``), counted once per underlying memory block
(the base of a view, or the CuPy allocation) across the whole graph, with the
parameters excluded (they exist without any graph), as PyTorch's published figure is.
"""
from dataclasses import dataclass, field

import numpy as np

from .. import autograd
from ..autograd import Cost
from ..backend import Device, array_of
from ..creation import randn
from .memory import memory_report
from .table import format_summary
from .tracer import CostTracer, output_tensors, storage_of


# ---------------------------------------------------------------- the summary

@dataclass
class ModelSummary:
    """What ``summary`` found. Totals are attributes; ``str()`` is the table."""
    model_name: str
    input_shapes: list
    rows: list
    total_params: int
    trainable_params: int
    param_bytes: int
    total_macs: int
    forward_flops: int
    backward_input_flops: int
    backward_weight_flops: int
    saved_bytes: int
    transient_bytes: int
    input_bytes: int
    input_saved: bool               # whether an operator saved the input itself
    backward: bool                  # whether a graph was recorded and backward run
    memory: object = None           # a MemoryReport when memory=True
    notes: list = field(default_factory=list)
    ops: list = field(default_factory=list)             # OpRecords (backward=True)
    storage_bytes: dict = field(default_factory=dict)   # saved storage key -> bytes

    @property
    def backward_flops(self):
        return self.backward_input_flops + self.backward_weight_flops

    def row(self, path):
        """The row of the module at ``path`` ('' is the model)."""
        for r in self.rows:
            if r.path == path:
                return r
        raise KeyError(f'summary: no module at path {path!r}')

    def __str__(self):
        return format_summary(self)

    __repr__ = __str__


# ---------------------------------------------------------------- summary()

def _input_shapes(input_size, batch_dim):
    """A list of input shapes from a shape or a list of shapes; ``batch_dim`` inserts 1."""
    if all(isinstance(s, (int, np.integer)) for s in input_size):
        shapes = [tuple(int(s) for s in input_size)]
    else:
        shapes = [tuple(int(d) for d in s) for s in input_size]
    if batch_dim is not None:
        shapes = [s[:batch_dim] + (1,) + s[batch_dim:] for s in shapes]
    return shapes


def _unique_parameters(model):
    seen, params = set(), []
    for p in model.parameters():
        if id(p) not in seen:
            seen.add(id(p))
            params.append(p)
    return params


def _own_parameters(module):
    try:
        own = list(module.parameters(recurse=False))
    except TypeError:  # a Module without the recurse argument
        own = list(getattr(module, '_parameters', {}).values())
    return [p for p in own if p is not None]


def _model_arrays(model):
    """Every parameter and buffer array of the model (excluded from saved bytes)."""
    arrays = [p.array for p in model.parameters()]
    buffers = getattr(model, 'buffers', None)
    if buffers is not None:
        arrays += [a for a in (array_of(b) for b in buffers()) if a is not None]
    return arrays


def summary(model, input_size, device='cpu', backward=False, memory=False, dtype='float32',
            batch_dim=None, depth=None, optimizer=None):
    """Run ``model`` once on random inputs and count, per module, what it costs.

    ``input_size``: the input's shape, e.g. (1, 3, 224, 224), or a list of shapes for a
    model with several inputs; with ``batch_dim`` the shapes leave out the batch and a
    batch of 1 is inserted at that position. The model runs in its current mode
    (train or eval) on ``device``; inputs are random normal of ``dtype`` and do not
    require grad.

    backward=False: one forward pass under no_grad: parameters, output shapes, MACs
    and forward FLOPs. backward=True: the forward pass records the graph, then one
    backward pass runs on the sum of all outputs; this adds the backward FLOPs (split
    into input- and weight-gradient work, from the cost rules, where ``needs_input_grad``
    says a gradient is wanted: none for the model input) and the bytes saved for
    backward. memory=True (implies backward): also predicts the peak memory of one
    training step with ``optimizer`` (a minidl optimizer of the model's parameters; by
    default SGD with momentum 0.9) and measures it (see ``minidl.profile.memory``); the
    model's and the optimizer's state are restored afterwards.

    ``depth``: fold the rows deeper than this into their ancestor at that depth.
    """
    backward = backward or memory
    device = Device(device)
    if hasattr(model, 'to'):
        model.to(str(device))
    shapes = _input_shapes(input_size, batch_dim)
    inputs = [randn(*s, dtype=np.dtype(dtype), device=device) for s in shapes]

    params = _unique_parameters(model)
    tracer = CostTracer(model, exclude_arrays=_model_arrays(model))
    try:
        with tracer, autograd.set_grad_enabled(backward):
            output = model(*inputs)
    finally:
        tracer.close()
    input_keys = {storage_of(x.array)[0] for x in inputs}
    input_saved = bool(input_keys & tracer.saved_keys)
    if backward:
        outs = [t for t in output_tensors(output) if t.requires_grad]
        if outs:
            loss = outs[0].sum()
            for t in outs[1:]:
                loss = loss + t.sum()
            loss.backward()
            for p in params:
                p.grad = None  # the summary leaves no gradients behind
    del output

    rows = []
    for path, row in tracer.rows.items():
        own = _own_parameters(tracer.modules[path])
        row.params = sum(int(p.array.size) for p in own)
        row.trainable_params = sum(int(p.array.size) for p in own if p.requires_grad)
        rows.append(row)
    if depth is not None:
        rows = fold_rows(rows, depth)

    result = ModelSummary(
        model_name=type(model).__name__,
        input_shapes=shapes,
        rows=rows,
        total_params=sum(int(p.array.size) for p in params),
        trainable_params=sum(int(p.array.size) for p in params if p.requires_grad),
        param_bytes=sum(int(p.array.nbytes) for p in params),
        total_macs=sum(r.macs for r in rows),
        forward_flops=sum(r.forward_flops for r in rows),
        backward_input_flops=sum(r.backward_input_flops for r in rows),
        backward_weight_flops=sum(r.backward_weight_flops for r in rows),
        saved_bytes=sum(r.saved_bytes for r in rows),
        transient_bytes=max((r.transient_bytes for r in rows), default=0),
        input_bytes=sum(int(x.array.nbytes) for x in inputs),
        input_saved=input_saved,
        backward=backward,
        ops=tracer.ops,
        storage_bytes=tracer.storage_bytes)
    if memory:
        result.memory = memory_report(model, result, shapes, dtype, device, optimizer)
    return result


def fold_rows(rows, depth):
    """Rows no deeper than ``depth``; a deeper row's counts go to its ancestor at ``depth``."""
    kept = {}
    for row in rows:
        if row.depth <= depth:
            kept[row.path] = row
            continue
        ancestor = '.'.join(row.path.split('.')[:depth])
        target = kept[ancestor]
        target.params += row.params
        target.trainable_params += row.trainable_params
        target.add_cost(Cost(row.macs, row.forward_flops, row.backward_input_flops,
                             row.backward_weight_flops, row.transient_bytes))
        target.saved_bytes += row.saved_bytes
    return list(kept.values())
