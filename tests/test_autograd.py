"""The graph: recording, the backward walk, memory release, grad mode, custom Functions."""
import gc
import weakref

import numpy as np
import pytest

import minidl
from minidl import Function
from minidl.autograd import Cost
from tests.parity import require_torch


def leaf(*shape, dtype=np.float64):
    return minidl.tensor(np.random.randn(*shape).astype(dtype), requires_grad=True)


class Cube(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return 3 * x ** 2 * grad


def test_node_reuse_accumulates():
    a = leaf(3)
    b = a + a
    c = b * b
    c.backward(minidl.ones(3, dtype=np.float64))
    # c = 4a^2, dc/da = 8a
    np.testing.assert_allclose(a.grad.numpy(), 8 * a.numpy())


def test_diamond_graph_waits_for_all_uses():
    x = leaf(4)
    y = x.exp()
    z = y * x + y.sqrt() * y
    z.backward(minidl.ones(4, dtype=np.float64))
    e = np.exp(x.numpy())
    expected = e * x.numpy() + e + 1.5 * np.exp(1.5 * x.numpy())
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12)


def test_chain_ten_thousand_deep():
    x = minidl.tensor(np.array([1.0]), requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.backward(minidl.ones(1, dtype=np.float64))
    np.testing.assert_allclose(x.grad.numpy(), [1.0001 ** 10_000], rtol=1e-9)


def test_grads_kept_for_leaves_only():
    x = leaf(2)
    h = x * 2
    out = h * h
    out.backward(minidl.ones(2, dtype=np.float64))
    assert x.grad is not None and h.grad is None and out.grad is None


def test_retain_grad_keeps_a_non_leaf_gradient():
    x = leaf(2)
    h = x * 2
    h.retain_grad()
    (h * h).backward(minidl.ones(2, dtype=np.float64))
    np.testing.assert_allclose(h.grad.numpy(), 2 * h.numpy())


def test_accumulation_across_two_backward_calls():
    x = leaf(3)
    (x * 2).backward(minidl.ones(3, dtype=np.float64))
    (x * 3).backward(minidl.ones(3, dtype=np.float64))
    np.testing.assert_allclose(x.grad.numpy(), np.full(3, 5.0))


def test_saved_arrays_released_after_backward():
    x = leaf(1000)
    y = Cube.apply(x)
    saved = y.grad_fn.ctx.saved_tensors[0]
    ref = weakref.ref(y.grad_fn.ctx)
    del saved
    y.backward(minidl.ones(1000, dtype=np.float64))
    gc.collect()
    assert y.grad_fn.ctx is None and ref() is None


def test_second_backward_raises_without_retain_graph():
    x = leaf(3)
    y = Cube.apply(x)
    g = minidl.ones(3, dtype=np.float64)
    y.backward(g)
    with pytest.raises(RuntimeError, match='second time.*retain_graph=True'):
        y.backward(g)


def test_retain_graph_allows_second_backward():
    x = leaf(3)
    y = Cube.apply(x)
    g = minidl.ones(3, dtype=np.float64)
    y.backward(g, retain_graph=True)
    y.backward(g)
    np.testing.assert_allclose(x.grad.numpy(), 6 * x.numpy() ** 2)


def test_no_grad_records_nothing():
    x = leaf(3)
    with minidl.no_grad():
        y = x * 2
        with minidl.enable_grad():
            z = x * 3
    assert y.grad_fn is None and not y.requires_grad
    assert z.grad_fn is not None and minidl.is_grad_enabled()


def test_no_grad_as_decorator():
    @minidl.no_grad()
    def double(t):
        return t * 2

    assert double(leaf(2)).grad_fn is None
    assert minidl.is_grad_enabled()


def test_set_grad_enabled():
    x = leaf(2)
    with minidl.set_grad_enabled(False):
        assert (x * 2).grad_fn is None
    assert (x * 2).grad_fn is not None


def test_detach_cuts_the_graph():
    x = leaf(3)
    y = (x * 2).detach()
    assert y.is_leaf and not y.requires_grad
    z = y * x
    z.backward(minidl.ones(3, dtype=np.float64))
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy())


def test_custom_function_with_needs_input_grad():
    seen = {}

    class Scale(Function):
        @staticmethod
        def forward(ctx, x, factor):
            seen['needs'] = ctx.needs_input_grad
            ctx.factor = factor
            return x * factor

        @staticmethod
        def backward(ctx, grad):
            return grad * ctx.factor, None

    x = leaf(3)
    Scale.apply(x, 4.0).backward(minidl.ones(3, dtype=np.float64))
    assert seen['needs'] == (True, False)
    np.testing.assert_allclose(x.grad.numpy(), np.full(3, 4.0))
    assert minidl.gradcheck(lambda t: Scale.apply(t, 2.5), (leaf(2, 2),))


def test_function_with_two_outputs():
    class SplitHalves(Function):
        @staticmethod
        def forward(ctx, x):
            return x[:2].copy(), x[2:].copy()

        @staticmethod
        def backward(ctx, ga, gb):
            return np.concatenate([ga, gb])

    x = leaf(5)
    a, b = SplitHalves.apply(x)
    (a * 2).backward(minidl.ones(2, dtype=np.float64))  # b unused: its gradient is zero
    np.testing.assert_allclose(x.grad.numpy(), [2, 2, 0, 0, 0])


def test_wrong_gradient_shape_is_reported():
    class Broken(Function):
        @staticmethod
        def forward(ctx, x):
            return x.sum(keepdims=True)

        @staticmethod
        def backward(ctx, grad):
            return grad  # should be broadcast to x's shape

    x = leaf(2, 3)
    with pytest.raises(RuntimeError, match=r'Broken.backward returned a gradient of shape '
                                           r'\(1, 1\) for input 0, whose shape is \(2, 3\)'):
        Broken.apply(x).backward(minidl.ones(1, 1, dtype=np.float64))


def test_wrong_number_of_gradients_is_reported():
    class TooMany(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, grad):
            return grad, grad

    with pytest.raises(RuntimeError, match='returned 2 gradients, expected 1'):
        TooMany.apply(leaf(2)).backward(minidl.ones(2, dtype=np.float64))


def test_backward_on_non_scalar_needs_gradient():
    y = leaf(2, 3) * 2
    with pytest.raises(RuntimeError, match=r'scalar outputs; got shape \(2, 3\)'):
        y.backward()


def test_backward_gradient_shape_checked():
    y = leaf(2, 3) * 2
    with pytest.raises(RuntimeError, match=r'gradient has shape \(3,\)'):
        y.backward(minidl.ones(3, dtype=np.float64))


def test_backward_without_grad_raises():
    with pytest.raises(RuntimeError, match='does not require grad'):
        minidl.ones(1).backward()


def test_integer_tensor_cannot_require_grad():
    with pytest.raises(RuntimeError, match='only floating-point.*int64'):
        minidl.tensor([1, 2, 3], requires_grad=True)


def test_mixed_devices_named():
    class FakeCupy(np.ndarray):
        pass
    FakeCupy.__module__ = 'cupy._core.core'
    a = leaf(2)
    b = minidl.Tensor(np.zeros(2))
    b.array = b.array.view(FakeCupy)
    try:
        with pytest.raises(RuntimeError, match='expected all tensors on the same device'):
            a + b
    except RuntimeError as err:  # no CuPy: asking for its module already fails, clearly
        assert 'CuPy' in str(err) or 'GPU' in str(err)


def test_default_cost_rule_is_elementwise():
    ctx = type('C', (), {'needs_input_grad': (True, False)})()
    cost = Function.cost(ctx, [np.zeros(6), np.zeros(6)], [np.zeros(6)])
    assert cost == Cost(forward_flops=6, backward_input_flops=6)


def test_apply_hook_sees_every_forward():
    from minidl import autograd
    seen = []
    hook = lambda fn, ctx, ins, outs: seen.append(fn.__name__)  # noqa: E731
    with autograd.register_apply_hook(hook):
        (leaf(2) * 2).exp()
    assert seen == ['Mul', 'Exp']


def test_zero_dim_results_are_arrays():
    x = minidl.tensor(np.array(2.0), requires_grad=True)
    y = -(x * 0.5).exp()
    assert isinstance(y.array, np.ndarray) and y.shape == ()
    assert 'tensor(' in repr(y)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), -0.5 * np.exp(1.0))


def test_leaves_never_share_a_gradient_array():
    a, b = leaf(3), leaf(3)
    (a + b).backward(minidl.ones(3, dtype=np.float64))
    assert not np.shares_memory(a.grad.array, b.grad.array)
    a.grad.zero_()
    np.testing.assert_array_equal(b.grad.numpy(), np.ones(3))


def test_leaf_gradient_is_not_a_view_of_another_array():
    a = leaf(2, 3)
    a.reshape(6).backward(minidl.ones(6, dtype=np.float64))
    assert a.grad.array.flags.owndata


# ---------------------------------------------------------------- torch.autograd's names

class MyReLU(minidl.autograd.Function):
    """PyTorch's tutorial Function: forward and backward call Tensor methods."""

    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return input.clamp(min=0)

    @staticmethod
    def backward(ctx, grad_output):
        input, = ctx.saved_tensors
        grad_input = grad_output.clone()
        grad_input[input < 0] = 0
        return grad_input


class ScaledSum(minidl.autograd.Function):
    """Two tensor inputs and a number; the number's gradient is None."""

    @staticmethod
    def forward(ctx, x, w, scale):
        ctx.save_for_backward(x, w)
        ctx.scale = scale
        return (x * w).sum(dim=1) * scale

    @staticmethod
    def backward(ctx, grad):
        x, w = ctx.saved_tensors
        g = grad.unsqueeze(1) * ctx.scale
        return (g * w if ctx.needs_input_grad[0] else None), g * x, None


def test_torch_style_function_sees_tensors_and_matches_torch():
    torch = require_torch()

    class TorchScaledSum(torch.autograd.Function):   # the same code, run by PyTorch
        forward = staticmethod(ScaledSum.forward)
        backward = staticmethod(ScaledSum.backward)

    x, w = np.random.randn(3, 4), np.random.randn(3, 4)
    mx, mw = minidl.tensor(x, requires_grad=True), minidl.tensor(w, requires_grad=True)
    out = ScaledSum.apply(mx, mw, 0.5)
    assert repr(out.grad_fn) == '<ScaledSumBackward>' and out.requires_grad
    out.sum().backward()
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    TorchScaledSum.apply(tx, tw, 0.5).sum().backward()
    np.testing.assert_allclose(mx.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(mw.grad.numpy(), tw.grad.numpy(), rtol=1e-12)
    assert minidl.autograd.gradcheck(MyReLU.apply, (leaf(5),))
    assert minidl.autograd.gradcheck(lambda a, b: ScaledSum.apply(a, b, 2.0), (leaf(2, 3), leaf(2, 3)))


def test_torch_style_function_runs_without_recording_and_checks_gradient_count():
    seen = []

    class Probe(minidl.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            seen.append((minidl.is_grad_enabled(), type(x)))
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            return grad * 2, None          # a trailing None is allowed, as in PyTorch

    Probe.apply(leaf(3)).sum().backward()
    assert seen == [(False, minidl.Tensor)]

    class TooFew(minidl.autograd.Function):
        @staticmethod
        def forward(ctx, x, y):
            return x + y

        @staticmethod
        def backward(ctx, grad):
            return grad

    with pytest.raises(RuntimeError, match=r'TooFewBackward returned an incorrect number of '
                                           r'gradients \(expected 2, got 1\)'):
        TooFew.apply(leaf(2), leaf(2)).sum().backward()


def test_setup_context_non_differentiable_outputs_and_materialize_grads():
    class SortWithIndex(minidl.autograd.Function):
        @staticmethod
        def forward(x):
            order = minidl.tensor(np.argsort(x.numpy()))
            return x[order], order

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.set_materialize_grads(False)
            ctx.mark_non_differentiable(output[1])
            ctx.save_for_backward(output[1])

        @staticmethod
        def backward(ctx, grad_values, grad_order):
            (order,) = ctx.saved_tensors
            assert grad_order is None              # not materialised
            grad = minidl.zeros_like(grad_values)
            grad[order] = grad_values
            return grad

    x = leaf(5)
    values, order = SortWithIndex.apply(x)
    assert values.requires_grad and not order.requires_grad and order.grad_fn is None
    (values * minidl.arange(5).double()).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy()[order.numpy()], np.arange(5.0))


def test_functions_of_minidl_are_array_functions():
    with pytest.raises(TypeError, match="minidl's operators subclass ArrayFunction"):
        type('Op', (minidl.autograd.Function,), {'__module__': 'minidl.functional.new'})
    assert minidl.Function is minidl.autograd.ArrayFunction


def test_grad_matches_torch_and_touches_no_grad_attribute():
    torch = require_torch()
    a, b = np.random.randn(3), np.random.randn(3)
    ma, mb = minidl.tensor(a, requires_grad=True), minidl.tensor(b, requires_grad=True)
    hidden = ma * mb
    out = (hidden.exp() * ma).sum()
    g_a, g_hidden = minidl.autograd.grad(out, [ma, hidden], retain_graph=True)
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    t_hidden = ta * tb
    t_out = (t_hidden.exp() * ta).sum()
    e_a, e_hidden = torch.autograd.grad(t_out, [ta, t_hidden])
    np.testing.assert_allclose(g_a.numpy(), e_a.numpy(), rtol=1e-12)
    np.testing.assert_allclose(g_hidden.numpy(), e_hidden.numpy(), rtol=1e-12)
    assert ma.grad is None and mb.grad is None
    unused = leaf(2)
    with pytest.raises(RuntimeError, match='appears to not have been used in the graph'):
        minidl.autograd.grad(out, [unused], retain_graph=True)
    assert minidl.autograd.grad(out, [unused], allow_unused=True, retain_graph=True) == (None,)
    zeros, = minidl.autograd.grad(out, [unused], materialize_grads=True)
    assert zeros.tolist() == [0.0, 0.0]
    with pytest.raises(NotImplementedError, match='first-order gradients only'):
        minidl.autograd.grad(out, [ma], create_graph=True)


def test_backward_of_several_outputs_in_one_walk_matches_torch():
    torch = require_torch()
    x = np.random.randn(4)
    mx = minidl.tensor(x, requires_grad=True)
    shared = mx * 3
    y1, y2 = shared.sum(), (shared * shared)
    minidl.autograd.backward([y1, y2], [None, minidl.ones(4, dtype=minidl.float64)])
    tx = torch.tensor(x, requires_grad=True)
    t_shared = tx * 3
    torch.autograd.backward([t_shared.sum(), t_shared * t_shared], [None, torch.ones(4, dtype=torch.float64)])
    np.testing.assert_allclose(mx.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
    # inputs=: only those tensors accumulate
    a, b = leaf(2), leaf(2)
    minidl.autograd.backward((a * b).sum(), inputs=[a])
    assert a.grad is not None and b.grad is None
    np.testing.assert_allclose(a.grad.numpy(), b.numpy())


def test_variable_inference_mode_and_once_differentiable():
    from minidl.autograd import Variable, inference_mode, once_differentiable
    t = minidl.ones(2)
    v = Variable(t, requires_grad=True)
    assert v is t and t.requires_grad and isinstance(t, Variable)
    with inference_mode():
        assert not minidl.is_grad_enabled()
        with inference_mode(False):
            assert minidl.is_grad_enabled()
    assert minidl.inference_mode is inference_mode

    def backward(ctx, g):
        return g
    assert once_differentiable(backward) is backward
    assert minidl.autograd.gradcheck is minidl.gradcheck


# ---------------------------------------------------------------- version counters

def _raises_like_torch(build, change, match):
    """``change`` after ``build`` makes backward raise in minidl (naming ``match``) and in
    PyTorch alike."""
    from tests.parity import require_torch
    torch = require_torch()
    for lib in (minidl, torch):
        x = lib.tensor(np.arange(1.0, 7.0).reshape(2, 3), requires_grad=True)
        w = lib.tensor(np.linspace(-1, 1, 12).reshape(3, 4), requires_grad=True)
        out, changed = build(lib, x, w)
        change(lib, changed)
        expected = match if lib is minidl else 'modified by an inplace operation'
        with pytest.raises(RuntimeError, match=expected):
            out.sum().backward()


def test_changed_saved_output_raises():
    _raises_like_torch(lambda lib, x, w: (2 * (y := x.sigmoid()), y),
                       lambda lib, y: y.mul_(2),
                       r'SigmoidBackward: .* output 0 of Sigmoid \(a float64 tensor of shape '
                       r'\(2, 3\)\), saved for backward, is at version 1; expected version 0 '
                       r'.*last changed by mul_')


def test_changed_saved_input_raises():
    _raises_like_torch(lambda lib, x, w: ((h := x * 1) @ w, h),
                       lambda lib, h: h.add_(1), r'MatMulBackward: .* the input 0 of MatMul')


def test_weight_changed_under_no_grad_raises():
    def change(lib, w):
        with lib.no_grad():
            w -= 0.1
    _raises_like_torch(lambda lib, x, w: (x @ w, w), change, 'the input 1 of MatMul')


def test_change_through_detach_raises():
    _raises_like_torch(lambda lib, x, w: ((y := x.exp()), y), lambda lib, y: y.detach().zero_(),
                       'output 0 of Exp')


def test_change_through_a_view_raises():
    _raises_like_torch(lambda lib, x, w: ((y := x.exp()), y), lambda lib, y: y[0].mul_(2),
                       'output 0 of Exp')


def test_optimizer_step_between_forward_and_backward_raises():
    w = minidl.nn.Parameter(minidl.tensor(np.ones((3, 2))))
    x = leaf(4, 3)
    out = (x @ w).sum()
    opt = minidl.optim.SGD([w], lr=0.1)
    w.grad = minidl.ones(3, 2, dtype=np.float64)
    opt.step()
    with pytest.raises(RuntimeError, match='last changed by SGD.step'):
        out.backward()


def test_legitimate_inplace_changes_do_not_raise():
    x = leaf(2, 3)
    y = x * 2                      # saves only the number 2
    y.add_(1).mul_(3)              # nothing saved is touched
    z = (y * y).sum()
    z.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * (3 * (2 * x.numpy() + 1)) * 6)
    # a change after backward, and a change of a clone, are fine
    s = x.sigmoid()
    s.sum().backward()
    s.mul_(2)
    t = x.sigmoid()
    t.clone().mul_(2)
    t.sum().backward()


def test_versions_count_like_pytorch():
    from tests.parity import require_torch
    torch = require_torch()
    seen = []
    for lib in (minidl, torch):
        t = lib.ones(4)
        view, alias, data = t[1:], t.detach(), t.data
        counts = []
        for change in (lambda: t.add_(1), lambda: view.mul_(2), lambda: alias.zero_(),
                       lambda: data.fill_(3), lambda: t.__setitem__(0, 5.0),
                       lambda: t.__iadd__(1)):
            change()
            counts.append((t._version, view._version, alias._version, data._version))
        seen.append(counts)
    assert seen[0] == seen[1]


def test_saved_versions_are_dropped_after_backward():
    x = leaf(3)
    y = x.exp()
    node = y.grad_fn
    assert node.saved_versions
    y.sum().backward()
    assert node.saved_versions == () and node.ctx is None


def test_views_share_the_counter_and_know_their_base():
    x = leaf(2, 3) * 1
    v = x[0]
    assert v._base is x and v._is_view() and v._version_counter is x._version_counter
    assert x.reshape(3, 2)._base is x and v.view(3)._base is x
    assert x.clone()._base is None and x.data._base is None
    assert x.exp()._version_counter is not x._version_counter


def test_inplace_rebases_the_history():
    x = leaf(3)
    y = x * 2
    y.sin_()                       # saves a copy of what it overwrites
    assert y.grad_fn.name() == 'SinBackward'
    assert y.grad_fn.next_functions[0][0].name() == 'MulBackward'
    y.retain_grad()
    y.add_(1)
    y.sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), np.ones(3))
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.cos(2 * x.numpy()))


# ---------------------------------------------------------------- post-accumulate-grad hooks

def test_post_accumulate_grad_hook_runs_once_with_the_whole_gradient():
    w = leaf(3)
    seen = []
    w.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.numpy().copy()))
    x = minidl.tensor(np.arange(3.0))
    ((w * x).sum() + (w * w).sum() + w.exp().sum()).backward()   # three uses of w
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], x.numpy() + 2 * w.numpy() + np.exp(w.numpy()))
    ((w * x).sum()).backward()                                    # again: accumulated
    assert len(seen) == 2
    np.testing.assert_allclose(seen[1], seen[0] + x.numpy())


def test_post_accumulate_grad_hooks_run_in_order_can_change_grad_and_can_be_removed():
    w = leaf(2)
    calls = []

    def double(t):
        calls.append('double')
        t.grad.array[...] *= 2

    first = w.register_post_accumulate_grad_hook(double)
    w.register_post_accumulate_grad_hook(lambda t: calls.append(t.grad.numpy().tolist()))
    (w * 3).sum().backward()
    assert calls == ['double', [6.0, 6.0]]
    first.remove()
    w.grad = None
    (w * 3).sum().backward()
    assert calls[2:] == [[3.0, 3.0]]


def test_post_accumulate_grad_hook_fires_as_soon_as_the_leaf_is_complete():
    # a -> b -> loss: a's gradient is final before b's inputs are walked, and the hook of
    # the leaf used later in the forward (w2) fires before the one used earlier (w1)
    w1, w2 = leaf(2), leaf(2)
    order = []
    w1.register_post_accumulate_grad_hook(lambda t: order.append('w1'))
    w2.register_post_accumulate_grad_hook(lambda t: order.append('w2'))
    ((w1 * 2).exp() * w2).sum().backward()
    assert order == ['w2', 'w1']


def test_post_accumulate_grad_hook_on_a_root_leaf_and_not_without_a_gradient():
    w, unused = leaf(2), leaf(2)
    seen = []
    w.register_post_accumulate_grad_hook(lambda t: seen.append('w'))
    unused.register_post_accumulate_grad_hook(lambda t: seen.append('unused'))
    w.backward(minidl.ones(2, dtype=np.float64))
    (w * 2).sum().backward()
    assert seen == ['w', 'w']


def test_post_accumulate_grad_hook_only_on_leaves():
    with pytest.raises(RuntimeError, match='non-leaf'):
        (leaf(2) * 2).register_post_accumulate_grad_hook(lambda t: None)


def test_post_accumulate_grad_hook_once_per_multi_root_backward_and_not_in_grad():
    w = leaf(2)
    seen = []
    w.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.numpy().copy()))
    minidl.autograd.backward([(w * 2).sum(), (w * 3).sum(), w.sum()])
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], [6.0, 6.0])
    minidl.autograd.grad((w * w).sum(), [w])           # accumulates nothing: no hook
    assert len(seen) == 1


# ---------------------------------------------------------------- Tensor.register_hook

def test_register_hook_sees_and_replaces_gradients_as_in_pytorch():
    torch = require_torch()

    def run(x):
        seen = []
        x.register_hook(lambda g: seen.append(('x', g.tolist())))
        x.register_hook(lambda g: g * 10)          # leaf: replaces what reaches .grad
        y = x * 3
        y.register_hook(lambda g: seen.append(('y', g.tolist())) or g * 100)
        y.retain_grad()                            # sees the replaced gradient
        z = (y * y.detach()).sum() + (x * 2).sum() + x.sum()
        z.backward()
        return seen, x.grad.tolist(), y.grad.tolist()

    ours = run(minidl.tensor([1.0, 2.0], requires_grad=True))
    theirs = run(torch.tensor([1.0, 2.0], requires_grad=True))
    assert ours == theirs


def test_register_hook_runs_once_on_the_summed_gradient_of_a_leaf_used_twice():
    calls = []
    w = leaf(2)
    w.register_hook(lambda g: calls.append(g.numpy().copy()))
    w.register_post_accumulate_grad_hook(lambda t: calls.append('post'))
    (w * 2 + w * 3).sum().backward()
    assert len(calls) == 2 and calls[1] == 'post'
    np.testing.assert_array_equal(calls[0], [5.0, 5.0])
    w.register_hook(lambda g: g * 0)
    (w * 2).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [5.0, 5.0])   # the hook zeroed the new part


def test_register_hook_on_roots_in_autograd_grad_and_removal():
    torch = require_torch()
    for lib in (minidl, torch):
        b = lib.ones(2, requires_grad=True)
        handle = b.register_hook(lambda g: g * 5)
        assert lib is torch or isinstance(handle, minidl.autograd.RemovableHandle)
        b.backward(lib.ones(2))
        assert b.grad.tolist() == [5.0, 5.0]
        handle.remove()
        b.backward(lib.ones(2))
        assert b.grad.tolist() == [6.0, 6.0]
        c = lib.ones(2, requires_grad=True)
        d = c * 2
        d.register_hook(lambda g: g * 7)
        c.register_hook(lambda g: g + 1)
        # autograd.grad: a leaf's gradient after its hooks, a non-leaf's before them
        assert [g.tolist() for g in lib.autograd.grad(d.sum(), [c, d])] == [[15.0, 15.0],
                                                                              [1.0, 1.0]]


def test_register_hook_errors():
    with pytest.raises(RuntimeError, match="cannot register a hook on a tensor that doesn't "
                                           "require gradient"):
        minidl.ones(2).register_hook(print)
    a = leaf(2)
    a.register_hook(lambda g: minidl.ones(3, dtype=minidl.float64))
    with pytest.raises(RuntimeError, match="hook '<lambda>' has changed the size of value"):
        (a * 2).sum().backward()
    b = leaf(2)
    b.register_hook(lambda g: g.float())
    with pytest.raises(RuntimeError, match="hook '<lambda>' has changed the type of value"):
        (b * 2).sum().backward()


def _all_subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_subclasses(sub)


def test_no_operator_backward_ends_in_hand_counted_nones():
    """minidl's operators pass settings as keywords, and backward returns gradients up to
    the last floating-point Tensor input: no ``return dx, None, None`` tails (the engine
    fills the rest)."""
    import ast
    import inspect
    import textwrap
    offenders = []
    for cls in set(_all_subclasses(minidl.autograd.ArrayFunction)):
        if not cls.__module__.startswith('minidl.') or 'backward' not in vars(cls):
            continue
        source = textwrap.dedent(inspect.getsource(cls.backward))
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Return) and isinstance(node.value, ast.Tuple) and \
                    node.value.elts and isinstance(node.value.elts[-1], ast.Constant) and \
                    node.value.elts[-1].value is None:
                offenders.append(f'{cls.__module__}.{cls.__qualname__} line {node.lineno}')
    assert len(set(_all_subclasses(minidl.autograd.ArrayFunction))) > 50
    assert offenders == [], offenders
