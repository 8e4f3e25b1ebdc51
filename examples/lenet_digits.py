"""LeNet-5 on handwritten digits: the sigmoid plateau, and two ways off it.

The lesson: LeNet-5 (1998) is two convolutions with sigmoid activations and average
pooling, then three fully connected layers. With PyTorch's default initialisation and
a learning rate that is comfortable for a ReLU network (0.05 with momentum 0.9), it
does not learn here at all: it predicts one class (10% accuracy) for every epoch. Five
saturating sigmoids in a row pass a tiny share of the gradient to the first layers, and
the loss sits on a plateau where the output layer only learns the class frequencies.
PyTorch gives the same 10% on the same data and settings: it is the recipe, not the
engine.

Two ways off the plateau, both measured below:
- the d2l recipe: Xavier initialisation and a very large step (lr 0.9, plain SGD). It
  works, but only after several epochs stuck at 10%;
- BatchNorm before every sigmoid (Ioffe and Szegedy, 2015) keeps each sigmoid in its
  steep middle range: the same network learns within the first epoch.

The data are the 1,797 UCI handwritten digits shipped with minidl (8x8 pixels),
resized to LeNet's native 28x28 and standardised.

    python examples/lenet_digits.py            # under a minute on two cores
    python examples/lenet_digits.py --fast     # a few seconds (the test suite)
"""
import argparse
import time

import numpy as np

import minidl
from minidl import models, nn
from minidl.data import DataLoader, Subset, get_dataset, transforms as T
from minidl.functional import cross_entropy
from minidl.optim import SGD
from minidl.train import fit


def load_digits(size, limit=None):
    train, test = get_dataset('digits', train=True, size=size), get_dataset('digits', train=False,
                                                                             size=size)
    mean, std = float(train.data.mean()), float(train.data.std())
    train.transform = test.transform = T.Normalize((mean,), (std,))
    if limit:
        train, test = Subset(train, np.arange(limit)), Subset(test, np.arange(limit // 2))
    return train, test


def first_layer_gradient(name, init, train, seed):
    """Norm of the first convolution's weight gradient on one batch of 64, at initialisation."""
    minidl.manual_seed(seed)
    model = build(name, init)
    images = minidl.tensor(np.stack([train[i][0] for i in range(64)]))
    labels = minidl.tensor(np.array([train[i][1] for i in range(64)]))
    cross_entropy(model(images), labels).backward()
    return float(np.linalg.norm(model[0].weight.grad.numpy()))


def build(name, init):
    model = models.get_model(name, num_classes=10, in_channels=1)
    if init == 'xavier':
        for module in model.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(module.weight)
    return model


def train_one(name, init, lr, momentum, epochs, train, test, seed, progress):
    minidl.manual_seed(seed)
    model = build(name, init)
    optimizer = SGD(model.parameters(), lr=lr, momentum=momentum)
    started = time.perf_counter()
    result = fit(model, DataLoader(train, batch_size=32, shuffle=True, seed=seed),
                 DataLoader(test, batch_size=256), epochs=epochs, optimizer=optimizer,
                 progress=progress, seed=seed,
                 log=lambda line: print(f'  {name:<9} {init:<7} lr {lr:<4} {line}'))
    return result, time.perf_counter() - started


# (model, initialisation, lr, momentum, epochs in a full run)
RECIPES = [
    ('lenet5', 'default', 0.05, 0.9, 12),   # a ReLU network's recipe: stuck at 10%
    ('lenet5', 'xavier', 0.9, 0.0, 20),     # d2l's recipe: escapes the plateau, late
    ('lenet5_bn', 'default', 0.1, 0.9, 12),  # batch norm: learns at once
]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--fast', action='store_true', help='a tiny run, for the tests')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    train, test = load_digits(28, limit=192 if args.fast else None)
    print(f'digits at 28x28: {len(train)} training and {len(test)} test images, batch 32, '
          f'constant learning rate\n')

    print('First convolution\'s gradient norm at initialisation (one batch of 64):')
    for name, init in (('lenet5', 'default'), ('lenet5', 'xavier'), ('lenet5_bn', 'default')):
        print(f'  {name:<9} {init:<7} {first_layer_gradient(name, init, train, args.seed):.2e}')
    print()

    rows = []
    for name, init, lr, momentum, epochs in RECIPES:
        result, seconds = train_one(name, init, lr, momentum, 1 if args.fast else epochs,
                                    train, test, args.seed, progress=not args.fast)
        rows.append((name, init, lr, momentum, result, seconds))

    print(f'\n{"model":<10} {"init":<8} {"lr":>4} {"mom.":>4} {"epochs":>6} '
          f'{"epoch-1 test":>12} {"first epoch >= 80%":>18} {"final test":>10} '
          f'{"best test":>9} {"time":>6}')
    for name, init, lr, momentum, result, seconds in rows:
        accs = [m['test_acc'] for m in result.metrics]
        reached = next((str(i) for i, a in enumerate(accs, start=1) if a >= 0.8), 'never')
        print(f'{name:<10} {init:<8} {lr:>4} {momentum:>4} {len(accs):>6} {100 * accs[0]:>11.1f}% '
              f'{reached:>18} {100 * accs[-1]:>9.1f}% {100 * result.best_test_acc:>8.1f}% '
              f'{seconds:>5.1f}s')
    print('\nPlain sigmoid LeNet at lr 0.05 stays on the 10% plateau; Xavier init and lr 0.9 '
          'get off it after\nseveral epochs of nothing; batch norm keeps every sigmoid in its '
          'steep range, so gradients\nreach the first layers and the network learns in the '
          'first epoch.')
    return rows


if __name__ == '__main__':
    main()
