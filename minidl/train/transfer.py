"""Transfer learning: pretrained weights in, a new head on, some layers frozen.

    load_pretrained(model, 'resnet18.pth')        # torchvision's file, keys unchanged
    replace_head(model, num_classes=5)            # 'fc' now Linear(512, 5)
    freeze(model)                                 # everything ...
    unfreeze(model, 'fc')                         # ... but the head: feature extraction
    opt = optim.SGD(param_groups(model, lr=0.1, backbone_lr=0.01), lr=0.1)

Module paths are the names of ``model.named_parameters()`` without the last part:
``'layer4'`` covers ``layer4.0.conv1.weight`` and the rest of that stage, ``'features.0'``
the first layer of ``features``; a prefix ending in ``*`` matches plain text
(``'layer*'`` covers layer1 to layer4).

A frozen BatchNorm layer should also stop updating its running statistics, or the
features the head was trained on drift away: ``frozen_batchnorm_eval(model)`` (which
``fit`` calls after every ``model.train()``) puts every BatchNorm whose parameters are
all frozen in eval mode.
"""
import os

import numpy as np

from .. import nn
from ..backend import is_array, to_device
from ..serialization import LoadError, load, save
from ..serialization.atomic import atomic_write

__all__ = ['freeze', 'unfreeze', 'trainable_parameters', 'head_path', 'replace_head',
           'param_groups', 'frozen_batchnorm_eval', 'load_pretrained', 'read_state_dict',
           'save_weights', 'LoadReport']


def _matches(name, prefix):
    if prefix.endswith('*'):
        return name.startswith(prefix[:-1])
    return name == prefix or name.startswith(prefix + '.')


def _select(model, prefixes, op):
    """(name, parameter) pairs under ``prefixes`` (all of them for None); every prefix must
    match something."""
    named = list(model.named_parameters())
    if prefixes is None:
        return named
    if isinstance(prefixes, str):
        prefixes = [prefixes]
    chosen = []
    for prefix in prefixes:
        hits = [(n, p) for n, p in named if _matches(n, prefix)]
        if not hits:
            paths = sorted({n.rsplit('.', 1)[0] for n, _ in named if '.' in n})
            shown = ', '.join(paths[:12]) + (', ...' if len(paths) > 12 else '')
            raise KeyError(f'{op}: no parameter of {type(model).__name__} lies under '
                           f'{prefix!r}; its module paths are {shown}')
        chosen.extend(hit for hit in hits if hit not in chosen)
    return chosen


def freeze(model, prefixes=None):
    """Stop gradients to the parameters under ``prefixes`` (a path or a list; None: all).
    Returns the names frozen."""
    chosen = _select(model, prefixes, 'freeze')
    for _, p in chosen:
        p.requires_grad = False
        p.grad = None
    return [n for n, _ in chosen]


def unfreeze(model, prefixes=None):
    """Let gradients reach the parameters under ``prefixes`` again. Returns their names."""
    chosen = _select(model, prefixes, 'unfreeze')
    for _, p in chosen:
        p.requires_grad = True
    return [n for n, _ in chosen]


def trainable_parameters(model):
    """The parameters that still require gradients (what to hand an optimizer)."""
    return [p for p in model.parameters() if p.requires_grad]


# ---------------------------------------------------------------- the classifier head

def _last_linear(module, prefix):
    found = None
    for name, child in module.named_modules():
        if isinstance(child, nn.Linear):
            found = f'{prefix}.{name}' if name else prefix
    return found


def head_path(model):
    """The path of the classifier's final Linear layer: ``fc`` (ResNet, GoogLeNet),
    ``classifier`` (DenseNet), ``classifier.6`` (AlexNet, VGG: the last Linear of a
    Sequential ``classifier``), or the last Linear of a Sequential model (LeNet: ``11``)."""
    for attribute in ('fc', 'classifier', 'head'):
        child = getattr(model, attribute, None)
        if isinstance(child, nn.Module):
            path = _last_linear(child, attribute)
            if path is not None:
                return path
    if isinstance(model, nn.Sequential):
        path = _last_linear(model, '')
        if path:
            return path.lstrip('.')
    raise ValueError(f'head_path: {type(model).__name__} has no Linear classifier in fc, '
                     f'classifier or at the end of a Sequential; replace its last layer by '
                     f'hand (e.g. a 1x1 convolution for NiN)')


def _parent_and_name(model, path):
    parent_path, _, name = path.rpartition('.')
    parent = model.get_submodule(parent_path) if parent_path else model
    return parent, name


def _get(model, path):
    return dict(model.named_modules())[path]


def replace_head(model, num_classes):
    """Put a fresh Linear(in_features, num_classes) where the classifier's last Linear was
    (same device and dtype), and return its path. GoogLeNet's auxiliary heads, when it
    has them, get new ones too."""
    paths = [head_path(model)]
    for aux in ('aux1', 'aux2'):
        child = getattr(model, aux, None)
        if isinstance(child, nn.Module):
            paths.append(_last_linear(child, aux))
    for path in filter(None, paths):
        old = _get(model, path)
        new = nn.Linear(old.in_features, num_classes, bias=old.bias is not None)
        new.to(old.weight.device)
        parent, name = _parent_and_name(model, path)
        setattr(parent, name, new)
    return paths[0]


def param_groups(model, head_prefixes=None, lr=0.1, backbone_lr=None):
    """Two optimizer parameter groups: the head at ``lr`` and the backbone at
    ``backbone_lr`` (default lr / 10). Frozen parameters and empty groups are left out.

    ``head_prefixes`` defaults to the classifier head (``head_path(model)``).
    """
    if head_prefixes is None:
        head_prefixes = [head_path(model)]
    elif isinstance(head_prefixes, str):
        head_prefixes = [head_prefixes]
    backbone_lr = lr / 10 if backbone_lr is None else backbone_lr
    head_names = {n for n, _ in _select(model, head_prefixes, 'param_groups')}
    head, backbone = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (head if name in head_names else backbone).append(p)
    groups = []
    if backbone:
        groups.append({'params': backbone, 'lr': backbone_lr})
    if head:
        groups.append({'params': head, 'lr': lr})
    if not groups:
        raise ValueError('param_groups: every parameter is frozen; nothing to train')
    return groups


# ---------------------------------------------------------------- batch norm of frozen layers

def _is_batchnorm(module):
    kinds = tuple(getattr(nn, k) for k in ('BatchNorm1d', 'BatchNorm2d', 'BatchNorm3d',
                                           'SyncBatchNorm')
                  if hasattr(nn, k))
    return isinstance(module, kinds)


def frozen_batchnorm_eval(model):
    """Put every BatchNorm whose parameters are all frozen in eval mode (running statistics
    used, not updated). Call after ``model.train()``; returns the paths of those layers."""
    names = []
    for name, module in model.named_modules():
        if _is_batchnorm(module):
            params = list(module.parameters())
            if params and not any(p.requires_grad for p in params):
                module.eval()
                names.append(name)
    return names


# ---------------------------------------------------------------- reading and writing weights

class LoadReport:
    """What ``load_pretrained`` did: the keys loaded, the model's keys the file lacks
    (``missing_keys``), the file's keys the model lacks (``unexpected_keys``) and those whose
    shapes differ (``mismatched_keys``: name -> (file shape, model shape), not loaded)."""

    def __init__(self, loaded, missing, unexpected, mismatched):
        self.loaded_keys, self.missing_keys = loaded, missing
        self.unexpected_keys, self.mismatched_keys = unexpected, mismatched

    @property
    def complete(self):
        return not (self.missing_keys or self.unexpected_keys or self.mismatched_keys)

    def __str__(self):
        lines = [f'loaded {len(self.loaded_keys)} tensors']
        if self.missing_keys:
            lines.append(f'missing (kept as initialised): {", ".join(self.missing_keys)}')
        if self.unexpected_keys:
            lines.append(f'unexpected (ignored): {", ".join(self.unexpected_keys)}')
        for name, (theirs, ours) in self.mismatched_keys.items():
            lines.append(f'shape mismatch (not loaded): {name}: file {theirs}, model {ours}')
        return '\n'.join(lines)

    __repr__ = __str__


def _to_numpy(value):
    from ..tensor import Tensor
    if isinstance(value, Tensor):
        return value.numpy()
    return to_device(value, 'cpu') if is_array(value) else value


def _unwrap(obj, path):
    """The state_dict inside a loaded file: a raw state_dict, or one under 'state_dict',
    'model' or 'model_state_dict' (as training scripts and ``minidl train`` save them)."""
    for key in ('state_dict', 'model', 'model_state_dict'):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            return obj[key]
    if not isinstance(obj, dict):
        raise LoadError(f'load_pretrained: {path} holds a {type(obj).__name__}, not a '
                        f'state_dict')
    return obj


def read_state_dict(path):
    """A {name: ndarray} dict from a weights file: PyTorch's .pt/.pth (no PyTorch
    needed), a minidl file (``minidl.save``, a ``minidl train`` checkpoint), safetensors
    or .npz, told apart by their contents. Nothing in the file is run (see
    ``minidl.load``). A 'module.' prefix (DataParallel) is dropped. Raises
    ``FileNotFoundError`` or ``minidl.serialization.LoadError`` naming the file."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f'load_pretrained: {path} does not exist')
    state = {name: _to_numpy(v) for name, v in _unwrap(load(path, map_location='cpu'),
                                                       path).items()}
    if state and all(k.startswith('module.') for k in state):
        state = {k[len('module.'):]: v for k, v in state.items()}
    return state


def load_pretrained(model, path, strict=False):
    """Load the weights in ``path`` (see ``read_state_dict`` for the formats) into
    ``model`` by torchvision's key names and return a ``LoadReport``.

    Keys whose shapes differ (a classifier for another number of classes) are skipped
    and reported; with ``strict=True`` any missing, unexpected or mismatched key is an
    error instead.
    """
    given = read_state_dict(path)
    own = model.state_dict()
    missing = [k for k in own if k not in given]
    unexpected = [k for k in given if k not in own]
    mismatched = {k: (tuple(np.shape(given[k])), tuple(np.shape(own[k])))
                  for k in own if k in given and tuple(np.shape(given[k])) != tuple(np.shape(own[k]))}
    report = LoadReport([k for k in own if k in given and k not in mismatched], missing,
                        unexpected, mismatched)
    if strict and not report.complete:
        raise KeyError(f'load_pretrained(strict=True): {path} does not fit '
                       f'{type(model).__name__}:\n{report}')
    merged = dict(own)
    merged.update({k: given[k] for k in report.loaded_keys})
    model.load_state_dict(merged)
    return report


def save_weights(model, path):
    """Write ``model.state_dict()`` to ``path`` atomically: an .npz file when the name
    ends in .npz (readable by ``numpy.load`` too), else a minidl file (``minidl.save``).
    Both are read by ``load_pretrained``."""
    path = os.fspath(path)
    if path.lower().endswith('.npz'):
        arrays = {name: _to_numpy(value) for name, value in model.state_dict().items()}
        atomic_write(path, lambda f: np.savez(f, **arrays))
    else:
        save(model.state_dict(), path)
    return path
