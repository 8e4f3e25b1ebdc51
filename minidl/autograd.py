"""Reverse-mode automatic differentiation: functions, the graph, and the backward walk.

This is also ``torch.autograd``'s path: ``Function``, ``grad``, ``backward``,
``gradcheck``, ``no_grad`` ... with PyTorch's semantics (the end of this file).

An operator of minidl is an ``ArrayFunction`` subclass with two static methods working
on raw arrays (``minidl.Function`` is its public name)::

    class Square(ArrayFunction):
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

PyTorch's ``torch.autograd.Function`` is ``Function`` here: the same two static
methods, but on Tensors, as PyTorch calls them (``input.clamp(min=0)``,
``grad_output.clone()`` work inside); it runs as an ``ArrayFunction`` that wraps the
arrays into Tensors and back.

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
    """What ``forward`` leaves for ``backward``: saved arrays (Tensors, for a PyTorch-style
    ``Function``) and any attributes set on it."""

    def __init__(self, needs_input_grad):
        self.needs_input_grad = needs_input_grad
        self._saved = ()
        self.materialize_grads = True   # None gradients of outputs become zeros

    def save_for_backward(self, *arrays):
        self._saved = arrays

    @property
    def saved_tensors(self):
        return self._saved

    def set_materialize_grads(self, value):
        """With False, ``backward`` receives None (not zeros) for the gradient of an
        output that nothing used, as in PyTorch."""
        self.materialize_grads = bool(value)

    def mark_non_differentiable(self, *outputs):
        """The given outputs of ``forward`` do not require grad (a PyTorch-style
        ``Function``'s integer indices, say)."""
        self._non_differentiable = {id(o) for o in outputs}

    def saved_arrays(self):
        """Every array this context keeps alive: the saved ones and array attributes."""
        saved = [getattr(a, 'array', a) for a in self._saved]   # a Tensor's array
        found = [a for a in saved if is_array(a)]
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
                 'retained', 'saved_versions', 'tensor_hooks', '__weakref__')

    def __init__(self, function, ctx, next_functions, input_meta, output_meta):
        self.function = function
        self.ctx = ctx
        self.next_functions = next_functions
        self.input_meta = input_meta     # (shape, dtype) of each input, None for non-tensors
        self.output_meta = output_meta   # (shape, dtype) of each output
        self.retained = None             # {output_index: weakref to a Tensor with retain_grad()}
        self.saved_versions = ()         # see _saved_versions
        self.tensor_hooks = None         # {output_index: {handle id: hook}} (register_hook)

    def name(self):
        return self.function.__name__ + 'Backward'

    def __repr__(self):
        return f'<{self.name()}>'


class ArrayFunction:
    """Base class of every operator. Subclasses define ``forward`` and ``backward``
    (static, on raw arrays) and, for the profiler, ``cost``."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError('an ArrayFunction subclass must define forward(ctx, ...)')

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError('an ArrayFunction subclass must define backward(ctx, ...)')

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

def _graph_dependencies(roots, holds):
    """For each node reachable from the nodes ``roots``, how many edges point at it; and
    the same count, keyed by ``id``, for each leaf that ``holds(leaf)`` says has hooks
    (its gradient is complete once all its edges have been walked)."""
    dependencies, leaf_dependencies = {}, {}
    stack = list(roots)
    seen = set(roots)
    while stack:
        node = stack.pop()
        for edge in node.next_functions:
            if type(edge) is tuple:
                child = edge[0]
                dependencies[child] = dependencies.get(child, 0) + 1
                if child not in seen:
                    seen.add(child)
                    stack.append(child)
            elif edge is not None and holds(edge):
                leaf_dependencies[id(edge)] = leaf_dependencies.get(id(edge), 0) + 1
    return dependencies, leaf_dependencies


def run_tensor_hooks(hooks, grad, shape, dtype):
    """``grad`` passed through the ``register_hook`` hooks of one tensor, in the order they
    were registered: each gets the gradient as a Tensor (None when the tensor's node
    runs without one) and may return a replacement of the same shape and dtype."""
    from .tensor import Tensor
    for hook in tuple(hooks.values()):
        result = hook(None if grad is None else Tensor(grad))
        if result is None:
            continue
        name = getattr(hook, '__name__', type(hook).__name__)
        array = result.array if isinstance(result, Tensor) else result
        if not is_array(array) or tuple(array.shape) != tuple(shape):
            raise RuntimeError(f"hook '{name}' has changed the size of value: expected a "
                               f"Tensor of shape {tuple(shape)}, got "
                               f"{getattr(array, 'shape', type(result).__name__)}")
        if array.dtype != dtype:
            raise RuntimeError(f"hook '{name}' has changed the type of value (was {dtype} "
                               f"got {array.dtype})")
        grad = array
    return grad


def _run_output_hooks(node, grads):
    """The ``register_hook`` hooks of the non-leaf tensors ``node`` made, on their
    complete gradients (before the node's backward, ``retain_grad`` and materializing)."""
    for index, hooks in node.tensor_hooks.items():
        if hooks:
            shape, dtype = node.output_meta[index]
            grads[index] = run_tensor_hooks(hooks, grads[index], shape, dtype)


def _one_per_input(node, input_grads):
    """One gradient per positional input. A backward may stop after its last
    floating-point Tensor input: the arguments after it (integer or bool Tensors such as
    class indices, settings, None) get no gradient."""
    count, inputs = len(input_grads), len(node.next_functions)
    floating = [i for i, meta in enumerate(node.input_meta)
                if meta is not None and meta[1].kind in 'fc']
    needed = floating[-1] + 1 if floating else 0
    if not needed <= count <= inputs:
        raise RuntimeError(f'{node.function.__name__}.backward returned {count} gradients, '
                           f'expected {needed if needed == inputs else f"{needed} to {inputs}"} '
                           f'(one per input, up to the last floating-point Tensor input)')
    return input_grads + (None,) * (inputs - count)


def sum_to_shape(grad, shape):
    """Sum a broadcast gradient back to ``shape``.

    If y = broadcast(x), every element of x fed several elements of y, so dL/dx is
    the sum of dL/dy over the broadcast dimensions (the leading ones numpy added,
    and those where x had size 1).
    """
    if grad.shape == tuple(shape):
        return grad
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, n in enumerate(shape)
                                      if n == 1 and grad.shape[i + lead] != 1)
    out = grad.sum(axis=axes, keepdims=True) if axes else grad
    if lead:
        out = out.reshape(out.shape[lead:])
    return out.reshape(shape)


def broadcasts_to(shape, target):
    """Whether an array of ``shape`` broadcasts to ``target`` (NumPy's rule)."""
    return len(shape) <= len(target) and all(
        s == 1 or s == t for s, t in zip(reversed(shape), reversed(target)))


def _fit_gradient(node, index, grad):
    """The gradient of input ``index``, at the input's shape. An operator's backward
    returns its bare derivative: where the input was broadcast in forward (``x + b``
    with b of shape (C,)), that gradient has the broadcast shape, and the engine sums it
    back here, once for every operator (``sum_to_shape``). Any other shape is an error."""
    shape, dtype = node.input_meta[index]
    if grad.shape == shape:
        return grad
    if broadcasts_to(shape, grad.shape):
        return sum_to_shape(grad, shape)
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


def _root_gradient(tensor, gradient, xp):
    """The gradient that starts the walk at ``tensor``: ones for a one-element tensor."""
    if not tensor.requires_grad:
        raise RuntimeError('backward: the tensor does not require grad and has no grad_fn '
                           '(did you create it under no_grad, or forget requires_grad=True?)')
    if gradient is None:
        if tensor.array.size != 1:
            raise RuntimeError(f'backward: grad can be implicitly created only for scalar '
                               f'outputs; got shape {tuple(tensor.shape)}: pass gradient=')
        return xp.ones_like(tensor.array)
    grad = gradient.array if hasattr(gradient, 'array') and not is_array(gradient) else gradient
    grad = xp.asarray(grad, dtype=tensor.array.dtype)
    if grad.shape != tensor.array.shape:
        raise RuntimeError(f'backward: gradient has shape {tuple(grad.shape)}, '
                           f'the tensor has shape {tuple(tensor.shape)}')
    return grad


def run_backward(tensor, gradient=None, retain_graph=False):
    """Backpropagate from ``tensor``: the engine behind ``Tensor.backward``."""
    backward_pass([(tensor, gradient)], retain_graph)


def backward_pass(roots, retain_graph=False, inputs=None):
    """Backpropagate from the ``(tensor, gradient)`` pairs ``roots`` in one walk.

    Kahn's algorithm on the graph: a node runs once every node that feeds a gradient
    into it has run, so each gradient is complete (summed over all uses) before it is
    passed on. The walk is a loop, not recursion, so deep chains work.

    Without ``inputs``, every leaf that requires grad accumulates its gradient into
    ``.grad``, and then runs its post-accumulate-grad hooks. With ``inputs`` (a list of
    tensors, leaves or not), no ``.grad`` is touched: the gradient reaching each input is
    returned, None where none does (what ``autograd.grad`` needs).

    ``register_hook`` hooks run on a tensor's complete gradient (summed over all its
    uses): for a non-leaf before its node's backward, for a leaf before it is added to
    ``.grad``. As in PyTorch, ``inputs`` capture a leaf's gradient after its hooks and a
    non-leaf's before them.
    """
    xp = get_array_module(roots[0][0].array)
    handed_out = set()  # ids of arrays stored as a leaf's .grad during this walk
    captured = None if inputs is None else [None] * len(inputs)
    leaf_slots, node_slots = {}, {}   # where each input's gradient is captured
    for k, t in enumerate(inputs or ()):
        if t.grad_fn is None:
            leaf_slots.setdefault(id(t), []).append(k)
        else:
            node_slots.setdefault(t.grad_fn, []).append((t._output_index, k))

    def capture(k, grad):
        captured[k] = grad.copy() if captured[k] is None else captured[k] + grad

    def reach_leaf(tensor, grad):
        if captured is None:
            _accumulate_leaf(tensor, grad, handed_out)
        else:
            for k in leaf_slots.get(id(tensor), ()):
                capture(k, grad)

    def holds(leaf):
        """Whether the leaf's gradient is held until complete, for its hooks
        (autograd.grad accumulates nothing and runs no post-accumulate-grad hooks)."""
        return bool(leaf._backward_hooks or (captured is None and
                                             leaf._post_accumulate_grad_hooks))

    held, pending = {}, {}   # id(leaf) -> edges still to come, gradient summed so far

    def leaf_edge(leaf, grad):
        """One edge into a leaf walked, with ``grad`` (or None). A held leaf gets its
        gradient once its last edge is walked, through its hooks."""
        key = id(leaf)
        if key not in held:
            if grad is not None:
                reach_leaf(leaf, grad)
            return
        if grad is not None:
            pending[key] = grad if key not in pending else pending[key] + grad
        held[key] -= 1
        if held[key] == 0 and key in pending:
            total = pending.pop(key)
            if leaf._backward_hooks:
                total = run_tensor_hooks(leaf._backward_hooks, total, leaf.array.shape,
                                         leaf.array.dtype)
            reach_leaf(leaf, total)
            if captured is None and leaf._post_accumulate_grad_hooks:
                for hook in tuple(leaf._post_accumulate_grad_hooks.values()):
                    hook(leaf)

    buffers, leaf_roots = {}, []
    for tensor, gradient in roots:
        grad = _root_gradient(tensor, gradient, xp)
        if tensor.grad_fn is None:  # a leaf
            leaf_roots.append((tensor, grad if gradient is None else grad.copy()))
            continue
        slots = buffers.setdefault(tensor.grad_fn, [None] * len(tensor.grad_fn.output_meta))
        i = tensor._output_index
        slots[i] = grad if slots[i] is None else slots[i] + grad

    dependencies, held = _graph_dependencies(list(buffers), holds)
    for leaf, _ in leaf_roots:       # a root that is a leaf counts as one more edge into it
        if holds(leaf):
            held[id(leaf)] = held.get(id(leaf), 0) + 1
    for leaf, grad in leaf_roots:
        leaf_edge(leaf, grad)
    ready = [node for node in buffers if dependencies.get(node, 0) == 0]
    while ready:
        node = ready.pop()
        grads = buffers.pop(node)
        ctx = node.ctx
        if ctx is None:
            raise RuntimeError(
                f'backward through {node.name()} a second time: its saved arrays were freed '
                f'after the first backward. Pass retain_graph=True to the first backward '
                f'to keep them.')
        for i, k in node_slots.get(node, ()):
            if grads[i] is not None:
                capture(k, grads[i])
        if node.tensor_hooks:
            _run_output_hooks(node, grads)
        for i, (shape, dtype) in enumerate(node.output_meta):
            if grads[i] is None and ctx.materialize_grads:
                grads[i] = xp.zeros(shape, dtype=dtype)
        if node.retained:
            _fill_retained(node, grads)
        if node.saved_versions:
            _check_saved_versions(node)
        input_grads = node.function.backward(ctx, *grads)
        if not isinstance(input_grads, tuple):
            input_grads = (input_grads,)
        input_grads = _one_per_input(node, input_grads)
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
                    grad = _fit_gradient(node, index, grad)
                    slots = buffers.get(child)
                    if slots is None:
                        slots = buffers[child] = [None] * len(child.output_meta)
                    slots[out_index] = grad if slots[out_index] is None else slots[out_index] + grad
                dependencies[child] -= 1
                if dependencies[child] == 0:
                    ready.append(child)
            else:
                if grad is not None:
                    grad = _fit_gradient(node, index, grad)
                leaf_edge(edge, grad)
    return captured


def _fill_retained(node, grads):
    from .tensor import Tensor
    for index, ref in node.retained.items():
        t = ref()
        g = grads[index]
        if t is not None and g is not None:
            t.grad = Tensor(g if t.grad is None else t.grad.array + g)


# ---------------------------------------------------------------- torch.autograd's names

class inference_mode(set_grad_enabled):
    """``with minidl.inference_mode():`` records nothing, as ``no_grad`` (PyTorch's faster
    variant; here the two are the same). ``inference_mode(False)`` records again."""

    def __init__(self, mode=True):
        super().__init__(not mode)


class Function:
    """``torch.autograd.Function``: a differentiable function written by hand on Tensors.

        class Exp(Function):
            @staticmethod
            def forward(ctx, x):
                y = x.exp()
                ctx.save_for_backward(y)
                return y

            @staticmethod
            def backward(ctx, grad_output):
                (y,) = ctx.saved_tensors
                return grad_output * y

        z = Exp.apply(t)

    As in PyTorch, ``forward`` and ``backward`` receive and return Tensors and run with
    grad mode off; ``ctx`` has ``save_for_backward``, ``saved_tensors``,
    ``needs_input_grad``, ``mark_non_differentiable`` and ``set_materialize_grads``;
    ``forward`` may leave ``ctx`` to a ``setup_context(ctx, inputs, output)`` method (the
    PyTorch 2 style); ``backward`` returns one gradient (or None) per input of
    ``forward``. Each subclass runs as an ``ArrayFunction`` twin that wraps arrays into
    Tensors and back; minidl's own operators are ArrayFunctions directly (raw arrays, no
    wrapping), and a class of the minidl package must be one.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__module__.startswith('minidl.'):
            raise TypeError(f'{cls.__qualname__}: minidl\'s operators subclass ArrayFunction '
                            f'(forward and backward on raw arrays); autograd.Function is '
                            f'PyTorch\'s, on Tensors, for code outside minidl')

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError('a Function subclass must define forward(ctx, ...)')

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError('setup_context is not defined: forward takes ctx')

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError('a Function subclass must define backward(ctx, ...)')

    @classmethod
    def apply(cls, *args, **kwargs):
        twin = cls.__dict__.get('_array_twin')
        if twin is None:
            twin = _array_twin(cls)
            type.__setattr__(cls, '_array_twin', twin)
        out = twin.apply(*args, **kwargs)
        outs = out if isinstance(out, tuple) else (out,)
        node = outs[0].grad_fn
        for i in (node.ctx.non_differentiable_outputs if node is not None else ()):
            outs[i]._grad_fn, outs[i]._requires_grad = None, False   # a plain leaf
        return out


FunctionCtx = Context   # torch.autograd.function.FunctionCtx, for annotations


def _array_twin(cls):
    """The ArrayFunction that runs the Tensor-level Function ``cls``."""
    takes_ctx = cls.setup_context is Function.setup_context

    def forward(ctx, *arrays, **kwargs):
        from .tensor import Tensor
        inputs = tuple(Tensor(a) if is_array(a) else a for a in arrays)
        with no_grad():
            if takes_ctx:
                out = cls.forward(ctx, *inputs, **kwargs)
            else:
                out = cls.forward(*inputs, **kwargs)
                cls.setup_context(ctx, inputs, out)
        outs = out if isinstance(out, tuple) else (out,)
        hidden = getattr(ctx, '_non_differentiable', ())
        ctx.non_differentiable_outputs = [i for i, o in enumerate(outs) if id(o) in hidden]
        arrays_out = tuple(o.array if isinstance(o, Tensor) else o for o in outs)
        return arrays_out if isinstance(out, tuple) else arrays_out[0]

    def backward(ctx, *grads):
        from .tensor import Tensor
        with no_grad():
            result = cls.backward(ctx, *(None if g is None else Tensor(g) for g in grads))
        result = result if isinstance(result, tuple) else (result,)
        expected = len(ctx.needs_input_grad)
        if len(result) > expected and all(r is None for r in result[expected:]):
            result = result[:expected]   # PyTorch allows trailing Nones
        if len(result) != expected:
            raise RuntimeError(f'function {cls.__name__}Backward returned an incorrect number '
                               f'of gradients (expected {expected}, got {len(result)})')
        return tuple(r.array if isinstance(r, Tensor) else r for r in result)

    return type(cls.__name__, (ArrayFunction,), {
        'forward': staticmethod(forward), 'backward': staticmethod(backward),
        '__module__': cls.__module__, '__qualname__': cls.__qualname__,
        '__doc__': cls.__doc__})


def once_differentiable(backward):
    """Marks a ``backward`` that is not itself differentiated (every minidl backward is
    so: minidl computes first-order gradients only). Returns ``backward`` unchanged."""
    return backward


class _VariableMeta(type):
    def __instancecheck__(cls, obj):
        from .tensor import Tensor
        return isinstance(obj, Tensor)


class Variable(metaclass=_VariableMeta):
    """PyTorch's pre-0.4 wrapper: ``Variable(t, requires_grad=True)`` is the Tensor ``t``
    (made to require grad), and every Tensor is a Variable, as in PyTorch since 0.4."""

    def __new__(cls, data, requires_grad=False, volatile=False):
        from .tensor import Tensor
        if not isinstance(data, Tensor):
            raise TypeError(f'Variable data has to be a tensor, but got {type(data).__name__}')
        return data.requires_grad_(requires_grad) if requires_grad else data


def _first_order_only(op, create_graph):
    if create_graph:
        raise NotImplementedError(f'{op}: create_graph=True (gradients of gradients) is not '
                                  f'supported: minidl computes first-order gradients only')


def _tensors(value, what):
    from .tensor import Tensor
    if isinstance(value, Tensor):
        return [value]
    value = list(value)
    if not all(isinstance(v, Tensor) for v in value):
        raise TypeError(f'{what} must be a Tensor or a sequence of Tensors')
    return value


def _gradients(grad_tensors, count, op):
    if grad_tensors is None:
        return [None] * count
    from .tensor import Tensor
    grads = [grad_tensors] if isinstance(grad_tensors, Tensor) else list(grad_tensors)
    if len(grads) != count:
        raise RuntimeError(f'{op}: got {count} tensors and {len(grads)} gradients')
    return grads


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """``torch.autograd.backward``: accumulate the gradients of ``tensors`` (weighted by
    ``grad_tensors``; None for one-element tensors) into the leaves' ``.grad`` in one
    walk; with ``inputs``, into those tensors' ``.grad`` only."""
    _first_order_only('backward', create_graph)
    tensors = _tensors(tensors, 'backward: tensors')
    roots = list(zip(tensors, _gradients(grad_tensors, len(tensors), 'backward')))
    retain = bool(create_graph if retain_graph is None else retain_graph)
    if inputs is None:
        backward_pass(roots, retain)
        return
    inputs = _tensors(inputs, 'backward: inputs')
    for tensor, grad in zip(inputs, backward_pass(roots, retain, inputs)):
        if grad is not None:
            _accumulate_leaf(tensor, grad, set())


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         only_inputs=True, allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """``torch.autograd.grad``: the gradients of ``outputs`` with respect to ``inputs``,
    as a tuple of Tensors (one per input), without touching any ``.grad``.

    An input the outputs do not depend on raises, unless ``allow_unused`` (its gradient
    is then None) or ``materialize_grads`` (zeros).
    """
    from .tensor import Tensor
    _first_order_only('grad', create_graph)
    if is_grads_batched:
        raise NotImplementedError('grad: is_grads_batched=True is not supported by minidl')
    if allow_unused is None:
        allow_unused = materialize_grads
    elif materialize_grads and not allow_unused:
        raise ValueError('grad: expected allow_unused to be True or not passed when '
                         'materialize_grads=True')
    outputs = _tensors(outputs, 'grad: outputs')
    inputs = _tensors(inputs, 'grad: inputs')
    for t in inputs:
        if not t.requires_grad:
            raise RuntimeError('grad: one of the differentiated Tensors does not require grad')
    roots = list(zip(outputs, _gradients(grad_outputs, len(outputs), 'grad')))
    found = backward_pass(roots, bool(create_graph if retain_graph is None else retain_graph),
                          inputs)
    result = []
    for t, g in zip(inputs, found):
        if g is None and not allow_unused:
            raise RuntimeError('grad: one of the differentiated Tensors appears to not have been '
                               'used in the graph. Set allow_unused=True if this is the desired '
                               'behavior.')
        if g is None and materialize_grads:
            g = get_array_module(t.array).zeros_like(t.array)
        result.append(None if g is None else Tensor(g.astype(t.array.dtype, copy=False)))
    return tuple(result)


def __getattr__(name):
    # torch.autograd.gradcheck: gradcheck.py sits above this file, so it comes on first use
    if name in ('gradcheck', 'GradcheckError'):
        from .gradcheck import GradcheckError, gradcheck
        return gradcheck if name == 'gradcheck' else GradcheckError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
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
