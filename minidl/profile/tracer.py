"""The cost tracer: which module runs each operator, and what each operator costs and keeps.

Every operator call reports its own ``Function.cost`` through the autograd apply hook
(``autograd.register_apply_hook``); the tracer gives it to the innermost module running
at that moment, which a stack of module paths (pushed by a forward pre-hook, popped by a
forward hook on every module) names. ``summary.py`` turns its rows into a
ModelSummary, ``memory.py`` its operator records into a memory timeline.
"""
from dataclasses import dataclass

import numpy as np

from .. import autograd
from ..autograd import Cost
from ..backend import is_array
from ..tensor import Tensor


# ---------------------------------------------------------------- memory identity of arrays

def storage_of(array):
    """(key, nbytes) of the memory block behind ``array``: views of one block share a key.

    NumPy: follow ``.base`` (views, reshapes, the wrapper ``as_strided`` leaves) down to
    the array that owns the data; CuPy: the allocation the array points into.
    """
    mem = getattr(getattr(array, 'data', None), 'mem', None)
    if mem is not None:  # a CuPy array: array.data is a MemoryPointer into mem
        return ('cuda', int(mem.ptr)), int(mem.size)
    owner, base = array, array.base
    while base is not None:
        if isinstance(base, np.ndarray):
            owner = base
        base = getattr(base, 'base', None)
    return ('cpu', owner.__array_interface__['data'][0]), int(owner.nbytes)


@dataclass
class LayerRow:
    """One module: its own parameters and the cost of the operators its forward ran itself."""
    path: str                       # '' for the model itself
    type: str
    depth: int                      # 0 for the model, 1 for its children, ...
    calls: int = 0                  # times its forward ran (0: never, e.g. an unused aux head)
    output_shape: object = None     # tuple, or a list of tuples for several outputs
    params: int = 0
    trainable_params: int = 0
    macs: int = 0
    forward_flops: int = 0
    backward_input_flops: int = 0
    backward_weight_flops: int = 0
    saved_bytes: int = 0
    transient_bytes: int = 0        # the largest scratch buffer of one of its operators

    @property
    def backward_flops(self):
        return self.backward_input_flops + self.backward_weight_flops

    def add_cost(self, cost):
        self.macs += cost.macs
        self.forward_flops += cost.forward_flops
        self.backward_input_flops += cost.backward_input_flops
        self.backward_weight_flops += cost.backward_weight_flops
        self.transient_bytes = max(self.transient_bytes, cost.transient_bytes)


@dataclass
class OpRecord:
    """One recorded operator call, for the memory timeline: what its node keeps (storage
    keys), the bytes of its outputs, of the gradients its backward returns for data
    inputs and for parameters, and its scratch bytes."""
    path: str
    function: str
    saved_keys: tuple
    output_bytes: int
    input_grad_bytes: int
    param_grad_bytes: int
    transient_bytes: int


class CostTracer:
    """Attributes every operator's cost to the innermost module running.

    Use as a context manager around one forward pass::

        with CostTracer(model) as tracer:
            out = model(x)
        tracer.rows
    """

    def __init__(self, model, exclude_arrays=()):
        self.model = model
        self.stack = []
        self.rows = {}
        self.modules = {}
        self.handles = []
        self.storage_bytes = {}  # storage key -> bytes, for every array a node saved
        self.ops = []            # one OpRecord per recorded operator call, in order
        # parameter and buffer memory is never counted as saved activations
        self.excluded = {storage_of(a)[0] for a in exclude_arrays}
        self._keep = []  # saved arrays stay referenced so that no address is reused mid-pass
        for path, module in model.named_modules():
            self.modules[path] = module
            self.rows[path] = LayerRow(path, type(module).__name__,
                                       0 if path == '' else path.count('.') + 1)
            self.handles.append(module.register_forward_pre_hook(self._pre_hook(path)))
            self.handles.append(module.register_forward_hook(self._post_hook(path)))

    def _pre_hook(self, path):
        def hook(module, inputs):
            self.stack.append(path)
        return hook

    def _post_hook(self, path):
        def hook(module, inputs, output):
            if self.stack and self.stack[-1] == path:
                self.stack.pop()
            row = self.rows[path]
            row.calls += 1
            row.output_shape = output_shapes(output)
        return hook

    def on_apply(self, function, ctx, inputs, outputs):
        row = self.rows[self.stack[-1] if self.stack else '']
        cost = function.cost(ctx, inputs, outputs)
        recorded = any(ctx.needs_input_grad) and autograd.is_grad_enabled()
        if not recorded:  # no node: nothing to run backward, nothing kept
            cost = Cost(cost.macs, cost.forward_flops, transient_bytes=cost.transient_bytes)
        row.add_cost(cost)
        if not recorded:
            return
        keys = []
        for array in ctx.saved_arrays():
            key, nbytes = storage_of(array)
            if key in self.excluded:
                continue
            keys.append(key)
            if key not in self.storage_bytes:
                self.storage_bytes[key] = nbytes
                self._keep.append(array)
                row.saved_bytes += nbytes
        grad_in = param_grad = 0
        for x, need in zip(inputs, ctx.needs_input_grad):
            if need and is_array(x):
                if storage_of(x)[0] in self.excluded:
                    param_grad += int(x.nbytes)
                else:
                    grad_in += int(x.nbytes)
        self.ops.append(OpRecord(row.path, function.__name__, tuple(keys),
                                 sum(int(o.nbytes) for o in outputs if is_array(o)),
                                 grad_in, param_grad, cost.transient_bytes))

    @property
    def saved_keys(self):
        return set(self.storage_bytes)

    def __enter__(self):
        self.handles.append(autograd.register_apply_hook(self.on_apply))
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        for handle in self.handles:
            handle.remove()
        self.handles = []
        self._keep = []


def output_shapes(output):
    """Shape of a module's output: a tuple, or a list of them for several outputs."""
    if isinstance(output, Tensor):
        return tuple(output.shape)
    if isinstance(output, (tuple, list)):
        shapes = [output_shapes(o) for o in output if o is not None]
        return shapes[0] if len(shapes) == 1 else shapes
    if isinstance(output, dict):
        return output_shapes(list(output.values()))
    return None


def output_tensors(output):
    """The floating-point tensors in a model's output (a tensor, tuple, namedtuple, dict)."""
    if isinstance(output, Tensor):
        return [output] if output.dtype.kind == 'f' else []
    if isinstance(output, (tuple, list)):
        return [t for o in output for t in output_tensors(o)]
    if isinstance(output, dict):
        return output_tensors(list(output.values()))
    return []
