"""Run PyTorch's own test samples (OpInfo, ModuleInfo) through minidl and compare.

A sample is converted to minidl (tensors to tensors with the same dtype and
``requires_grad``, torch dtypes to NumPy dtypes), run through both libraries, and
the outputs compared in value, shape and dtype. Then one random upstream gradient
per differentiable output is pushed back through both, and the gradient of every
input that requires one is compared.

Outcomes of one sample (``Counts`` adds them up and prints them):
- ``matched``: minidl agrees;
- ``excluded``: minidl refuses it with an error that an entry of the test's reviewed
  exclusion list expects (the message must name the operator and the argument);
- ``skipped``: out of scope for this engine (complex or half dtypes, sparse layouts,
  ``out=``, ``memory_format``), counted by kind;
- anything else fails the test with the sample and what differed.
tests/conftest.py prints the totals at the end of the run.
"""
import collections
import contextlib
import re

import numpy as np

import minidl

TOLERANCES = {np.dtype('float32'): dict(rtol=1.3e-4, atol=1e-5),
              np.dtype('float64'): dict(rtol=1e-7, atol=1e-9)}


class OutOfScope(Exception):
    """A sample this engine does not aim to support; ``kind`` says why."""

    def __init__(self, kind):
        super().__init__(kind)
        self.kind = kind


class Mismatch(AssertionError):
    pass


Exclusion = collections.namedtuple('Exclusion', ['name', 'error', 'reason'])
Exclusion.__doc__ = """A sample minidl refuses on purpose: for operator/module ``name``,
an exception whose message matches the regular expression ``error``; ``reason`` says
why minidl does not support it."""


class Counts:
    """Outcome counts of the samples of one test, by kind."""

    def __init__(self):
        self.matched = 0
        self.excluded = collections.Counter()   # reason -> count
        self.skipped = collections.Counter()    # out-of-scope kind -> count
        self.errors_checked = 0                 # error_inputs both libraries refuse

    def report(self, record_property, failures, subject):
        """Hand the counts to pytest (conftest totals and prints them; user_properties
        travel through xdist), then fail with the first disagreements, if any."""
        record_property('torch_samples', dict(matched=self.matched, excluded=dict(self.excluded),
                                              skipped=dict(self.skipped),
                                              errors_checked=self.errors_checked))
        assert not failures, (f'{len(failures)} samples of {subject} disagree with PyTorch:\n'
                              + '\n'.join(failures[:30]))


@contextlib.contextmanager
def one_torch_thread():
    """PyTorch on one thread for these many tiny calls: its thread pool only spins
    (5-10x slower) on a machine whose cores are busy with the other test workers."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def summarize(counts):
    """Lines totalling the counts ``Counts.report`` recorded: matched, excluded by
    reason, skipped by kind."""
    matched = sum(c['matched'] for c in counts)
    errors = sum(c['errors_checked'] for c in counts)
    excluded, skipped = collections.Counter(), collections.Counter()
    for c in counts:
        excluded.update(c['excluded'])
        skipped.update(c['skipped'])
    lines = [f'{matched} samples match PyTorch; {errors} error inputs refused by both; '
             f'{sum(excluded.values())} excluded; {sum(skipped.values())} skipped']
    lines += [f'  excluded {n:5d}  {reason}' for reason, n in sorted(excluded.items())]
    lines += [f'  skipped  {n:5d}  {kind}' for kind, n in sorted(skipped.items())]
    return lines


# ---------------------------------------------------------------- torch -> minidl

def _numpy_dtype(torch_dtype):
    import torch
    if torch_dtype.is_complex:
        raise OutOfScope('complex dtype')
    if torch_dtype in (torch.float16, torch.bfloat16):
        raise OutOfScope('half dtype')
    return np.dtype(str(torch_dtype).replace('torch.', ''))


def to_minidl(obj, leaves, memo=None):
    """The minidl twin of ``obj`` (tensors, dtypes, sizes, nested lists, tuples and
    dicts). Every torch tensor that requires grad is recorded in ``leaves`` as
    (torch tensor, minidl tensor); one torch tensor used twice gives one minidl tensor."""
    import torch
    memo = {} if memo is None else memo
    if isinstance(obj, torch.Tensor):
        if id(obj) in memo:
            return memo[id(obj)]
        if obj.layout != torch.strided:
            raise OutOfScope('sparse layout')
        _numpy_dtype(obj.dtype)
        if obj.device.type != 'cpu':
            raise OutOfScope('non-CPU tensor')
        if obj.ndim > 64:
            raise OutOfScope('over 64 dimensions (NumPy\'s limit)')
        twin = minidl.tensor(obj.detach().numpy().copy(), requires_grad=obj.requires_grad)
        memo[id(obj)] = twin
        if obj.requires_grad:
            leaves.append((obj, twin))
        return twin
    if isinstance(obj, complex):
        raise OutOfScope('complex dtype')
    if isinstance(obj, torch.dtype):
        return _numpy_dtype(obj)
    if isinstance(obj, torch.memory_format):
        raise OutOfScope('memory_format')
    if isinstance(obj, torch.Size):
        return tuple(obj)
    if isinstance(obj, torch.device):
        return str(obj)
    if isinstance(obj, tuple) and hasattr(obj, '_fields'):
        return type(obj)(*(to_minidl(o, leaves, memo) for o in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_minidl(o, leaves, memo) for o in obj)
    if isinstance(obj, dict):
        return {k: to_minidl(v, leaves, memo) for k, v in obj.items()}
    return obj


def fresh_leaves(obj, mark_floats=False):
    """``obj`` (nested lists, tuples, dicts) with each tensor that requires grad
    replaced by a detached leaf that requires grad: PyTorch's samples may hold views
    that autograd connects to nothing. ``mark_floats`` makes every floating-point tensor
    require grad (for sample functions that fail when asked for gradients). One tensor
    used twice stays one tensor."""
    import torch
    memo = {}

    def fresh(x):
        if isinstance(x, torch.Tensor):
            if x.requires_grad or (mark_floats and x.dtype.is_floating_point):
                if id(x) not in memo:
                    memo[id(x)] = x.detach().requires_grad_(True)
                return memo[id(x)]
            return x
        if isinstance(x, (list, tuple)) and not hasattr(x, '_fields'):
            return type(x)(fresh(i) for i in x)
        if isinstance(x, dict):
            return {k: fresh(v) for k, v in x.items()}
        return x
    return fresh(obj)


def check_scope(kwargs):
    """Raise OutOfScope for keyword arguments outside this engine's aims."""
    if 'out' in kwargs:
        raise OutOfScope('out=')
    if 'memory_format' in kwargs:
        raise OutOfScope('memory_format')


# ---------------------------------------------------------------- comparing

def _flatten(obj, path='output'):
    """(path, leaf) pairs of a nested output: tensors, numbers, shapes."""
    import torch
    if isinstance(obj, (minidl.Tensor, torch.Tensor)) or not isinstance(obj, (list, tuple)):
        return [(path, obj)]
    out = []
    for k, o in enumerate(obj):
        out.extend(_flatten(o, f'{path}[{k}]'))
    return out


def _torch_array(t):
    import torch
    if t.dtype in (torch.float16, torch.bfloat16) or t.is_complex():
        raise OutOfScope('complex dtype' if t.is_complex() else 'half dtype')
    return t.detach().cpu().resolve_neg().resolve_conj().numpy()


def assert_close(ours, theirs, tol, what):
    """``ours`` (NumPy) equals ``theirs`` (NumPy) in shape, dtype and value."""
    if ours.shape != theirs.shape:
        raise Mismatch(f'{what}: shape {ours.shape}, PyTorch {theirs.shape}')
    if ours.dtype != theirs.dtype:
        raise Mismatch(f'{what}: dtype {ours.dtype}, PyTorch {theirs.dtype}')
    if ours.dtype.kind in 'fc':
        try:
            np.testing.assert_allclose(ours, theirs, equal_nan=True, **tol)
        except AssertionError as err:
            raise Mismatch(f'{what}: values differ{err}') from None
    elif not np.array_equal(ours, theirs):
        raise Mismatch(f'{what}: values differ\n ours    {ours}\n PyTorch {theirs}')


def compare_outputs(ours, theirs, tol):
    """Every leaf of the two nested outputs agrees; returns the (path, ours, theirs)
    tensor pairs."""
    import torch
    ours_flat, theirs_flat = _flatten(ours), _flatten(theirs)
    if len(ours_flat) != len(theirs_flat):
        raise Mismatch(f'{len(ours_flat)} outputs, PyTorch gives {len(theirs_flat)}')
    pairs = []
    for (path, o), (_, t) in zip(ours_flat, theirs_flat):
        if isinstance(t, torch.Tensor):
            if not isinstance(o, minidl.Tensor):
                raise Mismatch(f'{path}: {type(o).__name__}, PyTorch gives a tensor')
            assert_close(o.numpy(), _torch_array(t), tol, path)
            pairs.append((path, o, t))
        elif isinstance(o, minidl.Tensor):
            raise Mismatch(f'{path}: a tensor, PyTorch gives {type(t).__name__} {t!r}')
        elif o != t and not (o != o and t != t):  # NaN equals NaN here
            raise Mismatch(f'{path}: {o!r}, PyTorch {t!r}')
    return pairs


def compare_gradients(pairs, leaves, tol, rng):
    """Backpropagate one random upstream gradient per differentiable output through
    both libraries and compare the gradient of every leaf."""
    import torch
    pairs = [(path, o, t) for path, o, t in pairs if t.requires_grad and t.dtype.is_floating_point]
    for path, o, _ in pairs:
        if not o.requires_grad:
            raise Mismatch(f'{path} does not require grad; PyTorch\'s does')
    if not pairs or not leaves:
        return
    upstream = [rng.standard_normal(t.shape).astype(_torch_array(t).dtype) for _, _, t in pairs]
    torch_leaves = [t for t, _ in leaves]
    for k, ((path, o, _), g) in enumerate(zip(pairs, upstream)):
        o.backward(minidl.tensor(g), retain_graph=k < len(pairs) - 1)
    try:
        expected = torch.autograd.grad([t for _, _, t in pairs],
                                       torch_leaves, [torch.from_numpy(g) for g in upstream],
                                       allow_unused=True)
    except RuntimeError:  # PyTorch's own backward fails (minidl's ran): nothing to compare
        for _, ours in leaves:
            if ours.grad is not None and ours.grad.shape != ours.shape:
                raise Mismatch(f'gradient of shape {ours.grad.shape} for an input of shape '
                               f'{ours.shape}') from None
        raise OutOfScope("PyTorch's backward raises") from None
    for k, ((_, ours), theirs) in enumerate(zip(leaves, expected)):
        what = f'gradient of input {k} (shape {tuple(ours.shape)})'
        if theirs is None:
            if ours.grad is not None and np.any(ours.grad.numpy()):
                raise Mismatch(f'{what}: nonzero, PyTorch has none')
            continue
        if ours.grad is None:
            if np.any(_torch_array(theirs)):
                raise Mismatch(f'{what}: none, PyTorch has a nonzero one')
            continue
        assert_close(ours.grad.numpy(), _torch_array(theirs), tol, what)


# ---------------------------------------------------------------- counting outcomes

def record_comparison(counts, failures, where, compare):
    """Run ``compare()``, which raises Mismatch or OutOfScope, and count the outcome."""
    try:
        compare()
    except OutOfScope as why:
        counts.skipped[why.kind] += 1
    except Mismatch as err:
        failures.append(f'{where}: {err}')
    except Exception as err:  # minidl failed while being compared (in backward, say)
        failures.append(f'{where}: {type(err).__name__}: {err}')
    else:
        counts.matched += 1


def record_refusal(counts, failures, exclusions, name, shown_name, where, error):
    """minidl refused a sample PyTorch takes: excluded when an entry of the reviewed
    ``exclusions`` for ``name`` matches "Type: message" and the message names the
    operator (``shown_name``); a failure otherwise."""
    message = f'{type(error).__name__}: {error}'
    for exclusion in exclusions:
        if (exclusion.name == name and re.search(exclusion.error, message)
                and shown_name in str(error)):
            counts.excluded[f'{name}: {exclusion.reason}'] += 1
            return
    failures.append(f'{where}: raised {message}')


def record_error_input(counts, failures, shown_name, where, error):
    """PyTorch refuses an error input and so did minidl (``error``, None if it did not):
    its message must name the operator or layer."""
    if error is None:
        return False
    if shown_name.lower() in str(error).lower():
        counts.errors_checked += 1
    else:
        failures.append(f'{where}: the error does not name {shown_name}: '
                        f'{type(error).__name__}: {error}')
    return True


def describe(sample):
    """A short description of a sample for failure messages."""
    import torch

    def short(x):
        if isinstance(x, torch.Tensor):
            return f'Tensor{tuple(x.shape)}:{str(x.dtype).replace("torch.", "")}'
        if isinstance(x, (list, tuple)) and len(x) > 6:
            return f'{type(x).__name__} of {len(x)}'
        if isinstance(x, (list, tuple)):
            return type(x)(short(i) for i in x)
        return x
    return (f'input={short(sample.input)} args={short(sample.args)} '
            f'kwargs={ {k: short(v) for k, v in sample.kwargs.items()} }')
