"""Why residual connections train deep networks: the gradient at the first layer.

The lesson: backpropagation multiplies one Jacobian per layer. Through a plain layer
h = sigmoid(W x + b) the gradient is multiplied by W^T diag(sigmoid'), and sigmoid' is
at most 0.25 (about 0.2 near the middle), so through L plain layers it shrinks like
0.2^L and the first layers stop learning. A residual layer h = x + sigmoid(W x + b) has
the Jacobian I + W^T diag(sigmoid'): the identity carries the gradient through
unchanged and the layer only adds to it, so the factor per layer stays near 1 instead
of 0.2, and the first layer's gradient keeps its size at any depth.

Measured (full run): the gradient factor per layer is 0.16 for the plain stack and 0.98
for the residual one; at depth 16 the stem's gradient norm is 8.5e-15 (plain) against
1.5 (residual), and the plain stack stays at 10% test accuracy while the residual one
reaches about 94% in 10 epochs.

This script measures it for real: the gradient norm of the first layer's weights at
initialisation, for depths 2 to 32, in the plain and the residual stack (same widths,
same initial weights), the per-layer gradient norms through one deep stack, and the
training curves of the two deep stacks on the digits.

    python examples/residual_vs_plain.py                 # about a minute
    python examples/residual_vs_plain.py --fast
    python examples/residual_vs_plain.py --out runs/res  # also saves curves.png there
"""
import argparse
import os

import numpy as np

import minidl
from minidl import nn
from minidl.data import DataLoader, Subset, get_dataset
from minidl.functional import cross_entropy
from minidl.optim import SGD
from minidl.train import fit

WIDTH = 64
LR = 0.02


class Block(nn.Module):
    """sigmoid(W x + b), with or without the identity added: the only difference."""

    def __init__(self, width, residual):
        super().__init__()
        self.linear = nn.Linear(width, width)
        self.act = nn.Sigmoid()
        self.residual = residual

    def forward(self, x):
        out = self.act(self.linear(x))
        return x + out if self.residual else out


class Stack(nn.Module):
    def __init__(self, depth, residual, width=WIDTH, num_classes=10):
        super().__init__()
        self.flatten = nn.Flatten()
        self.stem = nn.Linear(64, width)      # 8x8 digits in
        self.blocks = nn.Sequential(*[Block(width, residual) for _ in range(depth)])
        self.head = nn.Linear(width, num_classes)

    def forward(self, x):
        return self.head(self.blocks(self.stem(self.flatten(x))))


def twin_stacks(depth, seed):
    """A plain and a residual stack with the same initial weights."""
    minidl.manual_seed(seed)
    plain = Stack(depth, residual=False)
    residual = Stack(depth, residual=True)
    residual.load_state_dict({k: np.array(v, copy=True) for k, v in plain.state_dict().items()})
    return plain, residual


def gradient_norms(model, images, labels):
    """The gradient norm of every block's weight, first to last, after one backward."""
    for p in model.parameters():
        p.grad = None
    cross_entropy(model(images), labels).backward()
    norms = [float(np.linalg.norm(model.stem.weight.grad.numpy()))]
    norms += [float(np.linalg.norm(b.linear.weight.grad.numpy())) for b in model.blocks]
    return norms


def measure_depths(images, labels, depths, seed):
    print('1. Gradient norm of the first layer (the stem) at initialisation')
    print(f'   {"depth":>5} {"plain":>11} {"residual":>11} {"ratio":>9}')
    rows = []
    for depth in depths:
        plain, residual = twin_stacks(depth, seed)
        p = gradient_norms(plain, images, labels)[0]
        r = gradient_norms(residual, images, labels)[0]
        rows.append((depth, p, r))
        ratio = f'{r / p:>9.3g}' if p > 0 else '      inf  (the plain gradient underflowed float32)'
        print(f'   {depth:>5} {p:>11.3e} {r:>11.3e} {ratio}')
    return rows


def per_layer(images, labels, depth, seed):
    plain, residual = twin_stacks(depth, seed)
    p, r = gradient_norms(plain, images, labels), gradient_norms(residual, images, labels)
    print(f'\n2. Per-layer weight-gradient norms through the {depth}-layer stacks '
          f'(layer 0 = stem, {depth} = last block)')
    print(f'   {"layer":>5} {"plain":>11} {"residual":>11}')
    for i in range(0, depth + 1, max(1, depth // 8)):
        print(f'   {i:>5} {p[i]:>11.3e} {r[i]:>11.3e}')
    factor_plain = (max(p[0], 1e-45) / p[-1]) ** (1 / depth)
    factor_residual = (r[0] / r[-1]) ** (1 / depth)
    print(f'   gradient factor per layer (geometric mean, last block to stem): plain '
          f'{factor_plain:.2f}, residual {factor_residual:.2f}')
    return factor_plain, factor_residual


def train_both(depth, epochs, train, test, seed, progress, out):
    print(f'\n3. Training the {depth}-layer stacks on the 8x8 digits (SGD, lr {LR}, momentum 0.9)')
    curves = {}
    for name, model in zip(('plain', 'residual'), twin_stacks(depth, seed)):
        result = fit(model, DataLoader(train, batch_size=32, shuffle=True, seed=seed),
                     DataLoader(test, batch_size=256), epochs=epochs,
                     optimizer=SGD(model.parameters(), lr=LR, momentum=0.9),
                     progress=progress, seed=seed,
                     log=lambda line, name=name: print(f'   {name:<8} {line}'))
        curves[name] = result.metrics
    if out:
        save_curves(os.path.join(out, 'curves.png'), curves, depth)
    return curves


def save_curves(path, curves, depth):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
    figure = Figure(figsize=(10, 4))
    FigureCanvasAgg(figure)
    loss_axes, acc_axes = figure.subplots(1, 2)
    for name, rows in curves.items():
        epochs = [r['epoch'] for r in rows]
        loss_axes.plot(epochs, [r['train_loss'] for r in rows], '-o', label=name)
        acc_axes.plot(epochs, [r['test_acc'] for r in rows], '-o', label=name)
    loss_axes.set(xlabel='epoch', ylabel='training loss', title=f'{depth} sigmoid layers')
    acc_axes.set(xlabel='epoch', ylabel='test accuracy')
    loss_axes.legend()
    acc_axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    print(f'   curves saved to {path}')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--fast', action='store_true', help='a tiny run, for the tests')
    parser.add_argument('--depth', type=int, default=16, help='depth of the trained stacks')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', default=None, help='folder for curves.png')
    args = parser.parse_args(argv)
    train, test = get_dataset('digits', train=True), get_dataset('digits', train=False)
    images = minidl.tensor(train.data[:256])
    labels = minidl.tensor(train.targets[:256])
    depths = (2, 4, 8, 16) if args.fast else (2, 4, 8, 16, 32)
    rows = measure_depths(images, labels, depths, args.seed)
    factors = per_layer(images, labels, args.depth, args.seed)
    if args.fast:
        train, test = Subset(train, np.arange(256)), Subset(test, np.arange(128))
    curves = train_both(args.depth, 2 if args.fast else 10, train, test, args.seed,
                        not args.fast, args.out)
    print('\nThe plain stack\'s first layers get almost no gradient and its loss barely '
          'moves;\nthe residual stack passes the gradient through its identity paths and '
          'learns.')
    return rows, factors, curves


if __name__ == '__main__':
    main()
