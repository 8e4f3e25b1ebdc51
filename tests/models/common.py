"""Shared checks for the model tests: parameter counts, state_dict layout, twin parity.

A "twin" is the same network written with torch.nn (tests/models/torch_twins.py;
torchvision is not a dependency): its state_dict must have our keys and shapes, and
once loaded into our model both must give the same eval-mode logits.
"""
import numpy as np

import minidl
from tests import parity
from tests.parity import on_device, require_torch


def require_twins():
    """The torch twins module (tests/models/torch_twins.py, which imports torch); skips
    the test when PyTorch is missing, unless CI demands it."""
    require_torch()
    from tests.models import torch_twins
    return torch_twins


def count_params(model):
    """Number of trainable values (weights, biases, BN affine; not running statistics)."""
    return sum(p.numel() for p in model.parameters())


def state_dict_layout(state):
    return {k: tuple(v.shape) for k, v in state.items()}


def assert_same_layout(ours, theirs_state):
    """Our state_dict has exactly the twin's keys, with the same shapes."""
    mine, ref = state_dict_layout(ours.state_dict()), state_dict_layout(theirs_state)
    missing, extra = sorted(set(ref) - set(mine)), sorted(set(mine) - set(ref))
    assert not missing and not extra, f'keys missing: {missing[:8]}, unexpected: {extra[:8]}'
    wrong = {k: (mine[k], ref[k]) for k in ref if mine[k] != ref[k]}
    assert not wrong, f'shapes differ (ours, torch): {wrong}'


def randomize_batch_norm(torch_model, seed=0):
    """Give every BN layer non-trivial statistics and affine parameters, so eval mode tests them."""
    torch = require_torch()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in torch_model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                n = m.num_features
                m.running_mean.copy_(torch.rand(n, generator=gen) - 0.5)
                m.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
                m.weight.copy_(torch.rand(n, generator=gen) + 0.5)
                m.bias.copy_(torch.rand(n, generator=gen) - 0.5)


def to_test_device(model):
    return model.to(parity.DEVICE) if parity.DEVICE != 'cpu' else model


def assert_twin_logits(ours, theirs, input_shape, atol=1e-4, rtol=1e-4, seed=0):
    """Load the twin's weights into ``ours``; eval-mode outputs agree in float32."""
    torch = require_torch()
    randomize_batch_norm(theirs, seed)
    theirs.eval()
    assert_same_layout(ours, theirs.state_dict())
    ours.load_state_dict(theirs.state_dict())
    ours = to_test_device(ours)
    ours.eval()
    x = np.random.default_rng(seed).standard_normal(input_shape).astype(np.float32)
    with torch.no_grad():
        ref = theirs(torch.from_numpy(x)).numpy()
    with minidl.no_grad():
        out = ours(minidl.tensor(on_device(x)))
    assert out.dtype == np.float32
    assert out.shape == ref.shape
    np.testing.assert_allclose(out.numpy(), ref, atol=atol, rtol=rtol)
    return out


def weighted_sum(output, seed=0):
    """A scalar that depends on every output value with a random weight."""
    w = np.random.default_rng(seed).standard_normal(output.shape).astype(np.float32)
    return (output * minidl.tensor(on_device(w))).sum()


def assert_forward_backward(model, input_shape, num_classes):
    """Training-mode forward gives (N, num_classes) logits (each of a tuple's outputs);
    backward from all outputs reaches every parameter."""
    model = to_test_device(model)
    model.train()
    x = minidl.randn(*input_shape)
    x = minidl.tensor(on_device(x.numpy()))
    out = model(x)
    outputs = tuple(out) if isinstance(out, tuple) else (out,)
    for o in outputs:
        assert o.shape == (input_shape[0], num_classes)
        assert o.dtype == np.float32
    loss = weighted_sum(outputs[0])
    for k, o in enumerate(outputs[1:]):
        loss = loss + weighted_sum(o, seed=k + 1)
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, f'{name}: no gradient'
        assert p.grad.shape == p.shape, f'{name}: gradient shape {p.grad.shape} vs {p.shape}'
        assert np.all(np.isfinite(p.grad.numpy())), f'{name}: non-finite gradient'
    return out
