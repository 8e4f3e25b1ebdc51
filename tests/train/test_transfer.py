"""Transfer learning helpers: freezing, heads, parameter groups, frozen BN, weight files."""
import sys

import numpy as np
import pytest

import minidl
from minidl import models, nn
from minidl.data import DataLoader, TensorDataset
from minidl.optim import SGD
from minidl.train import (fit, freeze, frozen_batchnorm_eval, head_path, load_pretrained,
                          param_groups, read_state_dict, replace_head, save_weights,
                          trainable_parameters, unfreeze)
from minidl.serialization import LoadError, UnsafeFileError
from tests.parity import require_torch
from tests.serialization.evil import evil_pickle, object_array_npz, torch_like_zip

pytestmark = pytest.mark.cpu_only


def with_fc(nn):
    """A small network with an ``fc`` head, written once for minidl.nn and torch.nn (its
    PyTorch twin, for the checkpoint tests)."""
    class WithFc(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(),
                                          nn.AdaptiveAvgPool2d(1), nn.Flatten())
            self.fc = nn.Linear(4, 10)

        def forward(self, x):
            return self.fc(self.features(x))
    return WithFc


WithFc = with_fc(nn)


class WithClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Flatten(), nn.Linear(16, 8))
        self.classifier = nn.Sequential(nn.Dropout(0.5), nn.Linear(8, 8), nn.ReLU(),
                                        nn.Linear(8, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


def requires_grad(model):
    return {n: p.requires_grad for n, p in model.named_parameters()}


def test_freeze_and_unfreeze_by_module_path():
    model = WithFc()
    frozen = freeze(model, 'features')
    assert frozen == ['features.0.weight', 'features.0.bias', 'features.1.weight',
                      'features.1.bias']
    assert requires_grad(model) == {**{n: False for n in frozen}, 'fc.weight': True,
                                    'fc.bias': True}
    assert trainable_parameters(model) == [model.fc.weight, model.fc.bias]
    unfreeze(model, ['features.1'])
    assert [n for n, g in requires_grad(model).items() if g] == [
        'features.1.weight', 'features.1.bias', 'fc.weight', 'fc.bias']
    freeze(model)
    assert not any(requires_grad(model).values())
    unfreeze(model, 'feat*')  # a text prefix
    assert requires_grad(model)['features.0.weight'] and not requires_grad(model)['fc.bias']


def test_freeze_matches_whole_path_parts_and_rejects_unknown_paths():
    model = nn.Sequential(*[nn.Linear(2, 2) for _ in range(12)])
    assert freeze(model, '1') == ['1.weight', '1.bias']  # not 10.*, 11.*
    with pytest.raises(KeyError, match=r"no parameter of Sequential lies under 'layer9'"):
        freeze(model, 'layer9')


def test_frozen_parameters_get_no_gradient():
    model = WithFc()
    freeze(model, 'features')
    model(minidl.randn(2, 1, 5, 5)).sum().backward()
    assert model.features[0].weight.grad is None
    assert model.fc.weight.grad is not None


@pytest.mark.parametrize('build, path', [
    (WithFc, 'fc'),
    (WithClassifier, 'classifier.3'),
    (lambda: models.lenet5(num_classes=10), '11'),
    (lambda: models.lenet5_bn(num_classes=10), '15'),
])
def test_replace_head_knows_the_layouts(build, path):
    model = build()
    assert head_path(model) == path
    old = dict(model.named_modules())[path]
    assert replace_head(model, 3) == path
    new = dict(model.named_modules())[path]
    assert new is not old and isinstance(new, nn.Linear)
    assert (new.in_features, new.out_features) == (old.in_features, 3)
    assert new.weight.shape == (3, old.in_features)


def test_replace_head_on_resnet_and_its_output():
    model = models.resnet18(num_classes=10, small_input=True)
    assert replace_head(model, 4) == 'fc'
    model.eval()
    with minidl.no_grad():
        assert model(minidl.randn(1, 3, 32, 32)).shape == (1, 4)


def test_head_path_without_a_linear_head():
    with pytest.raises(ValueError, match='no Linear classifier'):
        head_path(nn.Sequential(nn.Conv2d(1, 2, 1), nn.ReLU()))


def test_param_groups_give_the_backbone_a_smaller_lr():
    model = WithFc()
    freeze(model, 'features.0')
    groups = param_groups(model, lr=0.1, backbone_lr=0.01)
    assert [g['lr'] for g in groups] == [0.01, 0.1]
    assert groups[0]['params'] == [model.features[1].weight, model.features[1].bias]
    assert groups[1]['params'] == [model.fc.weight, model.fc.bias]
    opt = SGD(groups, lr=0.1, momentum=0.9)
    assert [g['lr'] for g in opt.param_groups] == [0.01, 0.1]
    assert param_groups(WithFc(), 'features', lr=1.0)[1]['params'][0].shape == (4, 1, 3, 3)
    assert param_groups(WithFc(), lr=1.0)[0]['lr'] == 0.1  # lr / 10 by default
    freeze(model)
    with pytest.raises(ValueError, match='every parameter is frozen'):
        param_groups(model)


def test_frozen_batchnorm_stays_in_eval_mode_through_fit():
    model = WithFc()
    freeze(model, 'features')
    model.train()
    assert frozen_batchnorm_eval(model) == ['features.1']
    assert not model.features[1].training and model.fc.training
    bn = model.features[1]
    mean, var = bn.running_mean.numpy().copy(), bn.running_var.numpy().copy()
    rng = np.random.default_rng(0)
    data = TensorDataset(rng.standard_normal((32, 1, 5, 5)).astype(np.float32) * 3 + 2,
                         rng.integers(0, 10, 32))
    fit(model, DataLoader(data, batch_size=8, seed=0), epochs=1,
        optimizer=SGD(trainable_parameters(model), lr=0.1), progress=False, log=None)
    np.testing.assert_array_equal(bn.running_mean.numpy(), mean)
    np.testing.assert_array_equal(bn.running_var.numpy(), var)
    # an unfrozen BatchNorm learns its statistics as usual
    unfreeze(model)
    fit(model, DataLoader(data, batch_size=8, seed=0), epochs=1,
        optimizer=SGD(trainable_parameters(model), lr=0.1), progress=False, log=None)
    assert not np.array_equal(bn.running_mean.numpy(), mean)


def test_save_weights_and_load_npz_reports_missing_unexpected_and_mismatched(tmp_path):
    source = WithFc()
    path = tmp_path / 'weights.npz'
    save_weights(source, path)
    assert sorted(read_state_dict(path)) == sorted(source.state_dict())

    target = WithFc()
    replace_head(target, 3)       # a head of another size: skipped, reported
    report = load_pretrained(target, path)
    assert report.mismatched_keys == {'fc.weight': ((10, 4), (3, 4)), 'fc.bias': ((10,), (3,))}
    assert report.missing_keys == [] and report.unexpected_keys == []
    np.testing.assert_array_equal(target.features[0].weight.numpy(),
                                  source.features[0].weight.numpy())
    np.testing.assert_array_equal(target.features[1].running_mean.numpy(),
                                  source.features[1].running_mean.numpy())
    assert 'shape mismatch (not loaded): fc.weight' in str(report)

    state = {k: np.asarray(v) for k, v in source.state_dict().items()}
    del state['features.0.bias']
    state['extra.weight'] = np.zeros(2, np.float32)
    np.savez(tmp_path / 'partial.npz', **state)
    report = load_pretrained(WithFc(), tmp_path / 'partial.npz')
    assert report.missing_keys == ['features.0.bias']
    assert report.unexpected_keys == ['extra.weight']
    with pytest.raises(KeyError, match='strict=True'):
        load_pretrained(WithFc(), tmp_path / 'partial.npz', strict=True)


def test_unreadable_weight_files(tmp_path):
    with pytest.raises(FileNotFoundError, match='nothing.npz does not exist'):
        load_pretrained(WithFc(), tmp_path / 'nothing.npz')
    (tmp_path / 'bad.npz').write_bytes(b'garbage')
    with pytest.raises(LoadError, match='bad.npz is not a file minidl can load'):
        load_pretrained(WithFc(), tmp_path / 'bad.npz')
    (tmp_path / 'w.h5').write_bytes(b'')
    with pytest.raises(LoadError, match=r'w\.h5 is empty'):
        load_pretrained(WithFc(), tmp_path / 'w.h5')
    minidl.save(minidl.ones(3), tmp_path / 'tensor.pt')
    with pytest.raises(LoadError, match='holds a Tensor, not a state_dict'):
        load_pretrained(WithFc(), tmp_path / 'tensor.pt')


def test_weights_in_a_minidl_file_and_a_training_checkpoint(tmp_path, make_run):
    source = WithFc()
    save_weights(source, tmp_path / 'weights.pt')       # minidl.save
    assert read_state_dict(tmp_path / 'weights.pt').keys() == source.state_dict().keys()
    run = make_run()
    fit(run.model, run.train_loader, epochs=1, out=str(tmp_path / 'run'), **run.kwargs())
    target = make_run(seed=1).model
    assert load_pretrained(target, tmp_path / 'run' / 'checkpoint.minidl').complete
    for key, value in run.model.state_dict().items():
        np.testing.assert_array_equal(target.state_dict()[key], value)


def test_malicious_weight_files_do_not_run(tmp_path):
    marker = tmp_path / 'ran'
    object_array_npz(tmp_path / 'w.npz', marker)
    with pytest.raises(UnsafeFileError, match='arrays of Python objects'):
        load_pretrained(WithFc(), tmp_path / 'w.npz')
    torch_like_zip(tmp_path / 'w.pth', evil_pickle(marker, protocol=2))
    with pytest.raises(UnsafeFileError, match='asks to load posix.system'):
        load_pretrained(WithFc(), tmp_path / 'w.pth')
    assert not marker.exists()


@pytest.mark.parametrize('wrap', ['raw', 'state_dict', 'model', 'dataparallel'])
def test_load_pytorch_checkpoint_with_pytorch_blocked(tmp_path, wrap, monkeypatch):
    torch = require_torch()
    torch.manual_seed(0)
    twin = with_fc(torch.nn)()
    twin.train()
    twin(torch.randn(8, 1, 5, 5) * 2 + 1)   # move the running statistics away from 0 and 1
    twin.eval()
    state = twin.state_dict()
    saved = {'raw': state, 'state_dict': {'state_dict': state, 'epoch': 3},
             'model': {'model': state},
             'dataparallel': {f'module.{k}': v for k, v in state.items()}}[wrap]
    path = tmp_path / 'weights.pth'
    torch.save(saved, path)

    model = WithFc()
    with monkeypatch.context() as patch:
        patch.setitem(sys.modules, 'torch', None)     # `import torch` now fails
        report = load_pretrained(model, path)
    assert report.complete and len(report.loaded_keys) == len(state)
    model.eval()
    x = np.random.default_rng(0).standard_normal((3, 1, 5, 5)).astype(np.float32)
    with minidl.no_grad():
        ours = model(minidl.tensor(x)).numpy()
    with torch.no_grad():
        theirs = twin(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_pytorch_checkpoint_with_missing_and_unexpected_keys(tmp_path):
    torch = require_torch()
    state = with_fc(torch.nn)().state_dict()
    state.pop('fc.bias')
    state['aux.weight'] = torch.zeros(3)
    torch.save(state, tmp_path / 'w.pt')
    report = load_pretrained(WithFc(), tmp_path / 'w.pt')
    assert report.missing_keys == ['fc.bias'] and report.unexpected_keys == ['aux.weight']
