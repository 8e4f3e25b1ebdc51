"""minidl's operators on PyTorch's own test inputs: OpInfo's sample, reference and error
inputs (``torch.testing._internal.common_methods_invocations.op_db``).

``OPS`` maps each OpInfo (by name, with its variant after a dot) to minidl: by default
the function of the same name in ``minidl`` or ``minidl.nn.functional``, and, when the
OpInfo has a method variant, the ``minidl.Tensor`` method of the same name too. A new
operator is one line in ``OPS``.

Every sample runs in float64 (forward, then backward with a random upstream gradient);
the CNN, reduction and loss operators run in float32 too. Tensor arguments are
compared after the call as well (in-place updates such as batch norm's running
statistics, and inputs that must stay unchanged). What minidl refuses must be on
``EXCLUSIONS`` with a reason; what is out of scope is skipped and counted.
"""
import functools
import re
import zlib

import numpy as np
import pytest

import minidl
import minidl.nn.functional as F
from tests.parity import require_torch
from tests.torch_samples import (TOLERANCES, Counts, Exclusion, OutOfScope, assert_close,
                                 check_scope, compare_gradients, compare_outputs, describe,
                                 fresh_leaves, one_torch_thread, record_comparison,
                                 record_error_input, record_refusal, to_minidl)

pytestmark = [
    pytest.mark.cpu_only,  # PyTorch's samples are CPU tensors
    # the reference inputs hold inf, nan and 0 on purpose: NumPy warns where PyTorch is silent
    pytest.mark.filterwarnings('ignore::RuntimeWarning'),
    pytest.mark.filterwarnings('ignore::UserWarning'),
]

# At most this many samples per operator and dtype, picked by a fixed stride (only
# max_pool2d has more: 1440, its parameter grid, of which every third runs).
SAMPLE_CAP = 480


class Op:
    """How minidl runs one OpInfo: ``function`` (None: by name; False: none),
    ``method`` (the Tensor method's name; None: the OpInfo's name when the OpInfo has a
    method variant and minidl.Tensor the method; False: none), ``float32`` (also run in
    float32), ``check`` (replaces the comparison with PyTorch, for random operators),
    ``error_name`` (the operator's name in minidl's errors when it is not the OpInfo's:
    'add' for __radd__)."""

    def __init__(self, function=None, method=None, float32=False, check=None, error_name=None):
        self.function, self.method, self.float32, self.check = function, method, float32, check
        self.error_name = error_name


def _dropout_check(ours, x, p, training):
    """Dropout draws its own mask: every output is 0 or x / (1 - p), and the gradient
    is the upstream one through the same mask and scale."""
    out = ours.numpy()
    xs = x.numpy()
    if not training or p == 0:
        np.testing.assert_array_equal(out, xs)
        return
    scale = 0.0 if p == 1 else 1 / (1 - p)
    kept = out != 0
    np.testing.assert_allclose(out[kept], xs[kept] * scale, rtol=1e-6)
    if x.requires_grad:
        upstream = np.random.default_rng(0).standard_normal(out.shape).astype(out.dtype)
        ours.backward(minidl.tensor(upstream))
        np.testing.assert_allclose(x.grad.numpy(), np.where(kept, upstream * scale, 0),
                                   rtol=1e-6)


def _check_new_empty(x, size, **kwargs):
    """new_empty's values are whatever the memory held: its shape, dtype and flags
    must match."""
    out = x.new_empty(size, **kwargs)
    assert out.shape == tuple(size), f'shape {out.shape}, expected {tuple(size)}'
    assert out.dtype == kwargs.get('dtype', x.dtype), f'dtype {out.dtype}'
    assert out.requires_grad == kwargs.get('requires_grad', False) and out.is_leaf


def _check_dropout(fn):
    def check(x, p=0.5, training=True, inplace=False):
        _dropout_check(fn(x, p, training, inplace), x, p, training)
    return check


# OpInfo name -> Op. An operator minidl gains is one line here, e.g. 'amax': Op(float32=True)
OPS = {
    # elementwise
    'abs': Op(), 'neg': Op(), 'exp': Op(), 'log': Op(), 'sqrt': Op(),
    'add': Op(), 'sub': Op(), 'mul': Op(), 'pow': Op(),
    'div.no_rounding_mode': Op(), 'div.trunc_rounding': Op(), 'div.floor_rounding': Op(),
    'true_divide': Op(minidl.div, method='div'),
    'maximum': Op(), 'minimum': Op(), 'clamp': Op(),
    'max.binary': Op(), 'min.binary': Op(),
    'where': Op(lambda x, condition, other: minidl.where(condition, x, other), method=False),
    '__radd__': Op(minidl.Tensor.__radd__, method=False, error_name='add'),
    '__rsub__': Op(minidl.Tensor.__rsub__, method=False, error_name='sub'),
    '__rmul__': Op(minidl.Tensor.__rmul__, method=False, error_name='mul'),
    '__rdiv__': Op(minidl.Tensor.__rtruediv__, method=False, error_name='div'),
    '__rpow__': Op(minidl.Tensor.__rpow__, method=False, error_name='pow'),
    'clamp_min': Op(error_name='clamp'), 'clamp_max': Op(error_name='clamp'),
    'lerp': Op(), 'addcmul': Op(), 'addcdiv': Op(),
    'sin': Op(), 'cos': Op(), 'tan': Op(), 'sinh': Op(), 'cosh': Op(), 'exp2': Op(),
    'expm1': Op(), 'log2': Op(), 'log10': Op(), 'log1p': Op(), 'rsqrt': Op(),
    'reciprocal': Op(), 'erf': Op(), 'sign': Op(), 'floor': Op(), 'ceil': Op(),
    'trunc': Op(), 'round': Op(), 'round.decimals_0': Op(), 'round.decimals_3': Op(),
    'round.decimals_neg_3': Op(),
    'eq': Op(), 'ne': Op(), 'lt': Op(), 'le': Op(), 'gt': Op(), 'ge': Op(), 'equal': Op(),
    'double': Op(lambda x, *a, **k: x.double(*a, **k), method=False),
    'float': Op(lambda x, *a, **k: x.float(*a, **k), method=False),
    'long': Op(lambda x, *a, **k: x.long(*a, **k), method=False),
    'int': Op(lambda x, *a, **k: x.int(*a, **k), method=False),
    'bool': Op(lambda x, *a, **k: x.bool(*a, **k), method=False),
    # activations
    'sigmoid': Op(), 'tanh': Op(), 'nn.functional.relu': Op(),
    'nn.functional.leaky_relu': Op(),
    'softmax': Op(float32=True), 'softmax.with_dtype': Op(float32=True),
    'log_softmax': Op(float32=True), 'log_softmax.with_dtype': Op(float32=True),
    # reductions
    'sum': Op(float32=True), 'mean': Op(float32=True),
    'max.reduction_no_dim': Op(float32=True), 'max.reduction_with_dim': Op(float32=True),
    'min.reduction_no_dim': Op(float32=True), 'min.reduction_with_dim': Op(float32=True),
    'var': Op(float32=True), 'var.unbiased': Op(float32=True),
    'std': Op(float32=True), 'std.unbiased': Op(float32=True),
    'argmax': Op(float32=True), 'argmin': Op(float32=True),
    'amax': Op(float32=True), 'amin': Op(float32=True), 'prod': Op(float32=True),
    'cumsum': Op(float32=True), 'logsumexp': Op(float32=True), 'norm': Op(float32=True),
    'norm.fro': Op(float32=True), 'norm.inf': Op(float32=True),
    # indexing and sorting
    'gather': Op(), 'scatter': Op(), 'scatter_add': Op(), 'index_select': Op(),
    'index_add': Op(), 'index_fill': Op(), 'masked_fill': Op(),
    'sort': Op(), 'argsort': Op(), 'topk': Op(),
    'meshgrid.list_of_tensors': Op(), 'meshgrid.variadic_tensors': Op(),
    'zeros_like': Op(), 'ones_like': Op(), 'full_like': Op(),
    # shapes
    'reshape': Op(), 'view': Op(minidl.functional.view), 'view_as': Op(False, error_name='view'),
    'flatten': Op(), 'transpose': Op(), 'permute': Op(), 'squeeze': Op(),
    'squeeze.multiple': Op(), 'unsqueeze': Op(), 'expand': Op(minidl.functional.expand),
    'expand_as': Op(False), 'narrow': Op(), 'cat': Op(), 'stack': Op(), 'split': Op(),
    'split.list_args': Op(), 'chunk': Op(), 'clone': Op(),
    'contiguous': Op(False, method='contiguous'), 'T': Op(lambda x: x.T), 't': Op(False),
    '__getitem__': Op(minidl.Tensor.__getitem__, method=False, error_name='getitem'),
    'nn.functional.pad.constant': Op(), 'nn.functional.pad.reflect': Op(),
    'nn.functional.pad.replicate': Op(), 'nn.functional.pad.circular': Op(),
    'nn.functional.pad.replicate_negative': Op(),
    # matrix products
    'matmul': Op(float32=True), 'mm': Op(float32=True), 'bmm': Op(float32=True),
    'bmm.triton_optimized': Op(float32=True),
    '__rmatmul__': Op(minidl.Tensor.__rmatmul__, method=False, error_name='matmul', float32=True),
    'nn.functional.linear': Op(float32=True),
    # CNN operators
    'nn.functional.conv2d': Op(float32=True),
    'nn.functional.max_pool2d': Op(float32=True),
    'nn.functional.avg_pool2d': Op(float32=True),
    'nn.functional.adaptive_avg_pool2d': Op(float32=True),
    'nn.functional.adaptive_max_pool2d': Op(float32=True),
    'nn.functional.batch_norm': Op(float32=True),
    'nn.functional.batch_norm.without_cudnn': Op(F.batch_norm, float32=True),
    'nn.functional.local_response_norm': Op(float32=True),
    'nn.functional.dropout': Op(check=_check_dropout(F.dropout), float32=True),
    'nn.functional.dropout2d': Op(check=_check_dropout(F.dropout2d), float32=True),
    # losses
    'nn.functional.cross_entropy': Op(float32=True),
    'nn.functional.nll_loss': Op(float32=True),
    'nn.functional.mse_loss': Op(float32=True),
    # added with the PyTorch API newcomers reached for
    'nn.functional.gelu': Op(), 'nn.functional.silu': Op(), 'nn.functional.softplus': Op(),
    'nn.functional.binary_cross_entropy': Op(float32=True),
    'nn.functional.binary_cross_entropy_with_logits': Op(float32=True),
    'nn.functional.one_hot': Op(), 'isnan': Op(), 'isinf': Op(), 'isfinite': Op(),
    'isclose': Op(), 'allclose': Op(), 'all': Op(), 'any': Op(), 'nonzero': Op(),
    'new_zeros': Op(False), 'new_ones': Op(False), 'new_full': Op(False),
    'new_empty': Op(False, check=_check_new_empty), 'repeat': Op(False),
    'flip': Op(), 'fliplr': Op(), 'flipud': Op(),
    'einsum': Op(lambda tensors, equation: minidl.einsum(equation, tensors), float32=True),
    'nn.functional.interpolate.nearest': Op(float32=True),
    'nn.functional.interpolate.nearest-exact': Op(float32=True),
    'nn.functional.interpolate.linear': Op(float32=True),
    'nn.functional.interpolate.bilinear': Op(float32=True),
    'nn.functional.interpolate.trilinear': Op(float32=True),
    'nn.functional.upsample_nearest': Op(float32=True),
    'nn.functional.upsample_bilinear': Op(float32=True),
}

# Samples minidl refuses on purpose: the OpInfo, the error minidl raises (a regular
# expression over "Type: message"; the message must name the operator), and why.
_ONE_D_BATCH_NORM = ('a 1-D input has no channel dimension: PyTorch takes an empty one and '
                     'refuses every other (running_mean should contain 0 elements)')
_ANTIALIAS = ("antialias=True (PyTorch's Pillow-like area filter for downsampling) is not "
              "provided by interpolate; minidl.vision's Resize computes it on images")
EXCLUSIONS = [
    Exclusion('nn.functional.batch_norm', r'batch_norm: expected an input of 2 or more '
              r'dimensions \(N, C, \.\.\.\), got shape \(0,\)', _ONE_D_BATCH_NORM),
    Exclusion('nn.functional.batch_norm.without_cudnn', r'batch_norm: expected an input of 2 '
              r'or more dimensions \(N, C, \.\.\.\), got shape \(0,\)', _ONE_D_BATCH_NORM),
    Exclusion('nn.functional.interpolate.bilinear', r'NotImplementedError: interpolate: '
              r"mode='bilinear' with antialias=True is not supported", _ANTIALIAS),
]

# error_inputs that PyTorch refuses and minidl accepts on purpose: the OpInfo, a regular
# expression over the sample's description (``describe``), and why.
_NUMBER_AS_SELF = ("an unbound Tensor method called with a Python number as self: minidl's "
                   "methods are Python functions and compute it (Python itself calls them on "
                   "tensors only)")
_NUMBER_OPERAND = ("minidl's maximum and minimum take a Python number as either operand, as "
                   "its other binary operators do; PyTorch wants two tensors")
_NUMBER_FIRST = ("minidl's comparisons take a Python number as either operand (Python "
                 "itself turns 2 < t into t > 2); PyTorch wants a tensor first")
ACCEPTED_ERROR_INPUTS = [
    *(Exclusion(name, r'^input=\d', _NUMBER_AS_SELF)
      for name in ('__radd__', '__rsub__', '__rmul__', '__rdiv__', '__rpow__')),
    *(Exclusion(name, r"^input=\d+ args=\('Tensor", _NUMBER_FIRST)
      for name in ('eq', 'ne', 'lt', 'le', 'gt', 'ge')),
    *(Exclusion(name, r"^input=Tensor.* args=\(\d+,\)|^input=\d+ args=\('Tensor", _NUMBER_OPERAND)
      for name in ('maximum', 'minimum')),
]


@functools.lru_cache(maxsize=None)
def _op_db():
    require_torch()
    from torch.testing._internal.common_methods_invocations import op_db
    return {op.name + ('.' + op.variant_test_name if op.variant_test_name else ''): op
            for op in op_db}


def _base_name(opinfo):
    """'pad' for nn.functional.pad, 'div' for div (any variant), '__radd__' for itself."""
    return opinfo.name.split('.')[-1]


def _error_name(entry, opinfo):
    """The name minidl's errors give the operator: 'add' for __radd__."""
    if entry.error_name:
        return entry.error_name
    return _base_name(opinfo)


def _variants(name, entry, opinfo):
    """(label, minidl callable) pairs: the function and the Tensor method."""
    base = _base_name(opinfo)
    variants = []
    function = entry.function
    if function is None:
        if name.startswith('nn.functional.'):
            function = getattr(F, base)
        else:
            function = getattr(minidl, base, None) or getattr(minidl.functional, base)
    if function is not False:
        variants.append(('function', function))
    method = entry.method
    if method is None and opinfo.method_variant is not None and hasattr(minidl.Tensor, base):
        method = base
    if method:
        variants.append((f'Tensor.{method}', getattr(minidl.Tensor, method)))
    return variants


def _samples(opinfo, dtype):
    """PyTorch's reference inputs for ``dtype`` (for every operator in OPS a superset of
    its sample inputs), at most SAMPLE_CAP of them, picked by a fixed stride."""
    import torch
    torch.manual_seed(0)
    try:
        samples = list(opinfo.reference_inputs('cpu', dtype, requires_grad=True))
        mark_floats = False
    except (RuntimeError, ValueError):  # it asks integer tensors for gradients (clamp, where)
        torch.manual_seed(0)
        samples = list(opinfo.reference_inputs('cpu', dtype, requires_grad=False))
        mark_floats = True
    if len(samples) > SAMPLE_CAP:
        stride = len(samples) / SAMPLE_CAP
        samples = [samples[int(k * stride)] for k in range(SAMPLE_CAP)]
    for sample in samples:
        sample.input, sample.args, sample.kwargs = fresh_leaves(
            (sample.input, sample.args, sample.kwargs), mark_floats)
    return samples


def _tensor_args(obj):
    import torch
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [t for o in obj for t in _tensor_args(o)]
    if isinstance(obj, dict):
        return [t for o in obj.values() for t in _tensor_args(o)]
    return []


def _torch_variant(opinfo, label):
    """PyTorch's function or method, as minidl's variant ``label`` is."""
    return opinfo.method_variant if label.startswith('Tensor.') else opinfo.op


def _minidl_sample(sample, counts):
    """(input, args, kwargs, leaves, memo) of the sample in minidl (see to_minidl), or
    None, counted as skipped, when it is out of scope."""
    try:
        check_scope(sample.kwargs)
        leaves, memo = [], {}
        converted = [to_minidl(part, leaves, memo)
                     for part in (sample.input, sample.args, sample.kwargs)]
    except OutOfScope as why:
        counts.skipped[why.kind] += 1
        return None
    return (*converted, leaves, memo)


def _run_sample(name, entry, opinfo, label, fn, sample, dtype, counts, failures):
    np_dtype = np.dtype(str(dtype).replace('torch.', ''))
    tol = TOLERANCES[np_dtype]
    converted = _minidl_sample(sample, counts)
    if converted is None:
        return
    x, args, kwargs, leaves, memo = converted
    where = f'{name} [{label}, {np_dtype}] {describe(sample)}'
    if entry.check is not None:
        try:
            entry.check(x, *args, **kwargs)
        except AssertionError as err:
            failures.append(f'{where}: {err}')
            return
        counts.matched += 1
        return
    try:
        expected = _torch_variant(opinfo, label)(sample.input, *sample.args, **sample.kwargs)
    except Exception:  # PyTorch refuses its own sample here (a CPU gap, a number as self)
        expected = NotImplemented
    if expected is NotImplemented:
        counts.skipped['PyTorch refuses it'] += 1
        return
    try:
        ours = fn(x, *args, **kwargs)
    except Exception as err:
        record_refusal(counts, failures, EXCLUSIONS, name, _error_name(entry, opinfo), where,
                       err)
        return

    def compare():
        pairs = compare_outputs(ours, expected, tol)
        torch_args = _tensor_args((sample.input, sample.args, sample.kwargs))
        for k, t in enumerate(torch_args):  # updated in place (running statistics) or kept
            assert_close(memo[id(t)].numpy(), t.detach().numpy(), tol,
                         f'tensor argument {k} after the call')
        compare_gradients(pairs, leaves, tol, np.random.default_rng(zlib.crc32(where.encode())))
    record_comparison(counts, failures, where, compare)


def _check_error_input(name, entry, opinfo, label, fn, error_input, counts, failures):
    sample = error_input.sample_input
    try:  # some error inputs raise only in one variant (clamp_min takes (tensor, 2))
        _torch_variant(opinfo, label)(sample.input, *sample.args, **sample.kwargs)
        counts.skipped['an error input PyTorch accepts'] += 1
        return
    except Exception:
        pass
    converted = _minidl_sample(sample, counts)
    if converted is None:
        return
    x, args, kwargs, _, _ = converted
    where = f'{name} [{label}] error input {describe(sample)}'
    try:
        fn(x, *args, **kwargs)
        error = None
    except Exception as err:
        error = err
    if record_error_input(counts, failures, _error_name(entry, opinfo), where, error):
        return
    accepted = [a for a in ACCEPTED_ERROR_INPUTS
                if a.name == name and re.search(a.error, describe(sample))]
    if accepted:
        counts.excluded[f'{name}: accepted: {accepted[0].reason}'] += 1
        return
    failures.append(f'{where}: minidl accepts it, PyTorch raises '
                    f'{error_input.error_type.__name__}: {error_input.error_regex}')


@pytest.mark.parametrize('name', sorted(OPS))
def test_opinfo_samples(name, record_property):
    torch = require_torch()
    entry = OPS[name]
    opinfo = _op_db().get(name)
    assert opinfo is not None, f'PyTorch {torch.__version__} has no OpInfo named {name!r}'
    counts, failures = Counts(), []
    dtypes = (torch.float64, torch.float32) if entry.float32 else (torch.float64,)
    variants = _variants(name, entry, opinfo)
    with one_torch_thread():
        for dtype in dtypes:
            for sample in _samples(opinfo, dtype):
                for label, fn in variants:
                    _run_sample(name, entry, opinfo, label, fn, sample, dtype, counts, failures)
        if opinfo.error_inputs_func is not None and entry.check is None:
            torch.manual_seed(0)
            for error_input in opinfo.error_inputs('cpu'):
                for label, fn in variants:
                    _check_error_input(name, entry, opinfo, label, fn, error_input, counts,
                                       failures)
    counts.report(record_property, failures, name)


def test_exclusions_are_reviewed_entries():
    """Every exclusion names an operator of OPS, what minidl says (its own name in the
    message) and a reason."""
    for exclusion in EXCLUSIONS + ACCEPTED_ERROR_INPUTS:
        assert exclusion.name in OPS, f'{exclusion.name} is not in OPS'
        assert len(exclusion.reason) > 20, f'{exclusion.name}: give the reason'
    for exclusion in EXCLUSIONS:
        opinfo_name = exclusion.name.split('.')[2] if exclusion.name.startswith('nn.') else \
            exclusion.name.split('.')[0]
        assert opinfo_name in exclusion.error, f'{exclusion.name}: the error must name it'
