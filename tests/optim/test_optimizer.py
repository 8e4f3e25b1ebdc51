"""The Optimizer base: the step template, 'step' counts on load, and what each optimizer
says about its memory (state arrays and update temporaries) against what it holds."""
import tracemalloc

import numpy as np
import pytest

import minidl
import minidl.nn as nn
from minidl.optim import SGD, Adadelta, Adagrad, Adam, AdamW, Optimizer, RMSprop

pytestmark = pytest.mark.cpu_only

CONFIGS = [(SGD, dict(lr=0.1)), (SGD, dict(lr=0.1, momentum=0.9)),
           (SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1)),
           (SGD, dict(lr=0.1, momentum=0.9, dampening=0.1, maximize=True)),
           (Adam, dict()), (Adam, dict(amsgrad=True, weight_decay=0.1)),
           (Adam, dict(maximize=True)), (AdamW, dict()), (AdamW, dict(amsgrad=True)),
           (RMSprop, dict()), (RMSprop, dict(centered=True, momentum=0.9)),
           (RMSprop, dict(weight_decay=0.1)), (Adagrad, dict()), (Adagrad, dict(maximize=True)),
           (Adadelta, dict()), (Adadelta, dict(weight_decay=0.1))]


def _id(config):
    cls, options = config
    return cls.__name__ + ''.join(f',{k}={v}' for k, v in options.items())


def _parameter_with_gradient(size, seed=0):
    rng = np.random.default_rng(seed)
    p = minidl.tensor(rng.standard_normal(size).astype(np.float32), requires_grad=True)
    p.grad = minidl.tensor(rng.standard_normal(size).astype(np.float32))
    return p


@pytest.mark.parametrize('config', CONFIGS, ids=_id)
def test_stated_state_is_the_state_held(config):
    cls, options = config
    params = [_parameter_with_gradient(s, seed) for seed, s in enumerate((7, (3, 4)))]
    opt = cls(params, **options)
    for _ in range(2):
        opt.step()
    group = opt.param_groups[0]
    for p in params:
        arrays = [v for v in opt.state.get(p, {}).values() if v.shape == p.shape]
        assert len(arrays) == opt.param_state_arrays(group)
        assert all(a.dtype == p.dtype for a in arrays)
    assert opt.state_bytes() == sum(a.nbytes for p in params for a in opt.state.get(p, {}).values()
                                    if a.shape == p.shape)


@pytest.mark.parametrize('config', CONFIGS, ids=_id)
def test_stated_update_temporaries_bound_the_measured_ones(config):
    """tracemalloc over one steady-state step of a 4 MB parameter: the peak above the
    state, in parameter sizes, is at most what the optimizer states, and at most one
    less."""
    cls, options = config
    p = _parameter_with_gradient(1_000_000)
    opt = cls([p], **options)
    opt.step()
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        opt.step()
        measured = (tracemalloc.get_traced_memory()[1] - start) / p.array.nbytes
    finally:
        tracemalloc.stop()
    stated = opt.update_scratch_arrays(opt.param_groups[0])
    assert stated - 1 <= round(measured, 2) <= stated


def test_the_step_template_of_the_base_class():
    class SignDescent(Optimizer):
        """p -= lr sign(g), counting the updates."""

        def __init__(self, params, lr=0.1):
            super().__init__(params, dict(lr=lr))

        def _initial_state(self, p, group):
            return {'updates': 0}

        def _update(self, p, grad, state, group):
            state['updates'] += 1
            p.array -= group['lr'] * np.sign(grad)

    w, frozen = nn.Parameter(minidl.tensor([1.0, -1.0])), nn.Parameter(minidl.ones(1))
    opt = SignDescent([w, frozen])
    (w * w).sum().backward()
    opt.step()
    opt.step()
    np.testing.assert_allclose(w.numpy(), [0.8, -0.8])
    assert opt.state[w] == {'updates': 2} and frozen not in opt.state

    class Incomplete(Optimizer):
        pass
    w.grad = minidl.ones(2)
    with pytest.raises(NotImplementedError, match='Incomplete must define step'):
        Incomplete([w], {}).step()
    with pytest.raises(NotImplementedError, match='Incomplete must define param_state_arrays'):
        Incomplete([w], {}).state_bytes()


def test_step_counts_load_as_host_float32_scalars():
    w = nn.Parameter(minidl.tensor(np.ones(3)))
    opt = Adam([w])
    w.grad = minidl.tensor(np.ones(3))
    opt.step()
    state = opt.state_dict()
    assert state['state'][0]['step'].dtype == np.float32 and state['state'][0]['step'] == 1
    for saved in (3, 3.0, np.array(3.0), np.float64(3)):
        state['state'][0]['step'] = saved
        opt.load_state_dict(state)
        step = opt.state[w]['step']
        assert isinstance(step, np.ndarray) and step.shape == () and step.dtype == np.float32
        assert step == 3
    assert opt.state[w]['exp_avg'].dtype == np.float64       # other state takes w's dtype
