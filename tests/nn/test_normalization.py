"""BatchNorm1d/2d and LocalResponseNorm against torch.nn, running statistics included."""
import numpy as np
import pytest

import minidl
import minidl.nn as nn
from tests import parity
from tests.nn.common import assert_same_state_layout, compare_with_torch
from tests.parity import require_torch


def run_steps(ours, theirs, shape, dtype, steps=5):
    """Several training forward/backward passes on both; returns the last inputs."""
    torch = require_torch()
    rng = np.random.default_rng(0)
    ours.to(dtype).to(parity.DEVICE).train()
    theirs.to(torch.float32 if dtype == np.float32 else torch.float64).train()
    for step in range(steps):
        x = (rng.standard_normal(shape) * (step + 1) + step).astype(dtype)
        v = rng.standard_normal(shape).astype(dtype)     # a cotangent without cancellation
        ours(minidl.tensor(parity.on_device(x))).backward(parity.on_device(v))
        theirs(torch.tensor(x)).backward(torch.tensor(v))
    return x


@pytest.mark.parametrize('momentum', [0.1, None, 0.5])
@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('kind, shape', [('BatchNorm2d', (4, 3, 5, 5)),
                                         ('BatchNorm1d', (8, 3)),
                                         ('BatchNorm1d', (4, 3, 6))])
def test_running_statistics_follow_torch(kind, shape, dtype, momentum):
    torch = require_torch()
    ours = getattr(nn, kind)(3, momentum=momentum)
    theirs = getattr(torch.nn, kind)(3, momentum=momentum)
    assert_same_state_layout(ours, theirs)
    ours.load_state_dict(theirs.state_dict())
    run_steps(ours, theirs, shape, dtype)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    for key, value in theirs.state_dict().items():
        np.testing.assert_allclose(minidl.tensor(ours.state_dict()[key]).numpy(), value.numpy(),
                                   err_msg=key, **tol)
    assert int(ours.num_batches_tracked.item()) == 5
    for name, p in theirs.named_parameters():
        np.testing.assert_allclose(getattr(ours, name).grad.numpy(), p.grad.numpy(),
                                   err_msg=name, **tol)
    x = np.random.default_rng(9).standard_normal(shape)
    compare_with_torch(ours, theirs, [x], dtype=dtype, train=False, load='ours_to_torch')


@pytest.mark.cpu_only  # a host-side string; reprs change between PyTorch releases
@pytest.mark.parametrize('kind', ['BatchNorm1d', 'BatchNorm2d'])
@pytest.mark.parametrize('affine, track', [(True, True), (False, True), (True, False),
                                           (False, False)])
def test_batch_norm_repr_equals_torch(kind, affine, track):
    torch = require_torch()
    ours = getattr(nn, kind)(3, momentum=None, affine=affine, track_running_stats=track)
    theirs = getattr(torch.nn, kind)(3, momentum=None, affine=affine, track_running_stats=track)
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize('affine, track', [(False, True), (True, False), (False, False)])
def test_batch_norm_options(affine, track):
    torch = require_torch()
    ours = nn.BatchNorm2d(2, affine=affine, track_running_stats=track)
    theirs = torch.nn.BatchNorm2d(2, affine=affine, track_running_stats=track)
    assert_same_state_layout(ours, theirs)
    x = np.random.default_rng(1).standard_normal((3, 2, 4, 4))
    for dtype in (np.float32, np.float64):
        compare_with_torch(ours, theirs, [x], dtype=dtype, train=True)
        compare_with_torch(ours, theirs, [x], dtype=dtype, train=False)


def test_batch_norm_input_checks_name_the_layer():
    net = nn.Sequential(nn.Conv2d(1, 2, 1), nn.BatchNorm2d(3))
    with pytest.raises(ValueError, match=r'^1 \(BatchNorm2d\): input has 2 channels, the layer '
                                         r'was built for 3 \(input \(1, 2, 2, 2\)\)'):
        net(minidl.ones(1, 1, 2, 2))
    with pytest.raises(ValueError, match=r'^BatchNorm1d: expected a 2-D or 3-D input, got shape '
                                         r'\(1, 3, 2, 2\)'):
        nn.BatchNorm1d(3)(minidl.ones(1, 3, 2, 2))


@pytest.mark.parametrize('kind, shape', [('BatchNorm1d', (0, 3)), ('BatchNorm1d', (0, 3, 4)),
                                         ('BatchNorm2d', (0, 3, 2, 2)),
                                         ('BatchNorm3d', (0, 3, 2, 2, 2))])
def test_batch_norm_of_an_empty_batch(kind, shape):
    """Training on a batch of size 0: empty output and gradients, zero parameter
    gradients, running statistics unchanged and the batch counted, as in PyTorch."""
    torch = require_torch()
    ours, theirs = getattr(nn, kind)(3), getattr(torch.nn, kind)(3)
    theirs.running_mean.fill_(0.5)
    ours.load_state_dict(theirs.state_dict())
    compare_with_torch(ours, theirs, [np.zeros(shape)], dtype=np.float64)
    np.testing.assert_array_equal(ours.running_mean.numpy(), [0.5] * 3)
    assert int(ours.num_batches_tracked.item()) == int(theirs.num_batches_tracked.item()) == 1


def test_normalization_layers_refuse_bad_sizes_and_dtypes_naming_the_layer():
    """What PyTorch refuses: negative sizes, an input whose dtype differs from the
    parameters and statistics (float64 or int64 against float32), an integer input to
    LocalResponseNorm."""
    with pytest.raises(ValueError, match='^BatchNorm2d: num_features must be a non-negative '
                                         'integer, got -3'):
        nn.BatchNorm2d(-3)
    bn = nn.BatchNorm2d(3)
    for mode in ('train', 'eval'):
        getattr(bn, mode)()
        with pytest.raises(TypeError, match='^BatchNorm2d: batch_norm: input is float64 but '
                                            'running_mean is float32'):
            bn(minidl.tensor(np.ones((2, 3, 2, 2))))
        with pytest.raises(TypeError, match='^BatchNorm2d: batch_norm: expected a '
                                            'floating-point input, got int64'):
            bn(minidl.tensor(np.ones((2, 3, 2, 2), np.int64)))
    assert bn.double()(minidl.tensor(np.ones((2, 3, 2, 2)))).dtype == np.float64
    with pytest.raises(TypeError, match='^LocalResponseNorm: local_response_norm: expected a '
                                        'floating-point input, got int64'):
        nn.LocalResponseNorm(2)(minidl.tensor(np.ones((1, 3, 2, 2), np.int64)))


def test_batch_norm_2d_refuses_unbatched_input_as_pytorch_does():
    """PyTorch's BatchNorm2d takes no (C, H, W) input (statistics over one sample's
    pixels would be another layer); F.batch_norm reads a 3-D input as (N, C, L)."""
    torch = require_torch()
    x = np.random.default_rng(3).standard_normal((3, 4, 5))
    with pytest.raises(ValueError, match='expected 4D input'):
        torch.nn.BatchNorm2d(3)(torch.tensor(x, dtype=torch.float32))
    with pytest.raises(ValueError, match=r'^BatchNorm2d: expected a 4-D input, got shape '
                                         r'\(3, 4, 5\)'):
        nn.BatchNorm2d(3)(minidl.tensor(x.astype(np.float32)))
    compare_with_torch(nn.BatchNorm1d(4), torch.nn.BatchNorm1d(4), [x], dtype=np.float64)


def test_reset_and_buffers():
    bn = nn.BatchNorm2d(2)
    bn(minidl.randn(2, 2, 3, 3))
    assert bn.num_batches_tracked.item() == 1 and bn.running_mean.numpy().any()
    bn.reset_running_stats()
    assert bn.num_batches_tracked.item() == 0 and not bn.running_mean.numpy().any()
    assert [n for n, _ in bn.named_buffers()] == ['running_mean', 'running_var',
                                                   'num_batches_tracked']
    bn.eval()
    bn(minidl.randn(2, 2, 3, 3))
    assert bn.num_batches_tracked.item() == 0


@pytest.mark.parametrize('size, alpha, beta, k', [(5, 5e-4, 0.75, 2.0), (2, 1e-2, 0.5, 1.0)])
def test_local_response_norm_matches_torch(size, alpha, beta, k):
    torch = require_torch()
    ours = nn.LocalResponseNorm(size, alpha, beta, k)
    theirs = torch.nn.LocalResponseNorm(size, alpha, beta, k)
    assert repr(ours) == repr(theirs)
    x = np.random.default_rng(2).standard_normal((2, 6, 3, 3)) * 3
    for dtype in (np.float32, np.float64):
        compare_with_torch(ours, theirs, [x], dtype=dtype)


# ---------------------------------------------------------------- SyncBatchNorm on one process
# (on several ranks: tests/nn/parallel/test_distributed.py)

@pytest.mark.parametrize('shape', [(4, 3), (4, 3, 5), (2, 3, 4, 4), (2, 3, 2, 2, 2)])
def test_sync_batch_norm_without_a_job_is_batch_norm_as_in_torch(shape):
    torch = require_torch()
    ours, theirs = nn.SyncBatchNorm(3), torch.nn.SyncBatchNorm(3)
    assert_same_state_layout(ours, theirs)
    assert repr(ours) == repr(theirs)
    x = np.random.default_rng(4).standard_normal(shape)
    compare_with_torch(ours, theirs, [x], dtype=np.float64, train=True)
    compare_with_torch(ours, theirs, [x], dtype=np.float64, train=False)


def test_convert_sync_batchnorm_keeps_parameters_buffers_and_mode():
    torch = require_torch()
    model = nn.Sequential(nn.Conv2d(1, 2, 1), nn.BatchNorm2d(2),
                          nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3, affine=False)))
    model[1](minidl.randn(4, 2, 2, 2))
    model[2][1].eval()
    weight, running_mean = model[1].weight, model[1].running_mean
    converted = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    assert converted is model
    assert type(model[1]) is nn.SyncBatchNorm and type(model[2][1]) is nn.SyncBatchNorm
    assert model[1].weight is weight and model[1].running_mean is running_mean
    assert model[1].num_batches_tracked.item() == 1
    assert model[2][1].weight is None and not model[2][1].training and model[1].training
    reference = torch.nn.SyncBatchNorm.convert_sync_batchnorm(torch.nn.Sequential(
        torch.nn.Conv2d(1, 2, 1), torch.nn.BatchNorm2d(2),
        torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.BatchNorm1d(3, affine=False))))
    assert repr(model) == repr(reference)
    assert_same_state_layout(model, reference)
    alone = nn.SyncBatchNorm.convert_sync_batchnorm(nn.BatchNorm2d(2))
    assert type(alone) is nn.SyncBatchNorm


def test_sync_batch_norm_checks_its_input():
    with pytest.raises(ValueError, match='expected a 2-D or 3-D or 4-D or 5-D input'):
        nn.SyncBatchNorm(3)(minidl.ones(3))
