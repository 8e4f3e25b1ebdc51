"""Reverse-mode automatic differentiation: Function, the graph, and the backward walk.

An operator is a ``Function`` subclass with two static methods working on raw arrays::

    class Square(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, grad_out):
            (x,) = ctx.saved_tensors
            return 2 * x * grad_out

    y = Square.apply(t)

``apply`` unwraps the input Tensors, runs ``forward`` and, when some input requires a
gradient and grad mode is on, records a ``Node`` (the output's ``grad_fn``) holding the
context and one edge per input. ``backward`` walks these nodes in topological order.

In-place operations change an array that a node may have saved for backward. As in
PyTorch, every storage has a version counter (``VersionCounter``) that each in-place
change bumps; a node notes the versions of the inputs and outputs it saved, and its
backward raises if one has changed since. ``minidl/functional/inplace.py`` turns an
operator into its in-place form with the helpers at the end of this file.
"""
import functools
import itertools
import threading
from dataclasses import dataclass

from .backend import get_array_module, is_array

# ---------------------------------------------------------------- grad mode

_state = threading.local()


def is_grad_enabled():
    return getattr(_state, 'enabled', True)


def _set_enabled(mode):
    _state.enabled = bool(mode)


class set_grad_enabled:
    """Context manager and decorator that turns recording on or off."""

    def __init__(self, mode=True):
        self.mode = bool(mode)
        self.previous = None

    def __enter__(self):
        self.previous = is_grad_enabled()
        _set_enabled(self.mode)
        return self

    def __exit__(self, *exc):
        _set_enabled(self.previous)
        return False

    def __call__(self, fn):
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)
        return wrapper


class no_grad(set_grad_enabled):
    """Nothing computed inside is recorded for backward (``with minidl.no_grad():``)."""

    def __init__(self):
        super().__init__(False)


class enable_grad(set_grad_enabled):
    """Recording back on, inside a ``no_grad`` block."""

    def __init__(self):
        super().__init__(True)


# ---------------------------------------------------------------- cost of an operator

@dataclass
class Cost:
    """What one call of an operator costs.

    ``macs`` are multiply-accumulates (the papers' and torchvision's "FLOPs");
    ``forward_flops`` counts every floating-point operation of the forward pass;
    the backward pass is split into the work for the gradients of data inputs
    (``backward_input_flops``) and of parameters (``backward_weight_flops``).
    Bytes saved for backward are measured from the context, not declared.
    ``transient_bytes`` is the largest scratch buffer the operator allocates and frees
    within its forward or its backward (im2col's column matrix), for the profiler's
    memory prediction; scratch buffers do not coexist, so adding two costs keeps the
    larger.
    """
    macs: int = 0
    forward_flops: int = 0
    backward_input_flops: int = 0
    backward_weight_flops: int = 0
    transient_bytes: int = 0

    def __add__(self, other):
        return Cost(self.macs + other.macs, self.forward_flops + other.forward_flops,
                    self.backward_input_flops + other.backward_input_flops,
                    self.backward_weight_flops + other.backward_weight_flops,
                    max(self.transient_bytes, other.transient_bytes))


# ---------------------------------------------------------------- versions and views

class VersionCounter:
    """How many times a storage has been changed in place (``Tensor._version``).

    Tensors that share storage through autograd (a view and its base, ``detach()``)
    share one counter; ``.data`` gets a counter of its own, so that changes made
    through it are invisible to autograd, as in PyTorch. ``last_op`` names the latest
    in-place operation, for the error message."""
    __slots__ = ('value', 'last_op')

    def __init__(self):
        self.value = 0
        self.last_op = None

    def bump(self, op):
        self.value += 1
        self.last_op = op


class ViewOf:
    """What makes a Tensor a view: the ``base`` tensor whose storage it shares, and the
    ``steps`` that make it from the base, each ``(function, position, args, kwargs,
    output)``: apply ``function`` with the tensor at ``args[position]``, take output
    ``output`` when it returns several. ``steps`` is None when a step had other tensor
    inputs and cannot be replayed. ``version`` is the counter's value when the view's
    ``grad_fn`` was made; ``tracked`` says grad mode was on then. When the storage
    changes in place, the view's ``grad_fn`` is rebuilt from the base (``refresh_view``)."""
    __slots__ = ('base', 'steps', 'version', 'tracked')

    def __init__(self, base, steps, version, tracked):
        self.base, self.steps, self.version, self.tracked = base, steps, version, tracked


def _root(array):
    """The array that owns ``array``'s memory (NumPy and CuPy point a view's ``base``
    at it)."""
    base = array.base
    return array if base is None else base


def _output_tensor(Tensor, cls, array, node, index, args, kwargs, several):
    """The Tensor for one output; a view of an input shares its version counter and
    remembers how to remake it from the base."""
    t = Tensor(array) if node is None else Tensor._from_op(array, node, index)
    root = _root(array)
    for k, source in enumerate(args):
        if isinstance(source, Tensor) and _root(source.array) is root:
            break
    else:
        return t
    t._version_counter = source._version_counter
    parent = source._view
    base, steps = (parent.base, parent.steps) if parent is not None else (source, ())
    if steps is not None and not any(isinstance(a, Tensor) for j, a in enumerate(args) if j != k):
        kept = tuple(None if j == k else a for j, a in enumerate(args))
        steps = steps + ((cls, k, kept, kwargs, index if several else None),)
    else:
        steps = None
    t._view = ViewOf(base, steps, source._version_counter.value, is_grad_enabled())
    return t


def _saved_versions(Tensor, saved, args, results):
    """(position, counter, version, role) for each saved array that is (a view of) an
    input or output tensor: what backward checks has not changed in place since."""
    entries = []
    for position, array in enumerate(saved):
        if not is_array(array):
            continue
        root = _root(array)
        owner = None
        for k, a in enumerate(args):
            if isinstance(a, Tensor) and _root(a.array) is root:
                owner, role = a, f'input {k}'
                break
        else:
            for i, r in enumerate(results):
                if _root(r.array) is root:
                    owner, role = r, f'output {i}'
                    break
        if owner is not None:
            counter = owner._version_counter
            entries.append((position, counter, counter.value, role))
    return tuple(entries)


def _check_saved_versions(node):
    for position, counter, version, role in node.saved_versions:
        if counter.value != version:
            array = node.ctx._saved[position]
            raise RuntimeError(
                f'{node.name()}: one of the variables needed for gradient computation has '
                f'been modified by an inplace operation: the {role} of '
                f'{node.function.__name__} (a {array.dtype} tensor of shape '
                f'{tuple(array.shape)}), saved for backward, is at version {counter.value}; '
                f'expected version {version} instead (last changed by {counter.last_op}). '
                f'Change a clone() instead, or make the change after backward.')


# ---------------------------------------------------------------- Function and its context

class Context:
    """What ``forward`` leaves for ``backward``: saved arrays and any attributes set on it."""

    def __init__(self, needs_input_grad):
        self.needs_input_grad = needs_input_grad
        self._saved = ()

    def save_for_backward(self, *arrays):
        self._saved = arrays

    @property
    def saved_tensors(self):
        return self._saved

    def saved_arrays(self):
        """Every array this context keeps alive: the saved ones and array attributes."""
        found = [a for a in self._saved if is_array(a)]
        for name, value in vars(self).items():
            if name != '_saved' and is_array(value):
                found.append(value)
        return found


class Node:
    """One recorded call of a Function: the ``grad_fn`` of its outputs.

    ``next_functions`` has one edge per forward input: ``(node, output_index)`` for an
    input made by another operator, the Tensor itself for a leaf that requires a
    gradient, or None.
    """
    __slots__ = ('function', 'ctx', 'next_functions', 'input_meta', 'output_meta',
                 'retained', 'saved_versions', '__weakref__')

    def __init__(self, function, ctx, next_functions, input_meta, output_meta):
        self.function = function
        self.ctx = ctx
        self.next_functions = next_functions
        self.input_meta = input_meta     # (shape, dtype) of each input, None for non-tensors
        self.output_meta = output_meta   # (shape, dtype) of each output
        self.retained = None             # {output_index: weakref to a Tensor with retain_grad()}
        self.saved_versions = ()         # see _saved_versions

    def name(self):
        return self.function.__name__ + 'Backward'

    def __repr__(self):
        return f'<{self.name()}>'


class Function:
    """Base class of every operator. Subclasses define ``forward`` and ``backward``
    (static, on raw arrays) and, for the profiler, ``cost``."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError('a Function subclass must define forward(ctx, ...)')

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError('a Function subclass must define backward(ctx, ...)')

    @staticmethod
    def cost(ctx, inputs, outputs):
        """Cost of this call from the input and output arrays; elementwise by default:
        one FLOP per output element forward, one per element of each input that needs a
        gradient backward."""
        out_size = sum(o.size for o in outputs)
        back = sum(getattr(x, 'size', 1) for x, need in zip(inputs, ctx.needs_input_grad) if need)
        return Cost(forward_flops=out_size, backward_input_flops=back)

    @classmethod
    def apply(cls, *args, **kwargs):
        from .tensor import Tensor  # tensor.py sits above this file; imported at call time
        arrays, needs, edges, input_meta = [], [], [], []
        array_type = None
        for a in args:
            if isinstance(a, Tensor):
                data = a.array
                if array_type is None:
                    array_type = type(data)
                elif type(data) is not array_type:
                    _raise_device_mismatch(cls, args)
                arrays.append(data)
                needs.append(a.requires_grad)
            else:
                arrays.append(a)
                needs.append(False)
        record = any(needs) and is_grad_enabled()
        ctx = Context(tuple(needs))
        out = cls.forward(ctx, *arrays, **kwargs)
        outputs = out if isinstance(out, tuple) else (out,)
        if not all(map(is_array, outputs)):  # NumPy turns 0-d results into scalars
            xp = get_array_module(*arrays)
            outputs = tuple(o if is_array(o) else xp.asarray(o) for o in outputs)
        if _apply_hooks:
            for hook in tuple(_apply_hooks.values()):
                hook(cls, ctx, arrays, outputs)
        several = isinstance(out, tuple)
        if not record:
            results = tuple(_output_tensor(Tensor, cls, o, None, i, args, kwargs, several)
                            for i, o in enumerate(outputs))
        else:
            for a in args:
                if isinstance(a, Tensor):
                    grad_fn = a.grad_fn
                    if grad_fn is not None:
                        edges.append((grad_fn, a._output_index))
                    elif a.requires_grad:
                        edges.append(a)
                    else:
                        edges.append(None)
                    input_meta.append((a.array.shape, a.array.dtype))
                else:
                    edges.append(None)
                    input_meta.append(None)
            node = Node(cls, ctx, tuple(edges), tuple(input_meta),
                        tuple((o.shape, o.dtype) for o in outputs))
            results = tuple(_output_tensor(Tensor, cls, o, node, i, args, kwargs, several)
                            for i, o in enumerate(outputs))
            if ctx._saved:
                node.saved_versions = _saved_versions(Tensor, ctx._saved, args, results)
        return results if several else results[0]


def _raise_device_mismatch(cls, args):
    from .tensor import Tensor
    places = [str(a.device) for a in args if isinstance(a, Tensor)]
    raise RuntimeError(f'{cls.__name__.lower()}: expected all tensors on the same device, '
                       f'got {", ".join(places)}')


class RemovableHandle:
    """Returned by the ``register_*_hook`` functions and methods: ``handle.remove()``
    takes the hook out; as a context manager, the hook lives for the ``with`` block."""
    _ids = itertools.count()

    def __init__(self, hooks):
        self.hooks = hooks
        self.id = next(RemovableHandle._ids)

    def remove(self):
        self.hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


_apply_hooks = {}   # handle id -> hook


def register_apply_hook(hook):
    """Run ``hook(function, ctx, input_arrays, output_arrays)`` after the forward of every
    operator applied from now on (``function`` the Function class, ``ctx`` its Context
    with what it saved). The profiler counts operator costs this way. Returns a
    RemovableHandle."""
    handle = RemovableHandle(_apply_hooks)
    _apply_hooks[handle.id] = hook
    return handle


# ---------------------------------------------------------------- the backward walk

def _graph_dependencies(root):
    """For each node reachable from ``root``, how many edges point at it."""
    dependencies = {}
    stack = [root]
    seen = {root}
    while stack:
        node = stack.pop()
        for edge in node.next_functions:
            if type(edge) is tuple:
                child = edge[0]
                dependencies[child] = dependencies.get(child, 0) + 1
                if child not in seen:
                    seen.add(child)
                    stack.append(child)
    return dependencies


def _check_gradient(node, index, grad):
    shape, dtype = node.input_meta[index]
    if grad.shape != shape:
        raise RuntimeError(f'{node.function.__name__}.backward returned a gradient of shape '
                           f'{tuple(grad.shape)} for input {index}, whose shape is {tuple(shape)}')


def _accumulate_leaf(tensor, grad, handed_out):
    """Add ``grad`` into ``tensor.grad``. A first gradient is stored as it is unless it
    is a view or was already handed to another leaf (Add gives both inputs the same
    array): then it is copied, so no two ``.grad`` share memory."""
    from .tensor import Tensor
    if grad.dtype != tensor.array.dtype:
        grad = grad.astype(tensor.array.dtype)
    if tensor.grad is None:
        if id(grad) in handed_out or not grad.flags.owndata:
            grad = grad.copy()
        handed_out.add(id(grad))
        tensor.grad = Tensor(grad)
    else:
        tensor.grad = Tensor(tensor.grad.array + grad)


def run_backward(tensor, gradient=None, retain_graph=False):
    """Backpropagate from ``tensor``: the engine behind ``Tensor.backward``.

    Kahn's algorithm on the graph: a node runs once every node that feeds a gradient
    into it has run, so each gradient is complete (summed over all uses) before it is
    passed on. The walk is a loop, not recursion, so deep chains work.
    """
    xp = get_array_module(tensor.array)
    if not tensor.requires_grad:
        raise RuntimeError('backward: the tensor does not require grad and has no grad_fn '
                           '(did you create it under no_grad, or forget requires_grad=True?)')
    if gradient is None:
        if tensor.array.size != 1:
            raise RuntimeError(f'backward: grad can be implicitly created only for scalar '
                               f'outputs; got shape {tuple(tensor.shape)}: pass gradient=')
        grad = xp.ones_like(tensor.array)
    else:
        grad = gradient.array if hasattr(gradient, 'data') and not is_array(gradient) else gradient
        grad = xp.asarray(grad, dtype=tensor.array.dtype)
        if grad.shape != tensor.array.shape:
            raise RuntimeError(f'backward: gradient has shape {tuple(grad.shape)}, '
                               f'the tensor has shape {tuple(tensor.shape)}')
    root = tensor.grad_fn
    handed_out = set()  # ids of arrays stored as a leaf's .grad during this walk
    if root is None:  # a leaf
        _accumulate_leaf(tensor, grad if gradient is None else grad.copy(), handed_out)
        return

    dependencies = _graph_dependencies(root)
    buffers = {root: [None] * len(root.output_meta)}
    buffers[root][tensor._output_index] = grad
    ready = [root]
    while ready:
        node = ready.pop()
        grads = buffers.pop(node)
        ctx = node.ctx
        if ctx is None:
            raise RuntimeError(
                f'backward through {node.name()} a second time: its saved arrays were freed '
                f'after the first backward. Pass retain_graph=True to the first backward '
                f'to keep them.')
        for i, (shape, dtype) in enumerate(node.output_meta):
            if grads[i] is None:
                grads[i] = xp.zeros(shape, dtype=dtype)
        if node.retained:
            _fill_retained(node, grads)
        if node.saved_versions:
            _check_saved_versions(node)
        input_grads = node.function.backward(ctx, *grads)
        if not isinstance(input_grads, tuple):
            input_grads = (input_grads,)
        if len(input_grads) != len(node.next_functions):
            raise RuntimeError(f'{node.function.__name__}.backward returned {len(input_grads)} '
                               f'gradients, expected {len(node.next_functions)} (one per input)')
        if not retain_graph:
            node.ctx = None  # frees the saved arrays now
            node.saved_versions = ()
        del grads
        for index, (edge, grad) in enumerate(zip(node.next_functions, input_grads)):
            if edge is None:
                continue
            if type(edge) is tuple:
                child, out_index = edge
                if grad is not None:
                    _check_gradient(node, index, grad)
                    slots = buffers.get(child)
                    if slots is None:
                        slots = buffers[child] = [None] * len(child.output_meta)
                    slots[out_index] = grad if slots[out_index] is None else slots[out_index] + grad
                dependencies[child] -= 1
                if dependencies[child] == 0:
                    ready.append(child)
            elif grad is not None:
                _check_gradient(node, index, grad)
                _accumulate_leaf(edge, grad, handed_out)


def _fill_retained(node, grads):
    from .tensor import Tensor
    for index, ref in node.retained.items():
        t = ref()
        if t is not None:
            g = grads[index]
            t.grad = Tensor(g if t.grad is None else t.grad.array + g)


# ---------------------------------------------------------------- in-place changes
# minidl/functional/inplace.py makes an in-place operation out of an operator: it runs
# the operator out of place, writes the result into the tensor's storage, bumps the
# version and moves the new node onto the tensor. These helpers do the graph surgery.

def _refers_to(ctx, array):
    """Whether ``ctx`` keeps ``array`` (saved, or as an attribute)."""
    return (any(a is array for a in ctx._saved)
            or any(value is array for value in vars(ctx).values()))


def _replace_in_context(ctx, old, new):
    """Every reference of ``ctx`` to the array ``old`` becomes ``new``."""
    ctx._saved = tuple(new if a is old else a for a in ctx._saved)
    for name, value in list(vars(ctx).items()):
        if value is old and name != '_saved':
            setattr(ctx, name, new)


def keep_saved_input(node, array):
    """Before ``array`` is overwritten in place: if ``node``'s backward needs it (the
    tensor changed in place was an input that the operator saved), give the node a
    copy of the values, as PyTorch keeps the original ``self``."""
    ctx = node.ctx
    if ctx is None or not _refers_to(ctx, array):
        return
    original = array.copy()
    _replace_in_context(ctx, array, original)
    # the copy is the node's own: no version to check
    node.saved_versions = tuple(e for e in node.saved_versions
                                if ctx._saved[e[0]] is not original)


def point_saved_output(node, result, target):
    """After ``result`` was written into ``target``'s storage: the node's saved output
    is now the storage itself (freeing ``result``), checked at the new version."""
    ctx = node.ctx
    if ctx is None or not _refers_to(ctx, result):
        return
    storage = target.array
    _replace_in_context(ctx, result, storage)
    counter = target._version_counter
    kept = tuple(e for e in node.saved_versions if ctx._saved[e[0]] is not storage)
    node.saved_versions = kept + tuple((i, counter, counter.value, 'output 0')
                                       for i, a in enumerate(ctx._saved) if a is storage)


def rebase(tensor, node):
    """Make ``node`` (the in-place operation just recorded) the ``grad_fn`` of ``tensor``,
    moving a ``retain_grad()`` along."""
    old = tensor._grad_fn
    if old is not None and old.retained:
        ref = old.retained.get(tensor._output_index)
        if ref is not None and ref() is tensor:
            del old.retained[tensor._output_index]
            node.retained = {0: ref}
    node.output_meta = ((tensor.array.shape, tensor.array.dtype),)
    tensor._grad_fn, tensor._output_index = node, 0
    tensor._requires_grad = True


def replay_view(base, steps):
    """The view that ``steps`` (see ``ViewOf``) make from the tensor ``base``, recorded."""
    t = base
    for function, position, args, kwargs, output in steps:
        args = list(args)
        args[position] = t
        t = function.apply(*args, **kwargs)
        if output is not None:
            t = t[output]
    return t


def refresh_view(tensor):
    """Rebuild the ``grad_fn`` of a view whose storage changed in place since it was made:
    the view is now that part of the changed base (PyTorch regenerates it the same way)."""
    view = tensor._view
    if view.steps is None:
        raise RuntimeError('a view made by an operator with several tensor inputs was changed '
                           'in place; minidl cannot rebuild its graph: clone() it first')
    with enable_grad():
        fresh = replay_view(view.base, view.steps)
    tensor._grad_fn, tensor._output_index = fresh._grad_fn, fresh._output_index
    tensor._requires_grad = fresh._requires_grad
    view.version = tensor._version_counter.value
