"""Training loop: ``fit`` a classifier, ``evaluate`` it, log, checkpoint and resume.

    model = models.lenet5_bn(num_classes=10)
    opt = optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    result = fit(model, train_loader, test_loader, epochs=10, optimizer=opt, out='runs/a')

Each epoch shows a tqdm bar (loss, images/s), then prints one line with the train and
test loss and accuracy (top-1, and top-5 when there are more than 5 classes). With
``out`` it also keeps, in that folder:

- ``metrics.csv``: ``epoch,train_loss,train_acc,test_loss,test_acc`` (accuracies as
  fractions), plus ``test_top5`` when there are more than 5 classes;
- ``curves.png``: loss and accuracy against the epoch;
- ``checkpoint.minidl``: everything needed to go on (model, optimizer, scheduler, the
  random generators, the loaders' positions, the metrics so far, the config), written
  atomically after every epoch; the one before it is kept as ``checkpoint.prev.minidl``.

Each epoch writes the metrics and curves first and the checkpoint last, so a checkpoint
never claims an epoch whose metrics are missing; a resumed run rewrites both from its
checkpoint before it trains. ``fit`` never writes over another run: see ``run_folder``
for when ``out`` may be used, and ``overwrite=True`` to replace a run.

``fit(..., resume=True)`` continues from ``out/checkpoint.minidl`` and gives exactly the
losses an uninterrupted run with the same seed gives: every random draw of a run
(dropout, shuffling, augmentation) comes from generators whose state the checkpoint
holds. Killed at any point, even while writing its files, a run resumed this way ends
with the same metrics and weights, byte for byte, as one that never stopped - on the
CPU. On a GPU, CuPy's generator position cannot be saved: a resumed run restarts the GPU
generator from the seed, so its dropout masks (only those) differ from an unbroken run's.

In a data-parallel job (``minidl.distributed`` initialised, the model wrapped in
``DistributedDataParallel``, each rank's loaders reading its shard) every rank calls
``fit`` alike: the epoch's losses, accuracies and image counts are summed over the
ranks, so the metrics and images/s are the whole job's; rank 0 alone logs and writes
the files; the checkpoint holds the bare model (no ``module.`` prefix), and every rank
resumes from it (``out`` must be on a file system all ranks see).
"""
import io
import math
import os
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from .. import backend
from ..autograd import no_grad
from ..backend import Device, get_array_module, get_rng_state, manual_seed, set_rng_state
from ..functional import cross_entropy
from ..optim.lr_scheduler import ReduceLROnPlateau
from ..serialization.atomic import (PROBE_NAME, atomic_write, check_writable,
                                    remove_stale_staging)
from .checkpoint import CheckpointError, load_checkpoint, previous_path, save_checkpoint
from .run_folder import (CHECKPOINT_NAME, CURVES_NAME, METRICS_NAME, RUN_FILES, clear_run,
                         plan_run)
from .transfer import frozen_batchnorm_eval

__all__ = ['fit', 'evaluate', 'FitResult', 'TrainingDiverged', 'LabelError', 'DeviceError',
           'ResumeError', 'resolve_device', 'classification_loss', 'write_metrics_csv',
           'plot_curves', 'CHECKPOINT_NAME', 'METRICS_NAME', 'CURVES_NAME', 'COLUMNS']

COLUMNS = ('epoch', 'train_loss', 'train_acc', 'test_loss', 'test_acc')
TOP5_COLUMN = 'test_top5'


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


class LabelError(ValueError):
    """A label is outside the classes the model predicts."""


class DeviceError(RuntimeError):
    """The device asked for cannot be used here (e.g. 'cuda' without a GPU or CuPy)."""


class ResumeError(ValueError):
    """The checkpoint to resume from belongs to another kind of run: another model,
    dataset, batch size or optimizer set-up."""


def resolve_device(device):
    """``Device(device)``, checked to be usable now: ``DeviceError`` says why not."""
    try:
        device = Device(device)
    except (TypeError, ValueError) as err:
        raise DeviceError(str(err)) from None
    if device.type == 'cuda':
        try:
            backend.array_module_for(device)
        except RuntimeError as err:
            raise DeviceError(str(err)) from None
    return device


def logits_of(output):
    """The class scores of a model's output: ``output.logits`` when it has them (GoogLeNet's
    training output carries auxiliary heads too), the first of a tuple, or the output."""
    if hasattr(output, 'logits'):
        return output.logits
    if isinstance(output, (tuple, list)):
        return output[0]
    return output


def classification_loss(output, target):
    """Cross-entropy, or the output's own ``training_loss(target)`` when it has one
    (GoogLeNet's, with its auxiliary heads)."""
    if hasattr(output, 'training_loss'):
        return output.training_loss(target)
    return cross_entropy(output, target)


def _check_labels(labels, num_classes, where):
    xp = get_array_module(labels)
    low, high = int(xp.min(labels)), int(xp.max(labels))
    if low < 0 or high >= num_classes:
        bad = low if low < 0 else high
        raise LabelError(f'{where}: label {bad} is out of range for the model, which outputs '
                         f'{num_classes} classes (labels must be 0..{num_classes - 1}); build '
                         f'the model with num_classes={max(high + 1, num_classes)} or check '
                         f'the dataset\'s labels')


def _correct(logits, labels, k):
    """How many rows of ``logits`` have ``labels`` among their top ``k`` scores."""
    xp = get_array_module(logits)
    if k == 1:
        return int((logits.argmax(axis=1) == labels).sum())
    top = xp.argpartition(-logits, k - 1, axis=1)[:, :k]
    return int((top == labels[:, None]).any(axis=1).sum())


# ---------------------------------------------------------------- data-parallel jobs

def _job():
    """(rank, world size) of the distributed job, (0, 1) outside one."""
    from .. import distributed as dist
    if not dist.is_initialized():
        return 0, 1
    return dist.get_rank(), dist.get_world_size()


def _over_ranks(values, op='sum'):
    """``values`` (numbers) summed, or their max, over the ranks of the job."""
    if _job()[1] == 1:
        return list(values)
    from .. import distributed as dist
    from ..tensor import Tensor
    total = Tensor(np.array(values, dtype=np.float64))
    dist.all_reduce(total, op)
    return total.array.tolist()


def _bare(model):
    """The model inside a DistributedDataParallel wrapper (whose state_dict it saves)."""
    from ..nn.parallel import DistributedDataParallel
    return model.module if isinstance(model, DistributedDataParallel) else model


def _evaluate_job(model, loader, loss_fn, device):
    """The test columns of a metrics row: ``evaluate`` on this rank's loader, combined over
    the ranks of a job (weighted by their image counts) after every rank has taken rank
    0's buffers, so that the figures are those of the model rank 0 saves."""
    if _job()[1] > 1:
        from .. import distributed as dist
        for buffer in _bare(model).buffers():
            dist.broadcast(buffer, 0)
    result = evaluate(model, loader, loss_fn, device)
    n, top5 = result['count'], result['top5']
    loss_sum, correct, correct5, count = _over_ranks(
        [result['loss'] * n, result['acc'] * n, (top5 or 0.0) * n, n])
    return {'test_loss': loss_sum / count, 'test_acc': correct / count,
            TOP5_COLUMN: None if top5 is None else correct5 / count}


def _model_device(model):
    for p in model.parameters():
        return p.device
    return backend.CPU


def evaluate(model, loader, loss_fn=None, device=None):
    """Loss and accuracy of ``model`` over ``loader`` in eval mode, without a graph.

    Returns a dict: ``loss`` (mean per image), ``acc`` (top-1 fraction), ``top5`` (the
    top-5 fraction, None with 5 classes or fewer) and ``count`` (images). The model's
    train/eval mode is restored afterwards.
    """
    loss_fn = loss_fn or classification_loss
    device = _model_device(model) if device is None else Device(device)
    was_training = model.training
    model.eval()
    loss_sum, count, correct, correct5, classes = 0.0, 0, 0, 0, 0
    try:
        with no_grad():
            for step, (images, labels) in enumerate(loader, start=1):
                images, labels = images.to(device), labels.to(device)
                output = model(images)
                logits = logits_of(output)
                classes = logits.shape[1]
                _check_labels(labels.array, classes, f'evaluate: step {step}')
                n = len(labels)
                loss_sum += float(loss_fn(output, labels).item()) * n
                correct += _correct(logits.array, labels.array, 1)
                if classes > 5:
                    correct5 += _correct(logits.array, labels.array, 5)
                count += n
    finally:
        model.train(was_training)
    if count == 0:
        raise ValueError('evaluate: the loader yielded no batches')
    return {'loss': loss_sum / count, 'acc': correct / count,
            'top5': correct5 / count if classes > 5 else None, 'count': count}


@dataclass
class FitResult:
    """What ``fit`` did: the metrics rows (one dict per epoch, resumed ones included),
    the best test accuracy and its epoch, the seconds this call took, and where the
    checkpoint is."""
    metrics: list = field(default_factory=list)
    best_test_acc: float = None
    best_epoch: int = None
    seconds: float = 0.0
    checkpoint: str = None

    @property
    def final(self):
        return self.metrics[-1] if self.metrics else None


def _best(metrics):
    scored = [row for row in metrics if row.get('test_acc') is not None]
    if not scored:
        return None, None
    best = max(scored, key=lambda row: row['test_acc'])
    return best['test_acc'], best['epoch']


def write_metrics_csv(path, metrics):
    """``metrics.csv`` from the rows, atomically; ``test_top5`` appended when present."""
    columns = list(COLUMNS)
    if any(row.get(TOP5_COLUMN) is not None for row in metrics):
        columns.append(TOP5_COLUMN)
    lines = [','.join(columns)]
    for row in metrics:
        cells = []
        for name in columns:
            value = row.get(name)
            cells.append('' if value is None else repr(value) if isinstance(value, float)
                         else str(value))
        lines.append(','.join(cells))
    text = '\n'.join(lines) + '\n'
    atomic_write(path, lambda f: f.write(text.encode('utf-8')))


def plot_curves(path, metrics, title=None):
    """Loss and accuracy against the epoch, as a PNG (matplotlib's Agg canvas: no display)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    epochs = [row['epoch'] for row in metrics]
    figure = Figure(figsize=(10, 4))
    FigureCanvasAgg(figure)
    loss_axes, acc_axes = figure.subplots(1, 2)
    for axes, key, label in ((loss_axes, 'loss', 'loss'), (acc_axes, 'acc', 'accuracy')):
        for split, style in (('train', '-o'), ('test', '-s')):
            values = [row.get(f'{split}_{key}') for row in metrics]
            if any(v is not None for v in values):
                axes.plot(epochs, [np.nan if v is None else v for v in values], style,
                          markersize=3, label=split)
        axes.set_xlabel('epoch')
        axes.set_ylabel(label)
        axes.grid(alpha=0.3)
    top5 = [row.get(TOP5_COLUMN) for row in metrics]
    if any(v is not None for v in top5):
        acc_axes.plot(epochs, [np.nan if v is None else v for v in top5], '--', label='test top-5')
    loss_axes.legend()
    acc_axes.legend()
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format='png', dpi=100)
    atomic_write(path, lambda f: f.write(buffer.getvalue()))


def _percent(value):
    return '-' if value is None else f'{100 * value:.2f}%'


def format_epoch(row, epochs):
    """One line per epoch: 'epoch  3/20  train loss 0.1234 acc 96.52%  test ...'."""
    width = len(str(epochs))
    text = (f"epoch {row['epoch']:>{width}}/{epochs}  train loss {row['train_loss']:.4f} "
            f"acc {_percent(row['train_acc'])}")
    if row.get('test_loss') is not None:
        text += f"  test loss {row['test_loss']:.4f} acc {_percent(row['test_acc'])}"
        if row.get(TOP5_COLUMN) is not None:
            text += f" top-5 {_percent(row[TOP5_COLUMN])}"
    return text + f"  lr {row['lr']:.4g}  {row['images_per_s']:.0f} img/s  {row['seconds']:.1f}s"


def _current_lr(optimizer):
    return float(optimizer.param_groups[0]['lr'])


def _loader_state(loader):
    return loader.state_dict() if loader is not None and hasattr(loader, 'state_dict') else None


def _divergence(value, images, epoch, step, steps, last_good):
    """Why the loss became ``value``: bad input values, or else the training itself."""
    where = f'at epoch {epoch}, step {step} (of {steps})'
    xp = get_array_module(images.array)
    if not bool(xp.isfinite(images.array).all()):
        return (f'the input images of epoch {epoch}, step {step} hold NaN or infinite '
                f'values, so the loss became {value}; training stopped. {last_good} '
                f'Check the dataset and its transforms (a normalization std of 0?).')
    return (f'the loss became {value} {where}; training stopped. {last_good} Try a smaller '
            f'learning rate.')


def _train_epoch(model, loader, optimizer, loss_fn, device, epoch, epochs, progress,
                 last_good, batch_scheduler=None):
    model.train()
    frozen_batchnorm_eval(model)
    loss_sum, count, correct = 0.0, 0, 0
    start = time.perf_counter()
    first_step = _loader_state(loader)['batches_done'] if hasattr(loader, 'state_dict') else 0
    from tqdm import tqdm
    bar = tqdm(total=len(loader), initial=first_step, desc=f'epoch {epoch}/{epochs}',
               unit='batch', leave=False, disable=not progress, file=sys.stderr,
               dynamic_ncols=True)
    try:
        for step, (images, labels) in enumerate(loader, start=first_step + 1):
            images, labels = images.to(device), labels.to(device)
            output = model(images)
            logits = logits_of(output)
            _check_labels(labels.array, logits.shape[1], f'epoch {epoch}, step {step}')
            loss = loss_fn(output, labels)
            value = float(loss.item())
            if not math.isfinite(value):
                raise TrainingDiverged(_divergence(value, images, epoch, step, len(loader),
                                                   last_good))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if batch_scheduler is not None:
                batch_scheduler.step()
            n = len(labels)
            count += n
            loss_sum += value * n
            correct += _correct(logits.array, labels.array, 1)
            bar.update(1)
            bar.set_postfix({'loss': f'{loss_sum / count:.4f}',
                             'img/s': f'{count / max(time.perf_counter() - start, 1e-9):.0f}'},
                            refresh=False)
    finally:
        bar.close()
    if count == 0:
        raise ValueError(f'fit: the training loader yielded no batches in epoch {epoch}')
    seconds = time.perf_counter() - start
    loss_sum, correct, count = _over_ranks([loss_sum, correct, count])
    (seconds,) = _over_ranks([seconds], 'max')
    return {'train_loss': loss_sum / count, 'train_acc': correct / count,
            'images_per_s': count / max(seconds, 1e-9), 'seconds': seconds}


# The config entries a resumed run must share with its checkpoint.
_SAME_ON_RESUME = ('model', 'dataset', 'batch_size')


def _restore(state, what, model, optimizer, scheduler, train_loader, test_loader, config):
    """Put the checkpoint ``state`` into the run's objects; ``ResumeError`` naming what
    differs when it belongs to another kind of run."""
    missing = [k for k in ('epoch', 'model', 'optimizer', 'rng', 'loader', 'metrics')
               if k not in state]
    if missing:
        raise CheckpointError(f'{what} is not a checkpoint of fit: it lacks '
                              f'{", ".join(missing)}')
    saved_config, config = state.get('config') or {}, config or {}
    differ = [f'{key} {saved_config[key]!r} (this run: {config[key]!r})'
              for key in _SAME_ON_RESUME
              if key in saved_config and key in config and saved_config[key] != config[key]]
    saved_class = state.get('model_class')
    if saved_class is not None and saved_class != type(model).__name__:
        differ.insert(0, f'model class {saved_class} (this run: {type(model).__name__})')
    if differ:
        raise ResumeError(f'{what} belongs to another run: {"; ".join(differ)}')
    loaders = state['loader'] if isinstance(state['loader'], dict) else {}
    parts = [('model', model, state['model']), ('optimizer', optimizer, state['optimizer']),
             ('training loader', train_loader, loaders.get('train')),
             ('test loader', test_loader, loaders.get('test'))]
    if scheduler is not None and state.get('scheduler') is not None:
        parts.append(('scheduler', scheduler, state['scheduler']))
    for part, target, saved in parts:
        if target is None or saved is None or not hasattr(target, 'load_state_dict'):
            continue
        try:
            target.load_state_dict(saved)
        except (KeyError, ValueError, TypeError, RuntimeError) as err:
            reason = err.args[0] if isinstance(err, KeyError) and err.args else err
            raise ResumeError(f'{what} does not fit this run\'s {part}: {reason}') from None
    set_rng_state(state['rng']['minidl'])
    np.random.set_state(state['rng']['numpy'])
    return list(state['metrics']), int(state['epoch'])


def _checkpoint_bytes(model, optimizer):
    """About how big a checkpoint of ``model`` is: its weights and the optimizer's state
    as the optimizer states it (one buffer per parameter for one that does not say)."""
    weights = sum(int(np.prod(v.shape)) * v.dtype.itemsize for v in model.state_dict().values())
    try:
        return weights + optimizer.state_bytes()
    except NotImplementedError:
        return 2 * weights


def _write_run_files(out, metrics, config):
    write_metrics_csv(os.path.join(out, METRICS_NAME), metrics)
    plot_curves(os.path.join(out, CURVES_NAME), metrics, title=(config or {}).get('title'))


def fit(model, train_loader, test_loader=None, *, epochs, optimizer, scheduler=None,
        scheduler_interval='epoch', loss_fn=None, device='cpu', out=None, resume=False,
        overwrite=False, progress=True, seed=None, config=None, log=print):
    """Train ``model`` for ``epochs`` epochs (counted from the start of the run, resumed ones
    included) and return a ``FitResult``.

    Arguments:
        train_loader, test_loader: iterables of (images, labels) batches; minidl
            DataLoaders' positions are saved in checkpoints.
        optimizer, scheduler: a minidl optimizer and (optionally) a learning-rate
            schedule, stepped once per epoch; a ReduceLROnPlateau is stepped with the
            epoch's test loss (its training loss without a test loader).
        scheduler_interval: 'epoch', or 'batch' to step the schedule after every
            optimizer step (OneCycleLR).
        loss_fn: ``loss_fn(output, labels)``; default cross-entropy, or the output's own
            ``training_loss`` (GoogLeNet's auxiliary heads in training mode).
        device: 'cpu' or 'cuda[:N]'; the model is moved there.
        out: folder for metrics.csv, curves.png and checkpoint.minidl (None: keep
            nothing). It must not hold another run unless ``resume`` or ``overwrite``
            is given (``minidl.train.run_folder`` says the rules).
        resume: True continues from out/checkpoint.minidl (or its previous copy when it
            is missing; a folder with no run starts from scratch); a path continues from
            that checkpoint file or run folder.
        overwrite: delete the run files in ``out`` and start afresh.
        progress: show a tqdm bar per epoch.
        seed: seed minidl's and NumPy's generators when the run starts (not on resume:
            the checkpoint's generator states are restored instead).
        config: a dict saved in the checkpoint (the CLI keeps the model, dataset and
            hyper-parameters there, for ``minidl evaluate``). On resume its 'model',
            'dataset' and 'batch_size' must match the checkpoint's.
        log: where the per-epoch lines go (``print``; None for silence).

    Raises TrainingDiverged when the loss becomes NaN or infinite (naming the epoch and
    step; the last checkpoint is kept), LabelError for labels outside the model's classes,
    DeviceError when the device is unusable, RunExistsError when ``out`` holds another
    run, CheckpointError for a bad checkpoint, ResumeError for one of another run, and
    OSError when ``out`` cannot be written (checked before training starts).
    """
    if not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f'fit: epochs must be a non-negative integer, got {epochs!r}')
    if scheduler_interval not in ('epoch', 'batch'):
        raise ValueError(f"fit: scheduler_interval must be 'epoch' or 'batch', got "
                         f"{scheduler_interval!r}")
    plateau = isinstance(scheduler, ReduceLROnPlateau)
    if plateau and scheduler_interval == 'batch':
        raise ValueError('fit: a ReduceLROnPlateau steps once per epoch, with the test loss '
                         "(scheduler_interval='epoch')")
    batch_scheduler = scheduler if scheduler_interval == 'batch' else None
    rank, _ = _job()
    writes = out is not None and rank == 0     # in a job, rank 0 alone logs and writes
    if rank != 0:
        log, progress = None, False
    log = log or (lambda *args, **kwargs: None)
    loss_fn = loss_fn or classification_loss
    device = resolve_device(device)
    checkpoint_path = os.path.join(out, CHECKPOINT_NAME) if out is not None else None
    if out is not None:
        resume_from = plan_run(out, resume, overwrite)
    elif resume is True:
        raise ValueError('fit: resume=True needs out= (the folder holding checkpoint.minidl)')
    else:
        resume_from = resume or None
    (anywhere,) = _over_ranks([float(resume_from is not None)], 'max')
    if anywhere and resume_from is None:
        raise FileNotFoundError(f'fit: rank {rank} finds no checkpoint in {out}, which another '
                                f'rank resumes from: resuming a job needs the run folder on '
                                f'a file system that every rank sees')
    model.to(device)
    if writes:
        check_writable(out, need_bytes=4 * _checkpoint_bytes(_bare(model), optimizer) + 2**20)
        remove_stale_staging(out, RUN_FILES + (PROBE_NAME,))
        if overwrite:
            clear_run(out)

    metrics, start_epoch = [], 0
    if resume_from is not None:
        what = f'checkpoint {resume_from}'
        state = load_checkpoint(resume_from)
        metrics, start_epoch = _restore(state, what, _bare(model), optimizer, scheduler,
                                        train_loader, test_loader, config)
        if writes and metrics:   # what a kill may have left a row short
            _write_run_files(out, metrics, config)
        log(f'resumed from {resume_from} after epoch {start_epoch}')
    else:
        if resume:
            log(f'no checkpoint in {out}: starting from scratch')
        if seed is not None:
            manual_seed(seed)
            np.random.seed(seed)
    # The checkpoint now in ``out`` is kept as the previous copy only when it is the one
    # this run continues: resumed from elsewhere, it is replaced, never rotated over the
    # copy we resumed from.
    keep_previous = resume_from is None or (
        checkpoint_path is not None and os.path.exists(checkpoint_path)
        and os.path.samefile(resume_from, checkpoint_path))

    def last_good_note():
        if checkpoint_path and os.path.exists(checkpoint_path) and metrics:
            return (f'The last good checkpoint (epoch {metrics[-1]["epoch"]}) is kept in '
                    f'{checkpoint_path}.')
        return 'No checkpoint was written yet.'

    started = time.perf_counter()
    for epoch in range(start_epoch + 1, epochs + 1):
        lr = _current_lr(optimizer)
        row = {'epoch': epoch}
        row.update(_train_epoch(model, train_loader, optimizer, loss_fn, device, epoch, epochs,
                                progress, last_good_note(), batch_scheduler))
        row['test_loss'] = row['test_acc'] = row[TOP5_COLUMN] = None
        if test_loader is not None:
            row.update(_evaluate_job(model, test_loader, loss_fn, device))
        row['lr'] = lr
        if plateau:
            scheduler.step(row['train_loss'] if row['test_loss'] is None else row['test_loss'])
        elif scheduler is not None and batch_scheduler is None:
            scheduler.step()
        metrics.append(row)
        if writes:
            _write_run_files(out, metrics, config)   # before the checkpoint that claims them
            save_checkpoint(checkpoint_path, {
                'epoch': epoch,
                'model': _bare(model).state_dict(),
                'optimizer': optimizer.state_dict(),
                'scheduler': scheduler.state_dict() if scheduler is not None else None,
                'rng': {'minidl': get_rng_state(), 'numpy': np.random.get_state()},
                'loader': {'train': _loader_state(train_loader),
                           'test': _loader_state(test_loader)},
                'metrics': metrics,
                'config': dict(config or {}),
                'model_class': type(_bare(model)).__name__,
            }, keep_previous=keep_previous)
            keep_previous = True
        log(format_epoch(row, epochs))

    best_acc, best_epoch = _best(metrics)
    return FitResult(metrics=metrics, best_test_acc=best_acc, best_epoch=best_epoch,
                     seconds=time.perf_counter() - started, checkpoint=checkpoint_path)


def previous_checkpoint(out):
    """The last-good checkpoint kept beside ``out/checkpoint.minidl``."""
    return previous_path(os.path.join(out, CHECKPOINT_NAME))
