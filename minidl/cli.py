"""The ``minidl`` command (also ``python -m minidl``).

    minidl train --out runs/digits                       # LeNet-5 + BN on the shipped digits
    minidl train --model resnet18 --dataset cifar10 --data-dir data --download --epochs 30
    minidl train --out runs/digits --resume              # go on after an interruption
    minidl evaluate --checkpoint runs/digits/checkpoint.pkl
    minidl summary resnet50 --input 1,3,224,224 --backward --memory
    minidl demo                                          # a few seconds: watch a loss fall
    minidl models                                        # the model zoo

Mistakes of use (a missing or corrupt dataset file, a corrupt checkpoint, ``--device
cuda`` without a GPU, labels the model cannot predict) print one line to stderr and
exit with status 2; a run whose loss diverges exits with status 1.
"""
import argparse
import os
import sys
import time

import numpy as np

DATASETS = ('digits', 'mnist', 'fashion-mnist', 'cifar10')
SCHEDULERS = ('none', 'step', 'multistep', 'cosine')

# Mean and standard deviation per channel of the training images (in [0, 1]).
DATASET_STATS = {
    'mnist': ((0.1307,), (0.3081,)),
    'fashion-mnist': ((0.2860,), (0.3530,)),
    'cifar10': ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
}

# The smallest input each model family takes (see minidl.models); digits are resized to it.
_MIN_INPUT = (('lenet5', 28), ('alexnet_2012', 67), ('alexnet', 63), ('nin', 67), ('vgg', 32),
              ('googlenet', 32), ('resnet', 32), ('resnext', 32), ('densenet', 32),
              ('mobilenet', 32))
_NATIVE_SIZE = {'digits': 8, 'mnist': 28, 'fashion-mnist': 28, 'cifar10': 32}
_SMALL_INPUT_MODELS = ('resnet', 'resnext', 'densenet')

# The defaults of `minidl train`: LeNet-5 with batch norm on the shipped digits at 28x28,
# tuned to pass 97% test accuracy in well under two minutes on two CPU cores.
DEFAULTS = dict(model='lenet5_bn', dataset='digits', epochs=30, batch_size=32, lr=0.1,
                momentum=0.9, weight_decay=5e-4, scheduler='cosine', augment=True, seed=0)


class UsageError(Exception):
    """A mistake of use, reported in one line with exit status 2."""


def _min_input(model):
    for prefix, size in _MIN_INPUT:
        if model.startswith(prefix):
            return size
    return None


def default_size(model, dataset):
    """The input size for ``model`` on ``dataset``: the model's smallest input for the 8x8
    digits (28 for the LeNets), otherwise the dataset's own size unless the model needs more."""
    smallest = _min_input(model) or 32
    if dataset == 'digits':
        return smallest
    return max(_NATIVE_SIZE[dataset], smallest) if smallest > _NATIVE_SIZE[dataset] else None


def model_kwargs(model, size):
    """Extra constructor arguments: the CIFAR stem for ResNet/DenseNet on small images."""
    if model.startswith(_SMALL_INPUT_MODELS) and size is not None and size <= 64:
        return {'small_input': True}
    return {}


# ---------------------------------------------------------------- building a run

def _stats(dataset_name, train_set):
    if dataset_name in DATASET_STATS:
        return DATASET_STATS[dataset_name]
    data = train_set.data.astype(np.float64)   # the digits: small, computed exactly
    return (tuple(data.mean(axis=(0, 2, 3))), tuple(data.std(axis=(0, 2, 3))))


def _transforms(config, train_set, train):
    from .data import transforms as T
    mean, std = config['mean'], config['std']
    steps = []
    if train and config['augment']:
        size = config['size'] or _NATIVE_SIZE[config['dataset']]
        padding = 4 if config['dataset'] == 'cifar10' else max(1, size // 14)  # 2 at 28x28
        steps.append(T.RandomCrop(size, padding=padding))
        if config['dataset'] in ('cifar10', 'fashion-mnist'):   # a mirrored digit is no digit
            steps.append(T.RandomHorizontalFlip())
    steps.append(T.Normalize(mean, std))
    return T.Compose(steps)


def load_datasets(config):
    """(train, test) datasets of a run's config, transforms included; fills in the
    normalisation statistics of the config when missing."""
    from .data import get_dataset
    kwargs = dict(root=config.get('data_dir'), size=config['size'])
    try:
        train_set = get_dataset(config['dataset'], train=True,
                                download=config.get('download', False), **kwargs)
        test_set = get_dataset(config['dataset'], train=False,
                               download=config.get('download', False), **kwargs)
    except FileNotFoundError as err:
        raise UsageError(f'{err} (or pass --download)' if not config.get('download') else
                         str(err)) from None
    if config.get('mean') is None:
        config['mean'], config['std'] = _stats(config['dataset'], train_set)
    train_set.transform = _transforms(config, train_set, train=True)
    test_set.transform = _transforms(config, train_set, train=False)
    return train_set, test_set


def build_model(config):
    from . import models
    return models.get_model(config['model'], num_classes=config['num_classes'],
                            in_channels=config['in_channels'], **config.get('model_kwargs', {}))


def build_scheduler(name, optimizer, epochs):
    from .optim import lr_scheduler
    if name == 'none':
        return None
    if name == 'step':
        return lr_scheduler.StepLR(optimizer, step_size=max(1, epochs // 3), gamma=0.1)
    if name == 'multistep':
        milestones = sorted({max(1, epochs // 2), max(1, (3 * epochs) // 4)})
        return lr_scheduler.MultiStepLR(optimizer, milestones=milestones, gamma=0.1)
    return lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, epochs))


# ---------------------------------------------------------------- the subcommands

def cmd_train(args):
    import minidl
    from .data import DataLoader
    from .optim import SGD
    from .train import fit, resolve_device

    device = resolve_device(args.device)   # fail before loading anything
    size = args.size if args.size is not None else default_size(args.model, args.dataset)
    out = args.out or os.path.join('runs', f'{args.model}_{args.dataset}')
    config = dict(model=args.model, dataset=args.dataset, data_dir=args.data_dir,
                  download=args.download, size=size, augment=args.augment, epochs=args.epochs,
                  batch_size=args.batch_size, lr=args.lr, momentum=args.momentum,
                  weight_decay=args.weight_decay, nesterov=args.nesterov,
                  scheduler=args.scheduler, seed=args.seed, mean=None, std=None,
                  model_kwargs=model_kwargs(args.model, size))
    minidl.manual_seed(args.seed)
    np.random.seed(args.seed)
    train_set, test_set = load_datasets(config)
    config.update(num_classes=train_set.num_classes, in_channels=train_set.in_channels,
                  title=f'{args.model} on {args.dataset}')
    print(f'{args.model} on {args.dataset} ({len(train_set)} train / {len(test_set)} test '
          f'images, {train_set.num_classes} classes, input {config["in_channels"]}x'
          f'{size or "native"}), {args.epochs} epochs, batch {args.batch_size}, lr {args.lr}, '
          f'device {device}; output in {out}')
    model = build_model(config).to(device)
    optimizer = SGD(model.parameters(), lr=args.lr, momentum=args.momentum,
                    weight_decay=args.weight_decay, nesterov=args.nesterov)
    scheduler = build_scheduler(args.scheduler, optimizer, args.epochs)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True,
                              seed=args.seed)
    test_loader = DataLoader(test_set, batch_size=max(args.batch_size, 256))
    started = time.perf_counter()
    result = fit(model, train_loader, test_loader, epochs=args.epochs, optimizer=optimizer,
                 scheduler=scheduler, device=device, out=out, resume=args.resume,
                 progress=not args.no_progress, seed=args.seed, config=config)
    seconds = time.perf_counter() - started
    if result.best_test_acc is not None:
        final = result.final
        print(f'best test accuracy {100 * result.best_test_acc:.2f}% (epoch '
              f'{result.best_epoch}); final {100 * final["test_acc"]:.2f}%; '
              f'{len(result.metrics)} epochs, {seconds:.1f} s')
    print(f'metrics: {os.path.join(out, "metrics.csv")}  curves: '
          f'{os.path.join(out, "curves.png")}  checkpoint: {result.checkpoint}')
    return 0


def cmd_evaluate(args):
    from .data import DataLoader
    from .train import evaluate, load_checkpoint, resolve_device

    device = resolve_device(args.device)
    state = load_checkpoint(args.checkpoint)
    config = dict(state.get('config') or {})
    if 'model' not in config:
        raise UsageError(f'{args.checkpoint} was not written by `minidl train` (its config '
                         f'names no model); load it with minidl.train.load_checkpoint')
    if args.dataset is not None and args.dataset != config['dataset']:
        config.update(dataset=args.dataset, mean=None, std=None)
    if args.data_dir is not None:
        config['data_dir'] = args.data_dir
    config['download'] = False
    train_set, test_set = load_datasets(config)
    model = build_model(config).to(device)
    model.load_state_dict(state['model'])
    data = test_set if args.split == 'test' else train_set
    result = evaluate(model, DataLoader(data, batch_size=args.batch_size), device=device)
    top5 = '' if result['top5'] is None else f'  top-5 {100 * result["top5"]:.2f}%'
    print(f'{config["model"]} after epoch {state["epoch"]} on {config["dataset"]} '
          f'{args.split} ({result["count"]} images): loss {result["loss"]:.4f}  '
          f'accuracy {100 * result["acc"]:.2f}%{top5}')
    return 0


def cmd_demo(args):
    import minidl
    from . import nn
    from .data import DataLoader, get_dataset
    from .optim import SGD
    from .train import fit

    minidl.manual_seed(args.seed)
    train_set, test_set = get_dataset('digits', train=True), get_dataset('digits', train=False)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
    print('a 2-layer network on the 8x8 digits shipped with minidl:')
    result = fit(model, DataLoader(train_set, batch_size=32, shuffle=True, seed=args.seed),
                 DataLoader(test_set, batch_size=256), epochs=args.epochs, optimizer=optimizer,
                 progress=False, seed=args.seed)
    losses = ' -> '.join(f'{row["train_loss"]:.3f}' for row in result.metrics)
    print(f'training loss fell {losses}; test accuracy {100 * result.final["test_acc"]:.1f}% '
          f'in {result.seconds:.1f} s')
    return 0


def cmd_models(args):
    from . import models
    for name in models.list_models():
        doc = (getattr(models, name).__doc__ or '').strip()
        print(f'{name:<16} {doc.splitlines()[0] if doc else ""}')
    return 0


# ---------------------------------------------------------------- the parser

def build_parser():
    from . import models
    parser = argparse.ArgumentParser(
        prog='minidl', description='minidl: train, evaluate and profile the classic CNNs.')
    commands = parser.add_subparsers(dest='command', metavar='COMMAND')
    commands.required = True

    train = commands.add_parser('train', help='train a model on a dataset',
                                description='Train a zoo model; writes metrics.csv, curves.png '
                                            'and checkpoint.pkl in --out.')
    train.add_argument('--model', default=DEFAULTS['model'], choices=models.list_models(),
                       metavar='NAME', help=f'a name from `minidl models` '
                                            f'(default {DEFAULTS["model"]})')
    train.add_argument('--dataset', default=DEFAULTS['dataset'], choices=DATASETS,
                       help='default digits (shipped with minidl, no download)')
    train.add_argument('--data-dir', default=None,
                       help='folder of the downloaded datasets (default $MINIDL_DATA_ROOT or '
                            '~/.cache/minidl/data)')
    train.add_argument('--download', action='store_true', help='fetch missing dataset files')
    train.add_argument('--epochs', type=int, default=DEFAULTS['epochs'])
    train.add_argument('--batch-size', type=int, default=DEFAULTS['batch_size'])
    train.add_argument('--lr', type=float, default=DEFAULTS['lr'])
    train.add_argument('--momentum', type=float, default=DEFAULTS['momentum'])
    train.add_argument('--weight-decay', type=float, default=DEFAULTS['weight_decay'])
    train.add_argument('--nesterov', action='store_true')
    train.add_argument('--scheduler', default=DEFAULTS['scheduler'], choices=SCHEDULERS,
                       help='learning-rate schedule, stepped per epoch (default cosine)')
    train.add_argument('--augment', action=argparse.BooleanOptionalAction,
                       default=DEFAULTS['augment'],
                       help='random crops of padded images, and flips for cifar10 and '
                            'fashion-mnist (default on)')
    train.add_argument('--size', type=int, default=None,
                       help='input size: digits are 8x8, resized to 28 for LeNet by default '
                            '(the smallest input of other models)')
    train.add_argument('--device', default='cpu', help="'cpu' or 'cuda' (needs CuPy and a GPU)")
    train.add_argument('--seed', type=int, default=DEFAULTS['seed'])
    train.add_argument('--out', default=None,
                       help='output folder (default runs/MODEL_DATASET)')
    train.add_argument('--resume', action='store_true',
                       help='continue from OUT/checkpoint.pkl when it exists')
    train.add_argument('--no-progress', action='store_true', help='no progress bars')
    train.set_defaults(handler=cmd_train)

    evaluate = commands.add_parser('evaluate', help='evaluate a checkpoint of `minidl train`')
    evaluate.add_argument('--checkpoint', required=True)
    evaluate.add_argument('--dataset', default=None, choices=DATASETS,
                          help="default: the checkpoint's")
    evaluate.add_argument('--data-dir', default=None)
    evaluate.add_argument('--split', default='test', choices=('test', 'train'))
    evaluate.add_argument('--batch-size', type=int, default=256)
    evaluate.add_argument('--device', default='cpu')
    evaluate.set_defaults(handler=cmd_evaluate)

    commands.add_parser('summary', add_help=False,
                        help='per-layer parameters, FLOPs and memory of a model '
                             '(minidl summary MODEL --input 1,3,224,224 [--backward] '
                             '[--memory])')

    demo = commands.add_parser('demo', help='a few seconds of training: watch the loss fall')
    demo.add_argument('--epochs', type=int, default=5)
    demo.add_argument('--seed', type=int, default=0)
    demo.set_defaults(handler=cmd_demo)

    listing = commands.add_parser('models', help='list the model zoo')
    listing.set_defaults(handler=cmd_models)
    return parser


def _user_errors():
    from .data.datasets import DatasetError, DownloadError
    from .train import CheckpointError, DeviceError, LabelError
    return (UsageError, DatasetError, DownloadError, CheckpointError, DeviceError, LabelError,
            FileNotFoundError)


def main(argv=None):
    """Run the ``minidl`` command; returns its exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == 'summary':
        from .profile.cli import main_summary
        return main_summary(argv[1:])
    args = build_parser().parse_args(argv)
    from .train import TrainingDiverged
    try:
        return args.handler(args)
    except _user_errors() as err:
        print(f'minidl {args.command}: error: {err}', file=sys.stderr)
        return 2
    except TrainingDiverged as err:
        print(f'minidl {args.command}: {err}', file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        hint = ' (the last finished epoch is saved: add --resume to go on)' \
            if args.command == 'train' else ''
        print(f'minidl {args.command}: interrupted{hint}', file=sys.stderr)
        return 130


if __name__ == '__main__':
    sys.exit(main())
