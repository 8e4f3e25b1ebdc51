"""Loss functions: cross_entropy (log-softmax and NLL fused; class indices or class
probabilities), nll_loss, mse_loss, binary_cross_entropy and
binary_cross_entropy_with_logits (the sigmoid fused in).

Class-index losses take an input of shape (N, C) or (N, C, d1, ...) (or (C,) for one
sample) and an integer target of shape (N,) or (N, d1, ...). With ``reduction='mean'``
the losses are divided by the total weight of the counted targets, as in PyTorch:
sum_i w[t_i] over targets that are not ``ignore_index`` (their number without weights).
"""
import warnings

import numpy as np

from ..autograd import ArrayFunction as Function, Cost, is_grad_enabled
from ..backend import get_array_module
from ._util import check_tensor, keep_where, logistic, quiet, raw, softplus

__all__ = ['cross_entropy', 'nll_loss', 'mse_loss', 'binary_cross_entropy',
           'binary_cross_entropy_with_logits']

_REDUCTIONS = ('mean', 'sum', 'none')


def _class_axis(x):
    return 1 if x.ndim > 1 else 0


def _along_class_axis(values, axis, ndim):
    """A (C,) vector shaped to broadcast along the class axis of an ndim-array."""
    return values.reshape([-1 if i == axis else 1 for i in range(ndim)])


def _target_weights(x, target, weight, ignore_index):
    """The safe target (ignored entries replaced by class 0), and the weight w[t_i] of
    each target, 0 where it is ignored."""
    xp = get_array_module(x)
    counted = target != ignore_index
    safe_target = xp.where(counted, target, 0)
    if weight is None:
        return safe_target, counted, counted.astype(x.dtype)
    return safe_target, counted, weight.astype(x.dtype, copy=False)[safe_target] * counted


def _reduce(losses, target_weights, reduction):
    xp = get_array_module(losses)
    if reduction == 'none':
        return losses
    total = losses.sum()
    if reduction == 'mean':
        with quiet(xp):  # every target ignored: 0/0 = nan, as in PyTorch
            total = total / target_weights.sum()
    return xp.asarray(total, dtype=losses.dtype)


def _upstream_scale(ctx, grad, counted):
    """dL/d(loss_i) for each target: the incoming gradient, divided by the total weight
    for 'mean', and an exact 0 for an ignored target (also when every target is ignored
    and the total weight is 0), as PyTorch's nll_loss_backward."""
    if ctx.reduction == 'mean':
        with quiet(get_array_module(grad)):  # total weight 0: nan, like the forward
            grad = grad / ctx.total_weight
    return keep_where(counted, grad)


class CrossEntropy(Function):
    @staticmethod
    def forward(ctx, x, target, *, weight, ignore_index, reduction, label_smoothing):
        xp = get_array_module(x)
        axis = _class_axis(x)
        classes = x.shape[axis]
        shifted = x - x.max(axis=axis, keepdims=True)  # e^(x - max) never overflows
        exp = xp.exp(shifted)
        sum_exp = exp.sum(axis=axis, keepdims=True)
        log_probs = shifted - xp.log(sum_exp)
        safe_target, counted, target_weight = _target_weights(x, target, weight, ignore_index)
        index = xp.expand_dims(safe_target, axis)
        picked = xp.take_along_axis(log_probs, index, axis=axis).squeeze(axis)
        losses = -target_weight * picked
        if label_smoothing:
            if weight is not None:
                weighted = log_probs * _along_class_axis(weight.astype(x.dtype, copy=False),
                                                         axis, x.ndim)
            else:
                weighted = log_probs
            smooth = -weighted.sum(axis=axis) * counted
            losses = (1 - label_smoothing) * losses + (label_smoothing / classes) * smooth
        exp /= sum_exp  # now the softmax, all that backward needs of the input side
        ctx.save_for_backward(exp, index, target_weight, counted,
                              weight if label_smoothing else None)
        ctx.axis, ctx.reduction, ctx.smoothing = axis, reduction, label_smoothing
        ctx.total_weight = target_weight.sum() if reduction == 'mean' else None
        return _reduce(losses, target_weight, reduction)

    @staticmethod
    def backward(ctx, grad):
        """With p = softmax(x), log p_k = x_k - log sum_j e^x_j, so
        d log p_k / dx_c = [k = c] - p_c. For loss_i = -w_t log p_t:
            dloss_i/dx_c = w_t (p_c - [c = t]),      which is (p - onehot)/N for 'mean'.
        Label smoothing e adds (e/C) * (-sum_k w_k log p_k), whose derivative is
            (e/C) (W p_c - w_c),  W = sum_k w_k   (C p_c - 1 without weights).
        An ignored target's row is an exact 0 (_upstream_scale)."""
        probs, index, target_weight, counted, weight = ctx.saved_tensors
        xp = get_array_module(grad)
        axis, eps = ctx.axis, ctx.smoothing
        classes = probs.shape[axis]
        scale = _upstream_scale(ctx, grad, counted)
        coefficient = xp.expand_dims((1 - eps) * scale * target_weight, axis)
        positions = _along_class_axis(xp.arange(classes), axis, probs.ndim)
        grad_x = coefficient * (probs - (positions == index))
        if eps:
            smooth = xp.expand_dims((eps / classes) * scale, axis)
            if weight is None:
                grad_x += smooth * (classes * probs - 1)
            else:
                weight = weight.astype(probs.dtype, copy=False)
                grad_x += smooth * (weight.sum() * probs - _along_class_axis(weight, axis, probs.ndim))
        return grad_x.astype(probs.dtype, copy=False)   # target: class indices, no gradient

    @staticmethod
    def cost(ctx, inputs, outputs):
        n = inputs[0].size  # max, subtract, exp, sum, log, normalise; backward 3 per element
        return Cost(forward_flops=6 * n,
                    backward_input_flops=3 * n if ctx.needs_input_grad[0] else 0)


class CrossEntropyProbs(Function):
    """Cross-entropy against class probabilities: target has the input's shape and
    loss_i = -sum_c w_c y_ic log p_ic, p = softmax over the class axis, y the target
    smoothed to y (1 - e) + e/C. 'mean' divides by the number of samples N (not by the
    weights), as PyTorch does for probability targets."""

    @staticmethod
    def forward(ctx, x, target, weight, *, reduction, label_smoothing):
        xp = get_array_module(x)
        axis = _class_axis(x)
        classes = x.shape[axis]
        shifted = x - (x.max(axis=axis, keepdims=True) if x.size else 0)
        log_probs = shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))
        smoothed = target.astype(x.dtype, copy=False)
        if label_smoothing:
            smoothed = smoothed * (1 - label_smoothing) + label_smoothing / classes
        w = 1 if weight is None else _along_class_axis(weight.astype(x.dtype, copy=False),
                                                       axis, x.ndim)
        weighted = smoothed * w                     # q = w y, per class
        losses = -(weighted * log_probs).sum(axis=axis)
        samples = x.size // classes if classes else 0
        ctx.save_for_backward(log_probs, weighted, smoothed if ctx.needs_input_grad[2] else None,
                              weight)
        ctx.axis, ctx.reduction, ctx.smoothing = axis, reduction, label_smoothing
        ctx.samples, ctx.target_dtype = samples, target.dtype
        if reduction == 'none':
            return losses
        with quiet(xp):  # no samples: 'mean' is 0/0 = nan, as in PyTorch
            total = losses.sum() / samples if reduction == 'mean' else losses.sum()
        return xp.asarray(total, dtype=x.dtype)

    @staticmethod
    def backward(ctx, grad):
        """With q = w y and log p_c = x_c - log sum_k e^x_k:
            dloss_i/dx_c = p_c sum_k q_k - q_c,
            dloss_i/dy_c = -(1 - e) w_c log p_c,
            dloss/dw_c   = -sum_i y_ic log p_ic,
        each times the upstream gradient (over N for 'mean')."""
        log_probs, weighted, smoothed, weight = ctx.saved_tensors
        xp = get_array_module(grad)
        axis = ctx.axis
        with quiet(xp):
            if ctx.reduction == 'mean':
                grad = grad / ctx.samples
        scale = xp.expand_dims(grad, axis) if ctx.reduction == 'none' else grad
        need_x, need_t, need_w = ctx.needs_input_grad[:3]
        grad_x = grad_t = grad_w = None
        if need_x:
            total = weighted.sum(axis=axis, keepdims=True)
            grad_x = scale * (xp.exp(log_probs) * total - weighted)
        if need_t:
            w = 1 if weight is None else _along_class_axis(
                weight.astype(log_probs.dtype, copy=False), axis, log_probs.ndim)
            grad_t = (-(1 - ctx.smoothing) * scale * w * log_probs).astype(ctx.target_dtype)
        if need_w:
            per_class = -(scale * smoothed * log_probs)
            grad_w = per_class.sum(axis=tuple(a for a in range(per_class.ndim) if a != axis))
            grad_w = grad_w.astype(weight.dtype, copy=False)
        return grad_x, grad_t, grad_w

    @staticmethod
    def cost(ctx, inputs, outputs):
        n = inputs[0].size  # log-softmax 5 per element, weighted product and sum 3
        return Cost(forward_flops=8 * n,
                    backward_input_flops=4 * n if ctx.needs_input_grad[0] else 0)


class NLLLoss(Function):
    @staticmethod
    def forward(ctx, log_probs, target, *, weight, ignore_index, reduction):
        xp = get_array_module(log_probs)
        axis = _class_axis(log_probs)
        safe_target, counted, target_weight = _target_weights(log_probs, target, weight,
                                                              ignore_index)
        index = xp.expand_dims(safe_target, axis)
        picked = xp.take_along_axis(log_probs, index, axis=axis).squeeze(axis)
        ctx.save_for_backward(index, target_weight, counted)
        ctx.shape, ctx.axis, ctx.reduction = log_probs.shape, axis, reduction
        ctx.total_weight = target_weight.sum() if reduction == 'mean' else None
        return _reduce(-target_weight * picked, target_weight, reduction)

    @staticmethod
    def backward(ctx, grad):
        """loss_i = -w_t x_{i,t}: dloss_i/dx_{i,c} = -w_t at c = t, 0 elsewhere (an exact 0
        for an ignored target: _upstream_scale)."""
        index, target_weight, counted = ctx.saved_tensors
        xp = get_array_module(grad)
        scale = _upstream_scale(ctx, grad, counted)
        positions = _along_class_axis(xp.arange(ctx.shape[ctx.axis]), ctx.axis, len(ctx.shape))
        picked_grad = xp.expand_dims(-scale * target_weight, ctx.axis).astype(grad.dtype)
        grad_x = xp.where(positions == index, picked_grad, xp.zeros((), dtype=grad.dtype))
        return grad_x   # target: class indices, no gradient

    @staticmethod
    def cost(ctx, inputs, outputs):
        n = inputs[1].size  # one weighted pick per target
        return Cost(forward_flops=2 * n,
                    backward_input_flops=inputs[0].size if ctx.needs_input_grad[0] else 0)


class MSELoss(Function):
    @staticmethod
    def forward(ctx, x, y, *, reduction):
        xp = get_array_module(x, y)
        difference = x - y
        ctx.save_for_backward(difference)
        ctx.reduction = reduction
        squares = difference * difference
        if reduction == 'none':
            return squares
        total = squares.sum() if reduction == 'sum' else squares.mean()
        return xp.asarray(total, dtype=squares.dtype)

    @staticmethod
    def backward(ctx, grad):
        """loss = (x - y)^2 per element: dloss/dx = 2 (x - y) = -dloss/dy, divided by the
        number of elements for 'mean'."""
        (difference,) = ctx.saved_tensors
        scale = grad * (2 / difference.size if ctx.reduction == 'mean' else 2)
        grad_x = difference * scale
        return (grad_x if ctx.needs_input_grad[0] else None,
                -grad_x if ctx.needs_input_grad[1] else None)

    @staticmethod
    def cost(ctx, inputs, outputs):
        n = max(getattr(a, 'size', 1) for a in inputs[:2])
        grads = sum(1 for need in ctx.needs_input_grad if need)
        return Cost(forward_flops=3 * n, backward_input_flops=2 * n * grads)


# ---------------------------------------------------------------- the public functions

def _check_reduction(op, reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _check_class_weight(op, input, weight):
    if weight is None:
        return
    check_tensor(weight, op, 'weight')
    classes = input.shape[_class_axis(input)]
    if weight.shape != (classes,):
        raise ValueError(f'{op}: weight must have shape ({classes},), one per class, '
                         f'got {weight.shape}')


def _check_class_inputs(op, input, target, weight, ignore_index):
    """Shapes, dtypes and class range of a class-index loss; returns the class count."""
    check_tensor(input, op)
    check_tensor(target, op, 'target')
    if input.dtype.kind != 'f':
        raise TypeError(f'{op}: input must be floating point, got {input.dtype}')
    if target.dtype.kind not in 'iu':
        hint = ('; class probabilities need a target of the input\'s shape '
                f'{input.shape}' if op == 'cross_entropy' else '')
        raise TypeError(f'{op}: target must hold class indices (an integer tensor), got '
                        f'{target.dtype} of shape {target.shape}{hint}')
    if input.ndim == 0:
        raise ValueError(f'{op}: input must have a class dimension, got shape {input.shape}')
    axis = 1 if input.ndim > 1 else 0
    classes = input.shape[axis]
    expected = input.shape[:axis] + input.shape[axis + 1:]
    if target.shape != expected:
        raise ValueError(f'{op}: input of shape {input.shape} needs a target of shape '
                         f'{expected}, got {target.shape}')
    _check_class_weight(op, input, weight)
    t = target.array
    outside = (t != ignore_index) & ((t < 0) | (t >= classes))
    if bool(outside.any()):
        bad = int(t[outside].reshape(-1)[0])
        raise IndexError(f'{op}: target {bad} is out of range for {classes} classes')


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction='mean',
                  label_smoothing=0.0):
    """log_softmax over the class dimension followed by the negative log-likelihood,
    in one stable step. ``target`` holds class indices (shape (N, d1, ...)), or class
    probabilities when it has the input's shape (a floating-point tensor; then
    ``ignore_index`` is not allowed, 'mean' divides by N and ``weight`` gets a
    gradient), as in PyTorch. ``label_smoothing`` e mixes the target with the uniform
    distribution: (1 - e) target + e / C."""
    op = 'cross_entropy'
    _check_reduction(op, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f'{op}: label_smoothing must be between 0.0 and 1.0, got '
                         f'{label_smoothing}')
    check_tensor(input, op)
    check_tensor(target, op, 'target')
    if input.ndim and target.shape == input.shape:  # PyTorch: the same shape means probabilities
        if input.dtype.kind != 'f' or target.dtype.kind != 'f':
            raise TypeError(f'{op}: class-probability targets (the input\'s shape '
                            f'{input.shape}) need floating-point input and target, got '
                            f'{input.dtype} and {target.dtype}')
        if ignore_index != -100:
            raise ValueError(f'{op}: ignore_index is not supported for class-probability '
                             f'(floating point) targets, got ignore_index={ignore_index}')
        _check_class_weight(op, input, weight)
        return CrossEntropyProbs.apply(input, target, weight, reduction=reduction,
                                       label_smoothing=float(label_smoothing))
    _check_class_inputs(op, input, target, weight, ignore_index)
    return CrossEntropy.apply(input, target, weight=raw(weight), ignore_index=ignore_index,
                              reduction=reduction, label_smoothing=float(label_smoothing))


def nll_loss(input, target, weight=None, ignore_index=-100, reduction='mean'):
    """Negative log-likelihood of log-probabilities ``input`` at the target classes."""
    _check_reduction('nll_loss', reduction)
    _check_class_inputs('nll_loss', input, target, weight, ignore_index)
    return NLLLoss.apply(input, target, weight=raw(weight), ignore_index=ignore_index,
                         reduction=reduction)


def mse_loss(input, target, reduction='mean'):
    """Mean (or sum, or each) of the squared differences (broadcasting as PyTorch)."""
    _check_reduction('mse_loss', reduction)
    check_tensor(input, 'mse_loss')
    check_tensor(target, 'mse_loss', 'target')
    for x, y in zip(reversed(input.shape), reversed(target.shape)):
        if x != y and x != 1 and y != 1:
            raise ValueError(f'mse_loss: input of shape {input.shape} and target of shape '
                             f'{target.shape} cannot be broadcast together')
    return MSELoss.apply(input, target, reduction=reduction)


# ================================================================ binary cross-entropy
# binary_cross_entropy (on probabilities) and binary_cross_entropy_with_logits (the
# sigmoid fused in, stable for any logit); kept in this section of their own.

_BCE_EPSILON = 1e-12   # PyTorch's floor of x (1 - x) in the gradient's denominator


def _reduce_elementwise(xp, losses, reduction):
    """'none': the losses; 'sum' or 'mean' over every element, as a 0-d array."""
    if reduction == 'none':
        return losses
    total = losses.sum() if reduction == 'sum' else losses.mean()
    return xp.asarray(total, dtype=losses.dtype)


def _elementwise_scale(grad, reduction, count):
    """dL/d(loss_i): the upstream gradient, over the number of losses for 'mean'."""
    return grad / count if reduction == 'mean' else grad


class BinaryCrossEntropy(Function):
    @staticmethod
    def forward(ctx, x, y, *, weight, reduction):
        xp = get_array_module(x)
        with quiet(xp):   # log 0 = -inf, floored at -100 as PyTorch does
            log_x = xp.maximum(xp.log(x), -100)
            log_not_x = xp.maximum(xp.log1p(-x), -100)
        losses = -(y * log_x + (1 - y) * log_not_x)
        if weight is not None:
            losses = losses * weight
        ctx.save_for_backward(x, y, weight)
        ctx.reduction, ctx.count = reduction, losses.size
        return _reduce_elementwise(xp, losses.astype(x.dtype, copy=False), reduction)

    @staticmethod
    def backward(ctx, grad):
        """loss = -w (y log x + (1 - y) log(1 - x)):
            dloss/dx = w (x - y) / (x (1 - x))    (denominator floored at 1e-12),
            dloss/dy = w (log(1 - x) - log x),
        each times the upstream gradient (over the number of elements for 'mean')."""
        x, y, weight = ctx.saved_tensors
        xp = get_array_module(x)
        scale = _elementwise_scale(grad, ctx.reduction, ctx.count)
        if weight is not None:
            scale = scale * weight
        grad_x = grad_y = None
        with quiet(xp):
            if ctx.needs_input_grad[0]:
                grad_x = scale * (x - y) / xp.maximum(x * (1 - x), _BCE_EPSILON)
            if ctx.needs_input_grad[1]:
                grad_y = scale * (xp.log1p(-x) - xp.log(x))
        return grad_x, grad_y

    @staticmethod
    def cost(ctx, inputs, outputs):
        n = inputs[0].size   # two logs, the weighted sum, the reduction
        return Cost(forward_flops=7 * n,
                    backward_input_flops=5 * n * sum(ctx.needs_input_grad[:2]))


class BinaryCrossEntropyWithLogits(Function):
    @staticmethod
    def forward(ctx, x, y, *, weight, pos_weight, reduction):
        xp = get_array_module(x)
        softplus_neg = softplus(-x)           # -log sigmoid(x)
        if pos_weight is None:
            losses = (1 - y) * x + softplus_neg
        else:
            losses = (1 - y) * x + ((pos_weight - 1) * y + 1) * softplus_neg
        if weight is not None:
            losses = losses * weight
        ctx.save_for_backward(x, y, weight, pos_weight)
        ctx.reduction, ctx.count = reduction, losses.size
        return _reduce_elementwise(xp, losses.astype(x.dtype, copy=False), reduction)

    @staticmethod
    def backward(ctx, grad):
        """With s = sigmoid(x), -log s = softplus(-x) and -log(1 - s) = x + softplus(-x):
        loss = -w (p y log s + (1 - y) log(1 - s)) = w ((1 - y) x + l softplus(-x)),
        l = (p - 1) y + 1 (p = pos_weight, 1 without), so with d softplus(-x)/dx = s - 1:
            dloss/dx = w (l s - p y),      dloss/dy = w (-x + (p - 1) softplus(-x))."""
        x, y, weight, pos_weight = ctx.saved_tensors
        scale = _elementwise_scale(grad, ctx.reduction, ctx.count)
        if weight is not None:
            scale = scale * weight
        p = 1 if pos_weight is None else pos_weight
        grad_x = grad_y = None
        if ctx.needs_input_grad[0]:
            s = logistic(x)
            grad_x = scale * ((s - y) if pos_weight is None else ((p - 1) * y + 1) * s - p * y)
        if ctx.needs_input_grad[1]:
            grad_y = scale * (-x if pos_weight is None else -x + (p - 1) * softplus(-x))
        return grad_x, grad_y

    @staticmethod
    def cost(ctx, inputs, outputs):
        n = inputs[0].size   # softplus (4), the weighted sum (4), the reduction
        return Cost(forward_flops=9 * n,
                    backward_input_flops=6 * n * sum(ctx.needs_input_grad[:2]))


def legacy_reduction(size_average, reduce, reduction, stacklevel=3):
    """``reduction`` from PyTorch's deprecated ``size_average`` and ``reduce`` (with a
    warning, as PyTorch gives), or ``reduction`` itself when both are None."""
    if size_average is None and reduce is None:
        return reduction
    warnings.warn("size_average and reduce args will be deprecated, please use "
                  "reduction='mean', 'sum' or 'none' instead.", stacklevel=stacklevel)
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return 'none'
    return 'mean' if size_average else 'sum'


def _binary_setting(op, name, value, input):
    """The raw array of ``weight`` or ``pos_weight`` (no gradient, as in PyTorch), which
    must broadcast to the input's shape."""
    if value is None:
        return None
    check_tensor(value, op, name)
    if value.requires_grad and is_grad_enabled():
        raise RuntimeError(f"{op}: the function is not differentiable with respect to "
                           f"argument '{name}'; it cannot have requires_grad=True")
    try:
        shape = np.broadcast_shapes(value.shape, input.shape)
    except ValueError:
        shape = None
    if shape != input.shape:
        raise RuntimeError(f'{op}: {name} of shape {value.shape} does not broadcast to the '
                           f'input shape {input.shape}')
    return value.array.astype(input.dtype, copy=False)


def _binary_inputs(op, input, target, size_average, reduce, reduction):
    """Check the input and the target (one shape, one floating dtype); the reduction,
    from PyTorch's deprecated arguments too."""
    reduction = legacy_reduction(size_average, reduce, reduction, stacklevel=4)
    _check_reduction(op, reduction)
    check_tensor(input, op)
    check_tensor(target, op, 'target')
    if input.dtype.kind != 'f':
        raise TypeError(f'{op}: input must be floating point, got {input.dtype}')
    if target.dtype != input.dtype:
        raise RuntimeError(f'{op}: target has dtype {target.dtype}, the input {input.dtype}; '
                           f'they must match (convert with target.to(input.dtype))')
    if target.shape != input.shape:
        raise ValueError(f'{op}: target of shape {target.shape} must have the input\'s shape '
                         f'{input.shape}')
    return reduction


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction='mean'):
    """-w (y log x + (1 - y) log(1 - x)) per element for probabilities ``input`` (x in
    [0, 1], say after a sigmoid) and targets ``target`` (y in [0, 1], the input's shape
    and dtype); ``weight`` broadcasts to the input's shape. Logarithms are floored at
    -100, as in PyTorch. Prefer ``binary_cross_entropy_with_logits`` on logits: it is
    stable where the sigmoid saturates.

    Raises ValueError when the shapes differ, RuntimeError when an input or target
    element is outside [0, 1] or their dtypes differ."""
    op = 'binary_cross_entropy'
    reduction = _binary_inputs(op, input, target, size_average, reduce, reduction)
    xp = get_array_module(input.array)
    for name, t in (('input', input), ('target', target)):
        if t.numel() and not bool(xp.all((t.array >= 0) & (t.array <= 1))):
            raise RuntimeError(f'{op}: all elements of {name} should be between 0 and 1')
    return BinaryCrossEntropy.apply(input, target, reduction=reduction,
                                    weight=_binary_setting(op, 'weight', weight, input))


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None,
                                     reduce=None, reduction='mean', pos_weight=None):
    """Sigmoid and binary cross-entropy in one stable step, for logits ``input`` and
    targets ``target`` (the input's shape and dtype):
    -w (p y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))) per element, computed as
    w ((1 - y) x + ((p - 1) y + 1) (max(-x, 0) + log(1 + e^-|x|))) (log-sum-exp form,
    no overflow). ``weight`` broadcasts to the input; ``pos_weight`` p weighs the
    positive term, broadcast along the last (class) dimension, as in PyTorch.

    Raises ValueError when the shapes differ, RuntimeError when the dtypes differ."""
    op = 'binary_cross_entropy_with_logits'
    reduction = _binary_inputs(op, input, target, size_average, reduce, reduction)
    return BinaryCrossEntropyWithLogits.apply(
        input, target, reduction=reduction,
        weight=_binary_setting(op, 'weight', weight, input),
        pos_weight=_binary_setting(op, 'pos_weight', pos_weight, input))
