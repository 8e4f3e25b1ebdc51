"""minidl's layers on PyTorch's own module test inputs (ModuleInfo,
``torch.testing._internal.common_modules.module_db``).

For each input, the PyTorch module is built from the sample's constructor arguments
and the minidl layer of the same name from the same arguments; PyTorch's parameters
and buffers are loaded into it (``load_state_dict``), both run in training and in
evaluation mode, and then must agree on the output, on every buffer afterwards (the
running statistics), and on the gradients of the input and of every parameter for a
random upstream gradient. float64 always, float32 too for the CNN layers and losses.
Module error inputs must be refused with an error that names the layer.
"""
import functools
import zlib

import numpy as np
import pytest

import minidl
import minidl.nn as nn
from tests.parity import require_torch
from tests.torch_samples import (TOLERANCES, Counts, OutOfScope, assert_close, check_scope,
                                 compare_gradients, compare_outputs, fresh_leaves,
                                 one_torch_thread, record_comparison, record_error_input,
                                 record_refusal, to_minidl)

pytestmark = [pytest.mark.cpu_only, pytest.mark.filterwarnings('ignore::RuntimeWarning'),
              pytest.mark.filterwarnings('ignore::UserWarning')]

# ModuleInfo name -> run in float32 too. The minidl layer has the same name in minidl.nn;
# a new layer is one line here.
MODULES = {
    'Conv2d': True, 'Linear': True,
    'MaxPool2d': True, 'AvgPool2d': True, 'AdaptiveAvgPool2d': True, 'AdaptiveMaxPool2d': True,
    'BatchNorm1d': True, 'BatchNorm2d': True, 'BatchNorm3d': True, 'LocalResponseNorm': True,
    'ReLU': False, 'LeakyReLU': False, 'Sigmoid': False, 'Tanh': False,
    'Softmax': True, 'LogSoftmax': True,
    'CrossEntropyLoss': True, 'NLLLoss': True, 'MSELoss': True,
    'LazyConv2d': True,
    'GELU': False, 'SiLU': False, 'Softplus': False, 'BCELoss': True, 'BCEWithLogitsLoss': True,
}

# Inputs minidl refuses on purpose, as tests.torch_samples.Exclusion(layer, error regular
# expression, reason); the message must name the layer. None today: every input matches.
EXCLUSIONS = []


@functools.lru_cache(maxsize=None)
def _module_db():
    require_torch()
    from torch.testing._internal.common_modules import module_db
    return {info.module_cls.__name__: info for info in module_db}


def _twin(theirs, ours_cls, constructor, np_dtype, forward):
    """The minidl layer built from the same arguments as the PyTorch module ``theirs``,
    holding its parameters and buffers. A lazy pair first runs ``forward`` (a
    FunctionInput) without gradients, which gives both their shapes."""
    import torch
    leaves = []
    args = to_minidl(constructor.args, leaves)
    kwargs = to_minidl(constructor.kwargs, leaves)
    ours = ours_cls(*args, **kwargs).to(np_dtype)
    if ours_cls.__name__.startswith('Lazy'):
        with torch.no_grad(), minidl.no_grad():
            theirs(*forward.args, **forward.kwargs)
            ours(*to_minidl(forward.args, []), **to_minidl(forward.kwargs, []))
    ours.load_state_dict(theirs.state_dict())
    return ours


def _run_input(name, module_input, dtype, training, counts, failures):
    import torch
    np_dtype = np.dtype(str(dtype).replace('torch.', ''))
    tol = TOLERANCES[np_dtype]
    constructor, forward = module_input.constructor_input, module_input.forward_input
    forward.args, forward.kwargs = fresh_leaves((forward.args, forward.kwargs))
    where = (f'{name}(*{constructor.args}, **{constructor.kwargs}) '
             f'[{"train" if training else "eval"}, {np_dtype}] {module_input.desc}')
    try:
        check_scope(constructor.kwargs)
        check_scope(forward.kwargs)
        leaves, memo = [], {}
        args = to_minidl(forward.args, leaves, memo)
        kwargs = to_minidl(forward.kwargs, leaves, memo)
    except OutOfScope as why:
        counts.skipped[why.kind] += 1
        return
    theirs = _module_db()[name].module_cls(*constructor.args, **constructor.kwargs).to(dtype)
    theirs.train(training)
    try:
        ours = _twin(theirs, getattr(nn, name), constructor, np_dtype, forward)  # before either runs
        ours.train(training)
    except OutOfScope as why:
        counts.skipped[why.kind] += 1
        return
    except Exception as err:
        record_refusal(counts, failures, EXCLUSIONS, name, name, where, err)
        return
    try:
        expected = theirs(*forward.args, **forward.kwargs)
    except Exception:  # PyTorch refuses its own input here: nothing to match
        counts.skipped['PyTorch refuses it'] += 1
        return
    try:
        output = ours(*args, **kwargs)
    except Exception as err:
        record_refusal(counts, failures, EXCLUSIONS, name, name, where, err)
        return

    def compare():
        pairs = compare_outputs(output, expected, tol)
        ours_state = ours.state_dict()
        for key, value in theirs.state_dict().items():  # the running statistics too
            assert_close(np.asarray(ours_state[key]), value.detach().numpy(), tol,
                         f'{key} after forward')
        params = dict(ours.named_parameters())
        compare_gradients(pairs, leaves + [(p, params[key]) for key, p in theirs.named_parameters()],
                          tol, np.random.default_rng(zlib.crc32(where.encode())))
    record_comparison(counts, failures, where, compare)


def _check_error_input(name, error_input, counts, failures):
    """PyTorch refuses this module input: minidl must too, naming the layer."""
    module_input = error_input.module_error_input
    constructor, forward = module_input.constructor_input, module_input.forward_input
    where = f'{name}(*{constructor.args}, **{constructor.kwargs}) error input'
    try:
        check_scope(constructor.kwargs)
        args = to_minidl(forward.args, [])
        kwargs = to_minidl(forward.kwargs, [])
        leaves = []
        ours = getattr(nn, name)(*to_minidl(constructor.args, leaves),
                                 **to_minidl(constructor.kwargs, leaves))
        ours.to(np.float64)(*args, **kwargs)
    except OutOfScope as why:
        counts.skipped[why.kind] += 1
        return
    except Exception as err:
        record_error_input(counts, failures, name, where, err)
        return
    failures.append(f'{where}: minidl accepts it, PyTorch raises '
                    f'{error_input.error_type.__name__}: {error_input.error_regex}')


@pytest.mark.parametrize('name', sorted(MODULES))
def test_moduleinfo_samples(name, record_property):
    torch = require_torch()
    info = _module_db().get(name)
    assert info is not None, f'PyTorch {torch.__version__} has no ModuleInfo for {name}'
    counts, failures = Counts(), []
    dtypes = (torch.float64, torch.float32) if MODULES[name] else (torch.float64,)
    with one_torch_thread():
        for dtype in dtypes:
            for training in (True, False):
                torch.manual_seed(0)
                for module_input in info.module_inputs_func(info, device='cpu', dtype=dtype,
                                                            requires_grad=True,
                                                            training=training):
                    _run_input(name, module_input, dtype, training, counts, failures)
        if info.module_error_inputs_func is not None:
            torch.manual_seed(0)
            for error_input in info.module_error_inputs_func(info, device='cpu',
                                                             dtype=torch.float64,
                                                             requires_grad=True, training=True):
                _check_error_input(name, error_input, counts, failures)
    counts.report(record_property, failures, name)
