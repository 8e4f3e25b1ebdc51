"""Optimizers compared: the same small CNN, the same batches, six update rules.

The lesson: every optimizer here takes the same gradient g of the same loss, and they
differ only in what they do with it.

- SGD moves each weight by lr * g: a layer whose gradients are 100x smaller moves 100x
  less, and a badly scaled loss needs a learning rate tuned to it.
- Momentum (b = 0.9 b + g; p -= lr b) averages the gradients of recent steps: noise
  cancels, a steady direction builds up to 10x the step. Nesterov evaluates the
  momentum step one look-ahead further (p -= lr (g + 0.9 b)) and damps overshoot.
- RMSprop divides each weight's step by the running RMS of its own gradient
  (p -= lr g / sqrt(E[g^2])), so every weight moves by about lr, whatever its scale.
- Adam does both: momentum on the gradient (m) and RMSprop's division (v), with the
  bias of their zero start corrected; its very first step is exactly lr * sign(g) for
  every weight. AdamW adds weight decay that shrinks the weights directly (p *= 1 - lr
  wd) instead of through the gradient, where Adam's division would undo it.

Part 1 measures the first claim directly: one step from the same weights, per layer, the
gradient's RMS and the RMS of the step each optimizer takes. Part 2 trains the network
with each optimizer (its usual learning rate, the same initial weights and batches) and
records the loss after every batch, the test accuracy and the time; the loss curves go
to one PNG.

Measured (full run, 15 epochs, seed 0): scaling the loss by 100 scales SGD's first step
by 100.0 and Adam's and RMSprop's by 1.0; Adam's first step is 0.996 lr (RMS over all
weights: the few without a gradient stay put), RMSprop's 9.95 lr. Test accuracy: SGD
97.8%, SGD + momentum 97.8%, Nesterov 98.1%, Adam 97.2%, AdamW 97.2%, RMSprop 98.3%; the
mean training loss first drops below 0.1 in epoch 6, 5, 5, 8, 8 and 6. SGD at lr 0.1 and
SGD + momentum 0.9 at lr 0.01 end at the same loss (0.0135, 0.0136): on a steady
gradient momentum multiplies the step by 1 / (1 - 0.9) = 10. On this small, well-scaled
problem, each at its usual learning rate, the six end within 1.1 points of each other;
Adam's step() cost about 6x SGD's (0.36 against 0.06 ms, timed on a loaded machine).
examples/README.md has the table.

    python examples/optimizers.py          # about 2 CPU minutes; curves in runs/optimizers
    python examples/optimizers.py --fast
"""
import argparse
import os
import time

import numpy as np

import minidl
from minidl import nn
from minidl.data import DataLoader, TensorDataset, get_dataset
from minidl.functional import cross_entropy
from minidl.optim import SGD, Adam, AdamW, RMSprop

# name: (optimizer class, its options); each at the learning rate it is usually run at
OPTIMIZERS = {
    'SGD': (SGD, dict(lr=0.1)),
    'SGD + momentum': (SGD, dict(lr=0.01, momentum=0.9)),
    'Nesterov': (SGD, dict(lr=0.01, momentum=0.9, nesterov=True)),
    'Adam': (Adam, dict(lr=1e-3)),
    'AdamW': (AdamW, dict(lr=1e-3, weight_decay=1e-2)),
    'RMSprop': (RMSprop, dict(lr=1e-3)),
}


def small_cnn():
    """8x8 digits -> 10 classes: two conv + pool stages and a linear classifier."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 2 * 2, 10))


def standardised_digits():
    """The shipped digits, scaled to zero mean and unit variance (training statistics)."""
    train, test = get_dataset('digits', train=True), get_dataset('digits', train=False)
    mean, std = train.data.mean(), train.data.std()
    return ((train.data - mean) / std, train.targets), ((test.data - mean) / std, test.targets)


def step_rms(cls, options, initial, images, labels, loss_scale):
    """The RMS, over all weights, of the first step taken on ``loss_scale`` * the loss."""
    model = small_cnn()
    model.load_state_dict(initial)
    before = [p.numpy().copy() for p in model.parameters()]
    optimizer = cls(model.parameters(), **options)
    (cross_entropy(model(images), labels) * loss_scale).backward()
    optimizer.step()
    moved = np.concatenate([(p.numpy() - b).ravel() for p, b in zip(model.parameters(), before)])
    return float(np.sqrt(np.mean(moved ** 2)))


def first_steps(initial, images, labels, scale=100.0):
    """Each optimizer's first step on the loss and on the loss times ``scale``."""
    print(f'1. The first step from the same weights, on the loss L and on {scale:g} L')
    print(f'   {"optimizer":<16}{"RMS step on L":>15}{f"on {scale:g} L":>13}{"ratio":>8}'
          f'{"step / lr":>11}')
    rows = {}
    for name, (cls, options) in OPTIMIZERS.items():
        plain = step_rms(cls, options, initial, images, labels, 1.0)
        scaled = step_rms(cls, options, initial, images, labels, scale)
        rows[name] = (plain, scaled)
        print(f'   {name:<16}{plain:>15.3e}{scaled:>13.3e}{scaled / plain:>8.1f}'
              f'{plain / options["lr"]:>11.3f}')
    print(f'   SGD\'s step grows with the gradient ({scale:g}x); Adam\'s and RMSprop\'s do '
          f'not (each weight\'s step is divided by its own gradient size).\n   Adam\'s first '
          f'step is lr sign(g) for every weight with a gradient; RMSprop has no bias '
          f'correction:\n   its first step is lr / sqrt(1 - alpha) = 10 lr.')
    return rows


def train(name, initial, train_set, test_set, epochs, seed):
    """Train a fresh copy of the network; returns the loss of every batch, the test
    accuracy, the seconds of the whole run and of the optimizer steps alone."""
    cls, options = OPTIMIZERS[name]
    model = small_cnn()
    model.load_state_dict(initial)
    optimizer = cls(model.parameters(), **options)
    loader = DataLoader(train_set, batch_size=32, shuffle=True, seed=seed)  # same batches
    losses, step_seconds = [], 0.0
    started = time.perf_counter()
    for _ in range(epochs):
        model.train()
        for images, labels in loader:
            loss = cross_entropy(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            tic = time.perf_counter()
            optimizer.step()
            step_seconds += time.perf_counter() - tic
            losses.append(float(loss.item()))
    seconds = time.perf_counter() - started
    model.eval()
    images, labels = test_set
    with minidl.no_grad():
        predicted = model(minidl.tensor(images)).numpy().argmax(1)
    state = optimizer.param_state_arrays(optimizer.param_groups[0])
    return dict(losses=losses, accuracy=float((predicted == labels).mean()), seconds=seconds,
                step_seconds=step_seconds, state_arrays=state)


def smoothed(values, window):
    """The moving average of ``values`` over ``window`` batches (an epoch)."""
    window = max(1, min(window, len(values)))
    kernel = np.ones(window) / window
    return np.convolve(values, kernel, mode='valid')


def save_curves(path, results, batches_per_epoch):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
    figure = Figure(figsize=(8, 5))
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    for name, result in results.items():
        curve = smoothed(result['losses'], batches_per_epoch)
        epochs = (np.arange(len(curve)) + batches_per_epoch) / batches_per_epoch
        axes.plot(epochs, curve, label=f'{name} ({100 * result["accuracy"]:.1f}%)')
    axes.set(xlabel='epoch', ylabel='training loss (mean over the last epoch of batches)',
             yscale='log', title='The same CNN and batches, six optimizers (8x8 digits)')
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    print(f'   loss curves saved to {path}')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--fast', action='store_true', help='a tiny run, for the tests')
    parser.add_argument('--epochs', type=int, default=15)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', default=os.path.join('runs', 'optimizers'),
                        help='folder for loss_curves.png')
    args = parser.parse_args(argv)
    (x_train, y_train), (x_test, y_test) = standardised_digits()
    epochs = 2 if args.fast else args.epochs
    if args.fast:
        x_train, y_train, x_test, y_test = x_train[:256], y_train[:256], x_test[:128], y_test[:128]
    minidl.manual_seed(args.seed)
    initial = {k: np.array(v, copy=True) for k, v in small_cnn().state_dict().items()}

    steps = first_steps(initial, minidl.tensor(x_train[:256]), minidl.tensor(y_train[:256]))

    print(f'\n2. Training for {epochs} epochs from the same weights on the same batches')
    train_set = TensorDataset(x_train, y_train)
    results = {}
    print(f'   {"optimizer":<16}{"options":<38}{"state/param":>12}{"loss < 0.1":>13}'
          f'{"last loss":>11}{"test acc":>10}{"time":>8}{"step() ms":>11}')
    for name, (_, options) in OPTIMIZERS.items():
        result = results[name] = train(name, initial, train_set, (x_test, y_test), epochs,
                                       args.seed)
        batches = len(result['losses']) // epochs
        epoch_losses = np.reshape(result['losses'], (epochs, batches)).mean(axis=1)
        below = np.nonzero(epoch_losses < 0.1)[0]
        reached = f'epoch {below[0] + 1}' if len(below) else 'never'
        text = ', '.join(f'{k} {v}' for k, v in options.items())
        print(f'   {name:<16}{text:<38}{result["state_arrays"]:>12}{reached:>13}'
              f'{epoch_losses[-1]:>11.4f}'
              f'{100 * result["accuracy"]:>9.1f}%{result["seconds"]:>7.1f}s'
              f'{1000 * result["step_seconds"] / len(result["losses"]):>11.3f}')
    print('   (state/param: arrays the optimizer keeps per parameter; loss < 0.1: the first '
          'epoch whose mean training loss is below 0.1; last loss: the last epoch\'s; time: '
          'the whole run; step() ms: one optimizer.step() on average)')
    save_curves(os.path.join(args.out, 'loss_curves.png'), results, batches)
    return steps, results


if __name__ == '__main__':
    main()
