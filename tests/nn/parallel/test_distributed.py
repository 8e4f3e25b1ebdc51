"""DistributedDataParallel and SyncBatchNorm on 2 ranks against one process on the whole batch.

Every scenario runs on both ranks of one MPI job. Each rank takes half of every batch,
and also computes, by itself, the reference: one process training a copy of the
model on the whole batch. The ranks build their models from different seeds, so
that only DDP's broadcast can make them agree. Everything is float64, compared to 1e-10.
"""
import sys

import numpy as np
import pytest

from tests import mpi_job

BATCH, STEPS = 8, 3


# ---------------------------------------------------------------- on the ranks

def _convnet(batchnorm):
    from minidl import nn
    norm2d = [nn.BatchNorm2d(4)] if batchnorm else []
    norm1d = [nn.BatchNorm1d(8)] if batchnorm else []
    return nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), *norm2d, nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(4 * 4 * 4, 8), *norm1d, nn.ReLU(),
                         nn.Linear(8, 3)).double()


def _batch(step):
    rng = np.random.default_rng(100 + step)
    return rng.normal(size=(BATCH, 2, 8, 8)), rng.integers(0, 3, size=BATCH)


def _shard(array, rank, world):
    n = len(array) // world
    return array[rank * n:(rank + 1) * n]


def _max_difference(arrays, others):
    host = mpi_job.host
    return max(float(np.abs(host(a) - host(b)).max()) for a, b in zip(arrays, others))


def _state(model):
    return [mpi_job.host(v) for v in model.state_dict().values()]


def _tensor(array):
    import minidl
    return minidl.tensor(array, device=mpi_job.device())


def _train_step(model, optimizer, x, y, loss_fn=None):
    import minidl.nn.functional as F
    loss = (loss_fn or F.cross_entropy)(model(_tensor(x)), _tensor(y))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def _ddp_against_one_process(batchnorm, **ddp_options):
    """Train a DDP model on shards and a copy of rank 0's initial model on whole batches;
    return how far apart they end up, and whether the ranks started apart."""
    import minidl
    import minidl.distributed as dist
    from minidl import nn
    from minidl.nn.parallel import DistributedDataParallel
    from minidl.optim import SGD
    rank, world = dist.get_rank(), dist.get_world_size()
    minidl.manual_seed(1000 + rank)                       # every rank its own initial weights
    model = _convnet(batchnorm).to(mpi_job.device())
    own_initial = _state(model)
    if batchnorm:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    ddp = DistributedDataParallel(model, **ddp_options)
    reference = _convnet(batchnorm).to(mpi_job.device())
    reference.load_state_dict(ddp.module.state_dict())  # rank 0's weights, after the broadcast
    started_apart = _max_difference(own_initial, _state(reference)) > 0
    options = dict(lr=0.1, momentum=0.9, weight_decay=1e-3)
    ours, theirs = SGD(ddp.parameters(), **options), SGD(reference.parameters(), **options)
    gaps = []
    for step in range(STEPS):
        x, y = _batch(step)
        _train_step(ddp, ours, _shard(x, rank, world), _shard(y, rank, world))
        _train_step(reference, theirs, x, y)
        gaps.append(_max_difference(_state(ddp.module), _state(reference)))
    return {'gaps': gaps, 'started_apart': started_apart,
            'buckets': len(ddp._buckets), 'keys': list(ddp.state_dict())[:2]}


def plain_model():
    return _ddp_against_one_process(batchnorm=False)


def many_buckets():
    return _ddp_against_one_process(batchnorm=False, bucket_cap_mb=1e-6)


def sync_batchnorm_model():
    return _ddp_against_one_process(batchnorm=True)


def sync_batchnorm_layer():
    """One SyncBatchNorm2d on a shard against BatchNorm2d on the whole batch: outputs,
    input gradients, parameter gradients (summed over ranks), running statistics."""
    import minidl
    import minidl.distributed as dist
    from minidl import nn
    rank, world = dist.get_rank(), dist.get_world_size()
    rng = np.random.default_rng(7)
    x = rng.normal(size=(6, 3, 4, 4)) * 2 + 1
    cotangent = rng.normal(size=x.shape)
    whole = nn.BatchNorm2d(3).double().to(mpi_job.device())
    with minidl.no_grad():
        whole.weight.normal_()
        whole.bias.normal_()
    sync = nn.SyncBatchNorm(3).double().to(mpi_job.device())
    sync.load_state_dict(whole.state_dict())
    xs = [_tensor(x).requires_grad_(), _tensor(_shard(x, rank, world)).requires_grad_()]
    out_whole, out_sync = whole(xs[0]), sync(xs[1])
    out_whole.backward(_tensor(cotangent))
    out_sync.backward(_tensor(_shard(cotangent, rank, world)))
    grads = minidl.cat([sync.weight.grad, sync.bias.grad])
    dist.all_reduce(grads)            # the ranks' shares of dgamma and dbeta add up
    return {
        'output': _max_difference([out_sync], [_shard(out_whole.numpy(), rank, world)]),
        'input grad': _max_difference([xs[1].grad], [_shard(xs[0].grad.numpy(), rank, world)]),
        'weight and bias grads': _max_difference(
            [grads], [np.concatenate([whole.weight.grad.numpy(), whole.bias.grad.numpy()])]),
        'running stats': _max_difference(
            [sync.running_mean.array, sync.running_var.array],
            [whole.running_mean.array, whole.running_var.array]),
        'batches tracked': int(sync.num_batches_tracked.item()),
    }


def no_sync():
    """Two micro-batches per rank, the first under no_sync(): the gradient after the
    second backward is the average over ranks of the sum over micro-batches."""
    import minidl
    import minidl.distributed as dist
    import minidl.nn.functional as F
    from minidl.nn.parallel import DistributedDataParallel
    rank, world = dist.get_rank(), dist.get_world_size()
    minidl.manual_seed(2000 + rank)
    ddp = DistributedDataParallel(_convnet(batchnorm=False).to(mpi_job.device()))
    reference = _convnet(batchnorm=False).to(mpi_job.device())
    reference.load_state_dict(ddp.module.state_dict())
    micro = [_batch(10), _batch(11)]
    with ddp.no_sync():
        x, y = micro[0]
        F.cross_entropy(ddp(_tensor(_shard(x, rank, world))),
                        _tensor(_shard(y, rank, world))).backward()
    local = [p.grad.numpy() for p in ddp.parameters()]
    x, y = micro[1]
    F.cross_entropy(ddp(_tensor(_shard(x, rank, world))),
                    _tensor(_shard(y, rank, world))).backward()
    # one process: the mean over the whole micro-batch = the average of the ranks' means
    for x, y in micro:
        F.cross_entropy(reference(_tensor(x)), _tensor(y)).backward()
    unsynced = minidl.tensor(np.concatenate([g.ravel() for g in local]))
    everyone = [minidl.zeros_like(unsynced) for _ in range(world)]
    dist.all_gather(everyone, unsynced)
    return {'grad gap': _max_difference([p.grad for p in ddp.parameters()],
                                        [p.grad for p in reference.parameters()]),
            'ranks apart inside no_sync': _max_difference([everyone[0]], [everyone[1]])}


def unused_parameters():
    import minidl
    import minidl.nn.functional as F
    from minidl import nn
    from minidl.nn.parallel import DistributedDataParallel

    class TwoHeads(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Linear(4, 3).double()
            self.unused = nn.Linear(4, 3).double()

        def forward(self, x):
            return self.body(x)

    x, y = np.random.default_rng(3).normal(size=(4, 4)), np.array([0, 1, 2, 0])
    out = {}
    model = DistributedDataParallel(TwoHeads(), find_unused_parameters=True)
    for _ in range(2):
        F.cross_entropy(model(minidl.tensor(x)), minidl.tensor(y)).backward()
    out['unused grad'] = repr(model.module.unused.weight.grad)
    out['body grad set'] = model.module.body.weight.grad is not None
    strict = DistributedDataParallel(TwoHeads())
    F.cross_entropy(strict(minidl.tensor(x)), minidl.tensor(y)).backward()
    try:
        strict(minidl.tensor(x))
        out['strict'] = 'no error'
    except RuntimeError as err:
        out['strict'] = str(err)
    return out


def mismatched_models():
    import minidl.distributed as dist
    from minidl import nn
    from minidl.nn.parallel import DistributedDataParallel
    width = 3 + dist.get_rank()
    try:
        DistributedDataParallel(nn.Linear(4, width))
        return 'no error'
    except ValueError as err:
        return str(err)


# a model of each kind of graph: a chain with BatchNorm, residual blocks, several outputs
# (GoogLeNet's auxiliary heads), depthwise convolutions
ZOO = {'lenet5_bn': (28, {}), 'resnet18': (32, {'small_input': True}), 'googlenet': (32, {}),
       'mobilenet_v1': (32, {})}


def zoo_models():
    """One training step of zoo models under DDP: the ranks' weights must stay equal."""
    import minidl
    import minidl.distributed as dist
    from minidl import models
    from minidl.nn.parallel import DistributedDataParallel
    from minidl.optim import SGD
    from minidl.train.trainer import classification_loss
    rank, world = dist.get_rank(), dist.get_world_size()
    out = {}
    for name, (size, kwargs) in ZOO.items():
        minidl.manual_seed(rank)
        in_channels = 1 if name.startswith('lenet') else 3
        ddp = DistributedDataParallel(models.get_model(name, num_classes=10,
                                                       in_channels=in_channels, **kwargs))
        before = np.concatenate([p.numpy().ravel() for p in ddp.parameters()])
        rng = np.random.default_rng(rank)
        x = rng.normal(size=(2, in_channels, size, size)).astype(np.float32)
        y = rng.integers(0, 10, size=2)
        _train_step(ddp, SGD(ddp.parameters(), lr=0.1), x, y, classification_loss)
        after = minidl.tensor(np.concatenate([p.numpy().ravel() for p in ddp.parameters()]))
        everyone = [minidl.zeros_like(after) for _ in range(world)]
        dist.all_gather(everyone, after)
        out[name] = {'ranks apart': _max_difference([everyone[0]], [everyone[1]]),
                     'moved': float(np.abs(after.array - before).max())}
    return out


SCENARIOS = {f.__name__: f for f in (plain_model, many_buckets, sync_batchnorm_model,
                                     sync_batchnorm_layer, no_sync, unused_parameters,
                                     mismatched_models, zoo_models)}


# ---------------------------------------------------------------- the tests

@pytest.fixture(scope='module')
def job():
    return mpi_job.run(__file__, list(SCENARIOS))


@pytest.mark.parametrize('scenario', ['plain_model', 'many_buckets', 'sync_batchnorm_model'])
def test_ddp_on_halves_equals_one_process_on_the_whole_batch(job, scenario):
    results = job[scenario]
    assert [r['started_apart'] for r in results] == [False, True]   # rank 1 began elsewhere
    for rank, result in enumerate(results):
        assert len(result['gaps']) == STEPS
        assert max(result['gaps']) < 1e-10, f'rank {rank}: {result["gaps"]}'


def test_buckets(job):
    assert {r['buckets'] for r in job['plain_model']} == {1}
    assert {r['buckets'] for r in job['many_buckets']} == {6}     # one per parameter
    assert job['plain_model'][0]['keys'] == ['module.0.weight', 'module.0.bias']


@pytest.mark.parametrize('what', ['output', 'input grad', 'weight and bias grads',
                                  'running stats'])
def test_sync_batchnorm_equals_batchnorm_on_the_whole_batch(job, what):
    for rank, result in enumerate(job['sync_batchnorm_layer']):
        assert result[what] < 1e-10, f'rank {rank}'
        assert result['batches tracked'] == 1


def test_no_sync_accumulates_locally_then_averages(job):
    for result in job['no_sync']:
        assert result['ranks apart inside no_sync'] > 1e-3
        assert result['grad gap'] < 1e-10


def test_unused_parameters(job):
    for result in job['unused_parameters']:
        assert result['unused grad'] == 'None'
        assert result['body grad set']
        assert 'Parameters without a gradient: unused.weight, unused.bias' in result['strict'] \
            or 'Parameters without a gradient: unused.bias, unused.weight' in result['strict']
        assert 'find_unused_parameters=True' in result['strict']


def test_ranks_with_different_models_are_refused(job):
    for message in job['mismatched_models']:
        assert message.startswith('DistributedDataParallel: the ranks have different models: '
                                  'rank 0 has 2 parameters (15 values), rank 1 has 2 (20 values)')


@pytest.mark.parametrize('name', list(ZOO))
def test_zoo_models_stay_equal_across_ranks(job, name):
    for result in job['zoo_models']:
        assert result[name]['ranks apart'] == 0.0
        assert result[name]['moved'] > 0


def test_without_a_process_group_ddp_says_so():
    from minidl import nn
    from minidl.nn.parallel import DistributedDataParallel
    with pytest.raises(ValueError, match='init_process_group'):
        DistributedDataParallel(nn.Linear(2, 2))


if __name__ == '__main__':
    mpi_job.serve(SCENARIOS)
    sys.exit(0)
