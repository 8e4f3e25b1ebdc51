"""The ``minidl`` command (also ``python -m minidl``).

    minidl train --out runs/digits                       # LeNet-5 + BN on the shipped digits
    minidl train --model resnet18 --dataset cifar10 --data-dir data --download --epochs 30
    minidl train --optimizer adam --scheduler onecycle --out runs/adam
    minidl train --out runs/digits --resume              # go on after an interruption
    mpiexec -n 2 minidl train --distributed              # data-parallel on 2 processes
    minidl evaluate --checkpoint runs/digits/checkpoint.minidl
    minidl summary resnet50 --input 1,3,224,224 --backward --memory
    minidl demo                                          # a few seconds: watch a loss fall
    minidl models                                        # the model zoo
    minidl run train.py --lr 0.1                         # a PyTorch script, unmodified, on minidl

A run folder is never overwritten unasked: ``train`` refuses an ``--out`` that holds a
run (its checkpoint, metrics or curves) unless ``--resume`` (go on with it) or
``--overwrite`` (delete it and start afresh) is given. ``--resume`` takes the run's
options from its checkpoint; an option given again must have the same value, except
``--epochs`` under ``--scheduler none`` (a schedule is planned for its epochs).

Mistakes of use (bad arguments, a missing, corrupt or foreign dataset file or
checkpoint, an ``--out`` that cannot be written or is full, ``--device cuda`` without a
GPU, labels the model cannot predict) print one line to stderr and exit with status 2,
checked before training starts wherever they can be; a run whose loss diverges exits
with status 1, an interrupted one with 130. ``--debug`` (or MINIDL_DEBUG=1) shows the
traceback instead.
"""
import argparse
import errno
import os
import sys
import time

import numpy as np

from . import models

DEBUG_ENV = 'MINIDL_DEBUG'

DATASETS = ('digits', 'mnist', 'fashion-mnist', 'cifar10')
SCHEDULERS = ('none', 'step', 'multistep', 'cosine', 'warmup-cosine', 'cosine-restarts',
              'linear', 'onecycle', 'plateau')

# The options of each `--optimizer` when not given: its learning rate, weight decay and
# (SGD, RMSprop) momentum for the default run, LeNet-5 + BN on the digits.
OPTIMIZERS = {
    'sgd': dict(lr=0.1, momentum=0.9, weight_decay=5e-4),
    'adam': dict(lr=1e-3, weight_decay=0.0),
    'adamw': dict(lr=1e-3, weight_decay=1e-2),
    'rmsprop': dict(lr=1e-3, momentum=0.0, weight_decay=0.0),
    'adagrad': dict(lr=1e-2, weight_decay=0.0),
    'adadelta': dict(lr=1.0, weight_decay=0.0),
}

# Mean and standard deviation per channel of the training images (in [0, 1]).
DATASET_STATS = {
    'mnist': ((0.1307,), (0.3081,)),
    'fashion-mnist': ((0.2860,), (0.3530,)),
    'cifar10': ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
}

_NATIVE_SIZE = {'digits': 8, 'mnist': 28, 'fashion-mnist': 28, 'cifar10': 32}

# The defaults of `minidl train`: LeNet-5 with batch norm on the shipped digits at 28x28,
# tuned to pass 97% test accuracy in well under two minutes on two CPU cores.
DEFAULTS = dict(model='lenet5_bn', dataset='digits', epochs=30, batch_size=32, optimizer='sgd',
                scheduler='cosine', augment=True, seed=0)


class UsageError(Exception):
    """A mistake of use, reported in one line with exit status 2."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser, with its errors in one line (and exit status 2)."""

    def error(self, message):
        self.exit(2, f'{self.prog}: error: {message} (see {self.prog} --help)\n')


def default_size(model, dataset):
    """The input size for ``model`` on ``dataset``: the model's smallest input for the 8x8
    digits (28 for the LeNets), otherwise the dataset's own size unless the model needs more."""
    smallest = models.smallest_input(model)
    if dataset == 'digits':
        return smallest
    return max(_NATIVE_SIZE[dataset], smallest) if smallest > _NATIVE_SIZE[dataset] else None


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
    for split, data in (('training', train_set), ('test', test_set)):
        if len(data) == 0:
            raise UsageError(f"{config['dataset']}: the {split} set holds no images; check "
                             f"its files (delete them and pass --download to fetch them again)")
    if config.get('mean') is None:
        config['mean'], config['std'] = _stats(config['dataset'], train_set)
    train_set.transform = _transforms(config, train_set, train=True)
    test_set.transform = _transforms(config, train_set, train=False)
    return train_set, test_set


def build_model(config):
    return models.get_model(config['model'], num_classes=config['num_classes'],
                            in_channels=config['in_channels'], **config.get('model_kwargs', {}))


def optimizer_options(args):
    """The options of ``args.optimizer``, filling --lr, --weight-decay and (sgd, rmsprop)
    --momentum in ``args`` from OPTIMIZERS where they are None. ``UsageError`` for
    --momentum or --nesterov on an optimizer without them."""
    defaults = OPTIMIZERS[args.optimizer]
    if args.momentum is not None and 'momentum' not in defaults:
        raise UsageError(f'--momentum applies to sgd and rmsprop, not {args.optimizer}'
                         + (' (it has betas)' if args.optimizer.startswith('adam') else ''))
    if args.nesterov and args.optimizer != 'sgd':
        raise UsageError(f'--nesterov applies to sgd, not {args.optimizer}')
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    options = {key: getattr(args, key) for key in defaults}
    if args.nesterov:
        options['nesterov'] = True
    return options


def build_optimizer(name, params, options):
    from . import optim
    classes = {'sgd': optim.SGD, 'adam': optim.Adam, 'adamw': optim.AdamW,
               'rmsprop': optim.RMSprop, 'adagrad': optim.Adagrad, 'adadelta': optim.Adadelta}
    return classes[name](params, **options)


def build_scheduler(name, optimizer, epochs, steps_per_epoch=1):
    """The schedule ``name`` over ``epochs`` and the interval it is stepped at, 'epoch' or
    'batch' (OneCycleLR, with ``steps_per_epoch`` batches an epoch); (None, 'epoch') for
    'none'."""
    from .optim import lr_scheduler
    if name == 'none':
        return None, 'epoch'
    if name == 'step':
        return lr_scheduler.StepLR(optimizer, step_size=max(1, epochs // 3), gamma=0.1), 'epoch'
    if name == 'multistep':
        milestones = sorted({max(1, epochs // 2), max(1, (3 * epochs) // 4)})
        return lr_scheduler.MultiStepLR(optimizer, milestones=milestones, gamma=0.1), 'epoch'
    if name == 'warmup-cosine':     # a tenth of the run warming up from lr / 10
        warmup = max(1, epochs // 10)
        return lr_scheduler.SequentialLR(optimizer, [
            lr_scheduler.LinearLR(optimizer, start_factor=0.1, total_iters=warmup),
            lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, epochs - warmup))],
            milestones=[warmup]), 'epoch'
    if name == 'cosine-restarts':   # three cosine cycles
        return lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=max(1, epochs // 3)), 'epoch'
    if name == 'linear':            # down to 0 at the end
        return lr_scheduler.LinearLR(optimizer, start_factor=1.0, end_factor=0.0,
                                     total_iters=max(1, epochs)), 'epoch'
    if name == 'onecycle':          # up to --lr and down, cycling momentum where there is one
        group = optimizer.param_groups[0]
        cycle = 'betas' in group or group.get('momentum', 0) > 0
        return lr_scheduler.OneCycleLR(optimizer, max_lr=group['lr'], epochs=max(1, epochs),
                                       steps_per_epoch=max(1, steps_per_epoch),
                                       cycle_momentum=cycle), 'batch'
    if name == 'plateau':           # a tenth of the lr after a tenth of the run without progress
        return lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.1,
                                              patience=max(1, epochs // 10)), 'epoch'
    return lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, epochs)), 'epoch'


# ---------------------------------------------------------------- checks before training

# `minidl train` options that may change when a run is resumed: they do not shape it.
_FREE_ON_RESUME = {'data_dir', 'download', 'device', 'out', 'resume', 'overwrite',
                   'no_progress', 'debug'}


def _flag(dest):
    return '--' + dest.replace('_', '-')


def _take_saved_options(args, state, path):
    """Fill the options not given on the command line from the resumed run's config;
    ``UsageError`` when a given one differs from the run's (``--epochs`` may grow
    under ``--scheduler none``)."""
    saved = state.get('config')
    if not isinstance(saved, dict) or 'model' not in saved:
        raise UsageError(f'{path} was not written by `minidl train` (its config names no '
                         f'model): resume it with minidl.train.fit(resume=...)')
    differ = []
    for dest, value in saved.items():
        if dest in _FREE_ON_RESUME or not hasattr(args, dest):
            continue
        if dest not in args.given:
            setattr(args, dest, value)
        elif getattr(args, dest) != value and not (
                dest == 'epochs' and saved.get('scheduler') == 'none'):
            differ.append((dest, value, getattr(args, dest)))
    if differ:
        theirs = ' '.join(f'{_flag(d)} {v}' for d, v, _ in differ)
        ours = ' '.join(f'{_flag(d)} {v}' for d, _, v in differ)
        note = ''
        if any(d == 'epochs' for d, _, _ in differ):
            note = (f" (its {saved.get('scheduler')} schedule is planned for its epochs: "
                    f"--epochs can change only with --scheduler none)")
        raise UsageError(f'--resume: the run of {path} was trained with {theirs}, not {ours}'
                         f'{note}; leave those options out to go on with the run, or start '
                         f'a new one with another --out or --overwrite')
    done = int(state.get('epoch', 0))
    if args.epochs < done:
        raise UsageError(f'--resume: {path} has already trained {done} epochs, more than '
                         f'--epochs {args.epochs}')


def _check_arguments(args):
    """``UsageError`` naming the first argument out of its range."""
    checks = [('--epochs', args.epochs >= 1, 'at least 1'),
              ('--batch-size', args.batch_size >= 1, 'at least 1'),
              ('--lr', np.isfinite(args.lr) and args.lr >= 0, 'a number >= 0'),
              ('--momentum', args.momentum is None or (np.isfinite(args.momentum)
                                                       and 0 <= args.momentum < 1), 'in [0, 1)'),
              ('--weight-decay', np.isfinite(args.weight_decay) and args.weight_decay >= 0,
               'a number >= 0')]
    smallest = models.smallest_input(args.model)
    if args.size is not None:
        checks.append(('--size', args.size >= smallest, f'at least {smallest} for {args.model}'))
    for flag, ok, expected in checks:
        if not ok:
            raise UsageError(f'{flag} {getattr(args, flag[2:].replace("-", "_"))}: must be '
                             f'{expected}')


def prepare_out(args):
    """Before anything is loaded: the run-folder rules (``minidl.train.run_folder``), a
    resumed run's options, the arguments' ranges, and that --out can be written.
    Returns the output folder."""
    from .serialization.atomic import check_writable
    from .train import load_checkpoint, plan_run
    if args.resume and args.overwrite:
        raise UsageError('--resume and --overwrite exclude each other: --resume goes on '
                         'with the run in --out, --overwrite deletes it and starts afresh')
    out = args.out
    if out is None and isinstance(args.resume, str):
        out = args.resume if os.path.isdir(args.resume) else \
            os.path.dirname(os.path.abspath(args.resume))
    out = out or os.path.join('runs', f'{args.model}_{args.dataset}')
    resume_from = plan_run(out, args.resume, args.overwrite)
    if resume_from is not None:
        _take_saved_options(args, load_checkpoint(resume_from), resume_from)
    optimizer_options(args)       # the optimizer's own defaults for what is still unset
    _check_arguments(args)
    check_writable(out)
    return out


# ---------------------------------------------------------------- the subcommands

def _join_job(device):
    """``--distributed``: join the job mpiexec started; (rank, world size, device). Only
    rank 0 prints (the others' stdout goes nowhere; their errors still show)."""
    from . import distributed as dist
    from .backend import Device
    dist.init_process_group('nccl' if device.type == 'cuda' else 'mpi')
    if device.type == 'cuda':
        device = Device(f'cuda:{dist.group.WORLD.device_index}')
    if dist.get_rank() != 0:
        sys.stdout = open(os.devnull, 'w')
    return dist.get_rank(), dist.get_world_size(), device


def _shard_loaders(args, train_set, test_set, rank, world):
    """Each rank's loaders in a job: its shard of the training set (a DistributedSampler,
    reshuffled each epoch) in batches of batch-size / world, and every world-th test image."""
    from .data import DataLoader, DistributedSampler
    if args.batch_size % world:
        raise UsageError(f'--batch-size {args.batch_size} is the batch of the whole job: it '
                         f'must divide evenly among the {world} processes')
    sampler = DistributedSampler(train_set, world, rank, shuffle=True, seed=args.seed)
    return (DataLoader(train_set, batch_size=args.batch_size // world, sampler=sampler,
                       seed=args.seed),
            DataLoader(test_set, batch_size=max(args.batch_size, 256),
                       sampler=range(rank, len(test_set), world)))


def cmd_train(args):
    import minidl
    from .data import DataLoader
    from .train import fit, resolve_device

    device = resolve_device(args.device)   # fail before loading anything
    rank, world = 0, 1
    if args.distributed:
        rank, world, device = _join_job(device)
    out = args.out = prepare_out(args)
    options = optimizer_options(args)
    size = args.size if args.size is not None else default_size(args.model, args.dataset)
    config = dict(model=args.model, dataset=args.dataset, data_dir=args.data_dir,
                  download=args.download, size=size, augment=args.augment, epochs=args.epochs,
                  batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr,
                  momentum=args.momentum, weight_decay=args.weight_decay,
                  nesterov=args.nesterov, scheduler=args.scheduler, seed=args.seed,
                  mean=None, std=None,
                  model_kwargs=models.small_input_kwargs(args.model, size))
    minidl.manual_seed(args.seed)
    np.random.seed(args.seed)
    train_set, test_set = load_datasets(config)
    config.update(num_classes=train_set.num_classes, in_channels=train_set.in_channels,
                  title=f'{args.model} on {args.dataset}')
    print(f'{args.model} on {args.dataset} ({len(train_set)} train / {len(test_set)} test '
          f'images, {train_set.num_classes} classes, input {config["in_channels"]}x'
          f'{size or "native"}), {_count(args.epochs, "epoch")}, batch {args.batch_size}, '
          f'{args.optimizer} ({", ".join(f"{k} {v}" for k, v in options.items())}), '
          f'{args.scheduler} schedule, device {device}; output in {out}')
    model = build_model(config).to(device)
    optimizer = build_optimizer(args.optimizer, model.parameters(), options)
    if args.distributed:
        from .nn.parallel import DistributedDataParallel
        model = DistributedDataParallel(model)    # every rank starts from rank 0's weights
        train_loader, test_loader = _shard_loaders(args, train_set, test_set, rank, world)
        print(f'data-parallel on {world} processes, {args.batch_size // world} images each '
              f'per step')
    else:
        train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True,
                                  seed=args.seed)
        test_loader = DataLoader(test_set, batch_size=max(args.batch_size, 256))
    scheduler, interval = build_scheduler(args.scheduler, optimizer, args.epochs,
                                          len(train_loader))
    started = time.perf_counter()
    result = fit(model, train_loader, test_loader, epochs=args.epochs, optimizer=optimizer,
                 scheduler=scheduler, scheduler_interval=interval, device=device, out=out,
                 resume=args.resume, overwrite=args.overwrite, progress=not args.no_progress,
                 seed=args.seed, config=config)
    seconds = time.perf_counter() - started
    if result.best_test_acc is not None:
        final = result.final
        print(f'best test accuracy {100 * result.best_test_acc:.2f}% (epoch '
              f'{result.best_epoch}); final {100 * final["test_acc"]:.2f}%; '
              f'{_count(len(result.metrics), "epoch")}, {seconds:.1f} s')
    print(f'metrics: {os.path.join(out, "metrics.csv")}  curves: '
          f'{os.path.join(out, "curves.png")}  checkpoint: {result.checkpoint}')
    if args.distributed:
        seconds = sum(row['seconds'] for row in result.metrics)
        images = sum(row['images_per_s'] * row['seconds'] for row in result.metrics)
        print(f'{world} process{"es" if world > 1 else ""}: '
              f'{images / max(seconds, 1e-9):.0f} images/s for the whole job (training)')
        from . import distributed as dist
        dist.destroy_process_group()
    return 0


def _training_config(state, path):
    """The config of a ``minidl train`` checkpoint, checked enough to build its model."""
    config = state.get('config')
    if not isinstance(config, dict) or 'model' not in config:
        raise UsageError(f'{path} was not written by `minidl train` (its config names no '
                         f'model); load it with minidl.train.load_checkpoint')
    problems = []
    if config['model'] not in models.list_models():
        problems.append(f"its config names an unknown model {config['model']!r}")
    if config.get('dataset') not in DATASETS:
        problems.append(f"its config names an unknown dataset {config.get('dataset')!r}")
    for key in ('num_classes', 'in_channels'):
        if type(config.get(key)) is not int or config[key] < 1:
            problems.append(f'its config has no valid {key}')
    if not isinstance(state.get('model'), dict) or type(state.get('epoch')) is not int:
        problems.append('it holds no model weights or no epoch')
    if problems:
        raise UsageError(f'{path} is not a usable `minidl train` checkpoint: '
                         f'{"; ".join(problems)}')
    return dict(config)


def cmd_evaluate(args):
    from .data import DataLoader
    from .train import evaluate, load_checkpoint, resolve_device

    device = resolve_device(args.device)
    if args.batch_size < 1:
        raise UsageError(f'--batch-size {args.batch_size}: must be at least 1')
    state = load_checkpoint(args.checkpoint)
    config = _training_config(state, args.checkpoint)
    if args.dataset is not None and args.dataset != config['dataset']:
        config.update(dataset=args.dataset, mean=None, std=None)
    if args.data_dir is not None:
        config['data_dir'] = args.data_dir
    config['download'] = False
    train_set, test_set = load_datasets(config)
    model = build_model(config).to(device)
    try:
        model.load_state_dict(state['model'])
    except (KeyError, ValueError, TypeError, RuntimeError) as err:
        reason = err.args[0] if isinstance(err, KeyError) and err.args else err
        raise UsageError(f'{args.checkpoint}: its weights do not fit {config["model"]} '
                         f'({reason})') from None
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
    for name in models.list_models():
        doc = (getattr(models, name).__doc__ or '').strip()
        print(f'{name:<16} {doc.splitlines()[0] if doc else ""}')
    return 0


# ---------------------------------------------------------------- the parser

def build_parser():
    parser = ArgumentParser(
        prog='minidl', description='minidl: train, evaluate and profile the classic CNNs.')
    parser.add_argument('--debug', action='store_true',
                        help=f'show tracebacks of errors (also ${DEBUG_ENV}=1)')
    commands = parser.add_subparsers(dest='command', metavar='COMMAND')
    commands.required = True
    parser.subcommands = commands.choices

    train = commands.add_parser('train', help='train a model on a dataset',
                                description='Train a zoo model; writes metrics.csv, curves.png '
                                            'and checkpoint.minidl in --out. An --out that '
                                            'holds a run needs --resume or --overwrite.')
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
    train.add_argument('--optimizer', default=DEFAULTS['optimizer'], choices=tuple(OPTIMIZERS),
                       help='default sgd; the options below default per optimizer: '
                            + '; '.join(f'{name} ' + ', '.join(f'{k} {v}' for k, v in o.items())
                                        for name, o in OPTIMIZERS.items()))
    train.add_argument('--lr', type=float, default=None, help='learning rate (the peak with '
                                                              'onecycle)')
    train.add_argument('--momentum', type=float, default=None, help='sgd and rmsprop')
    train.add_argument('--weight-decay', type=float, default=None)
    train.add_argument('--nesterov', action='store_true', help='sgd')
    train.add_argument('--scheduler', default=DEFAULTS['scheduler'], choices=SCHEDULERS,
                       help='learning-rate schedule, stepped per epoch (onecycle per batch, '
                            'plateau on the test loss; default cosine)')
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
    train.add_argument('--resume', nargs='?', const=True, default=False, metavar='PATH',
                       help='go on with the run in --out (from checkpoint.minidl, or its '
                            'previous copy when it is missing), or with the checkpoint file '
                            'or run folder PATH; options left out are the run\'s')
    train.add_argument('--overwrite', action='store_true',
                       help='delete the run in --out and start afresh')
    train.add_argument('--no-progress', action='store_true', help='no progress bars')
    train.add_argument('--distributed', action='store_true',
                       help='data-parallel training on the processes of an MPI job: '
                            '`mpiexec -n N minidl train --distributed ...` (--batch-size is '
                            'the whole job\'s; see docs/distributed.md)')
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
    for command in commands.choices.values():   # also accepted after the command
        command.add_argument('--debug', action='store_true', default=argparse.SUPPRESS,
                             help=argparse.SUPPRESS)

    commands.add_parser('summary', add_help=False,
                        help='per-layer parameters, FLOPs and memory of a model '
                             '(minidl summary MODEL --input 1,3,224,224 [--backward] '
                             '[--memory])')

    commands.add_parser('run', add_help=False,
                        help='run an unmodified PyTorch script on minidl (minidl run '
                             '[--profile] SCRIPT [ARGS...])')

    demo = commands.add_parser('demo', help='a few seconds of training: watch the loss fall')
    demo.add_argument('--epochs', type=int, default=5)
    demo.add_argument('--seed', type=int, default=0)
    demo.set_defaults(handler=cmd_demo)

    listing = commands.add_parser('models', help='list the model zoo')
    listing.set_defaults(handler=cmd_models)
    return parser


def given_options(argv):
    """The destinations of the options written in ``argv`` (not left at their defaults)."""
    parser = build_parser()
    for command in parser.subcommands.values():
        for action in command._actions:
            action.default = argparse.SUPPRESS
    return set(vars(parser.parse_args(argv))) - {'command', 'handler', 'debug'}


def _user_errors():
    from .data.datasets import DatasetError, DownloadError
    from .distributed import DistError
    from .serialization import LoadError
    from .train import DeviceError, LabelError, ResumeError
    return (UsageError, DatasetError, DownloadError, LoadError, DeviceError, LabelError,
            ResumeError, DistError)


_OS_ADVICE = {errno.ENOSPC: 'free some space or choose another --out',
              errno.EROFS: 'choose a writable --out', errno.EACCES: 'check its permissions',
              errno.EPERM: 'check its permissions', errno.ENOTDIR: 'give a folder'}


def describe_os_error(err):
    """An OSError in one line: what failed, on which file, and what to do."""
    text = err.strerror or str(err)
    if err.filename and str(err.filename) not in text:
        text = f'{err.filename}: {text}'
    advice = _OS_ADVICE.get(err.errno)
    return f'{text} ({advice})' if advice else text


def _interrupted(args):
    """What an interrupted command leaves: for train, the epoch its checkpoint holds."""
    if args.command != 'train' or not getattr(args, 'out', None):
        return 'interrupted'
    from .train import find_checkpoint, load_checkpoint
    checkpoint = find_checkpoint(args.out)
    if checkpoint is None:
        return 'interrupted before the first epoch finished: no checkpoint was saved'
    try:
        epoch = load_checkpoint(checkpoint)['epoch']
    except Exception:  # noqa: BLE001 - only the message depends on it
        return f'interrupted; {checkpoint} is there, but unreadable'
    return (f'interrupted; {checkpoint} holds epoch {epoch}: add --resume to go on from '
            f'there')


def _count(n, noun):
    """'1 epoch', '30 epochs'."""
    return f'{n} {noun}' if n == 1 else f'{n} {noun}s'


def one_line(message):
    """``message`` on one line: its lines joined by '; '."""
    return '; '.join(line.strip() for line in str(message).splitlines() if line.strip())


RUN_USAGE = """usage: minidl run [--profile] SCRIPT [ARGS...]

Run the Python file SCRIPT, unmodified, with its imports of torch, torch.*,
torchvision and torchvision.* resolved to minidl's modules; ARGS become its sys.argv.
  --profile  when it ends, print the profiler's per-layer table of each model it ran"""


def main_run(argv):
    """``minidl run``: its own parsing, so that the script's arguments pass untouched."""
    from .compat import run_script
    profile = False
    while argv and argv[0].startswith('-'):
        option = argv.pop(0)
        if option in ('-h', '--help'):
            print(RUN_USAGE)
            return 0
        if option != '--profile':
            print(f'{RUN_USAGE}\nminidl run: error: unknown option {option}', file=sys.stderr)
            return 2
        profile = True
    if not argv:
        print(f'{RUN_USAGE}\nminidl run: error: give the script to run', file=sys.stderr)
        return 2
    if not os.path.isfile(argv[0]):
        print(f'minidl run: error: no such script: {argv[0]}', file=sys.stderr)
        return 2
    code = run_script(argv[0], argv[1:], profile=profile)
    if code is None or isinstance(code, int):
        return code or 0
    print(code, file=sys.stderr)   # sys.exit('message'), as Python reports it
    return 1


def main(argv=None):
    """Run the ``minidl`` command; returns its exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == 'summary':
        from .profile.cli import main_summary
        return main_summary(argv[1:])
    if argv and argv[0] == 'run':
        return main_run(argv[1:])
    args = build_parser().parse_args(argv)
    args.given = given_options(argv)
    debug = args.debug or os.environ.get(DEBUG_ENV) == '1'
    from .train import TrainingDiverged
    try:
        return args.handler(args)
    except _user_errors() as err:
        if debug:
            raise
        print(f'minidl {args.command}: error: {one_line(err)}', file=sys.stderr)
        return _end_job(2, err)
    except OSError as err:   # the disk: full, read-only, a file where a folder should be
        if debug:
            raise
        print(f'minidl {args.command}: error: {one_line(describe_os_error(err))}',
              file=sys.stderr)
        return _end_job(2, describe_os_error(err))
    except TrainingDiverged as err:
        if debug:
            raise
        print(f'minidl {args.command}: {one_line(err)}', file=sys.stderr)
        return _end_job(1, err)
    except KeyboardInterrupt:
        print(f'minidl {args.command}: {_interrupted(args)}', file=sys.stderr)
        return _end_job(130, 'interrupted')


def _end_job(status, reason):
    """In a distributed job, a rank that fails tells the others (they stop with an error
    naming it) and ends the job; elsewhere, just the exit status."""
    from . import distributed as dist
    if dist.is_initialized():
        dist.abort(f'minidl: {one_line(reason)}', status)
    return status


if __name__ == '__main__':
    sys.exit(main())
