"""AlexNet's two tricks, LRN and dropout, on a small AlexNet-style network.

The lesson: AlexNet (2012) followed its first two convolutions by ReLU, local response
normalization (each activation divided by the energy of its neighbouring channels) and
overlapping max-pooling, and regularised its big fully connected layers with dropout.

Dropout behaves differently in training and in evaluation:
- in training (``model.train()``) each unit is zeroed with probability p and the
  survivors are multiplied by 1 / (1 - p), so every forward pass is different but the
  expected activation is unchanged;
- in evaluation (``model.eval()``) dropout does nothing: the output is deterministic
  and equals that expectation.

This script shows both on one layer, shows what LRN does to activations, then trains the
same AlexNet-style network on the digits (resized to 32x32) with and without dropout
and compares the gap between training and test accuracy.

    python examples/alexnet_lrn_dropout.py            # about two minutes on two cores
    python examples/alexnet_lrn_dropout.py --fast
"""
import argparse

import numpy as np

import minidl
from minidl import nn
from minidl.data import DataLoader, Subset, get_dataset
from minidl.optim import SGD
from minidl.train import evaluate, fit


def mini_alexnet(dropout, num_classes=10):
    """AlexNet's shape in miniature for 1x32x32 inputs: conv-ReLU-LRN-pool twice, three
    convs, pool, then two dropout-regularised hidden layers."""
    lrn = dict(size=5, alpha=5e-4, beta=0.75, k=2.0)   # the paper's constants (see models)
    return nn.Sequential(
        nn.Conv2d(1, 24, kernel_size=5, padding=2), nn.ReLU(), nn.LocalResponseNorm(**lrn),
        nn.MaxPool2d(kernel_size=3, stride=2),                       # 32 -> 15
        nn.Conv2d(24, 48, kernel_size=3, padding=1), nn.ReLU(), nn.LocalResponseNorm(**lrn),
        nn.MaxPool2d(kernel_size=3, stride=2),                       # 15 -> 7
        nn.Conv2d(48, 64, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(64, 64, kernel_size=3, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),                       # 7 -> 3
        nn.Flatten(),
        nn.Dropout(dropout), nn.Linear(64 * 3 * 3, 256), nn.ReLU(),
        nn.Dropout(dropout), nn.Linear(256, 256), nn.ReLU(),
        nn.Linear(256, num_classes))


def show_dropout():
    print('1. Dropout(p=0.5) on a vector of ones, 4000 units')
    layer = nn.Dropout(0.5)
    x = minidl.ones(1, 4000)
    layer.train()
    first, second = layer(x).numpy(), layer(x).numpy()
    print(f'   train mode: zeroed {np.mean(first == 0):.1%} of units, survivors = '
          f'{first[first > 0][0]:.1f} (= 1/(1-p)), mean {first.mean():.3f}; a second pass '
          f'differs in {np.mean(first != second):.1%} of units')
    layer.eval()
    out = layer(x).numpy()
    print(f'   eval mode:  output == input everywhere: {bool(np.all(out == 1))} '
          f'(deterministic, equal to the train-mode expectation)\n')


def show_lrn():
    print('2. LocalResponseNorm(size=5, alpha=5e-4, beta=0.75, k=2) on 8 channels')
    x = minidl.tensor(np.array([1, 1, 1, 30, 1, 1, 1, 1], np.float32).reshape(1, 8, 1, 1))
    y = nn.LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2.0)(x).numpy().reshape(-1)
    print('   in : ' + ' '.join(f'{v:6.2f}' for v in x.numpy().reshape(-1)))
    print('   out: ' + ' '.join(f'{v:6.2f}' for v in y))
    print('   every value is divided by (2 + 1e-4 * sum of squares of its 5 neighbours)^0.75;'
          '\n   the big activation damps its neighbours more than the others ("lateral '
          'inhibition").\n')


def train_compare(epochs, limit, seed, progress):
    train = get_dataset('digits', train=True, size=32)
    test = get_dataset('digits', train=False, size=32)
    if limit:
        train, test = Subset(train, np.arange(limit)), Subset(test, np.arange(limit // 2))
    results = {}
    for p in (0.0, 0.5):
        minidl.manual_seed(seed)
        model = mini_alexnet(p)
        optimizer = SGD(model.parameters(), lr=0.02, momentum=0.9)
        fit(model, DataLoader(train, batch_size=32, shuffle=True, seed=seed), None,
            epochs=epochs, optimizer=optimizer, progress=progress, seed=seed,
            log=lambda line, p=p: print(f'   dropout {p}: {line}'))
        train_eval = evaluate(model, DataLoader(train, batch_size=256))
        test_eval = evaluate(model, DataLoader(test, batch_size=256))
        model.train()   # dropout on: the same test images give other predictions each pass
        with minidl.no_grad():
            images = minidl.tensor(np.stack([test[i][0] for i in range(8)]))
            a, b = model(images).numpy(), model(images).numpy()
        results[p] = (train_eval['acc'], test_eval['acc'], float(np.abs(a - b).max()))
    print(f'\n   {"dropout":>7} {"train acc":>10} {"test acc":>9} {"gap":>6}   '
          f'{"train-mode outputs differ by":>28}')
    for p, (tr, te, diff) in results.items():
        print(f'   {p:>7} {100 * tr:>9.1f}% {100 * te:>8.1f}% {100 * (tr - te):>5.1f}%   '
              f'{diff:>28.4f}')
    print('   (accuracies measured in eval mode; with dropout 0 the two train-mode passes are '
          'identical)')
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--fast', action='store_true', help='a tiny run, for the tests')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    minidl.manual_seed(args.seed)
    show_dropout()
    show_lrn()
    print('3. A mini AlexNet on the digits at 32x32, without and with dropout')
    return train_compare(epochs=1 if args.fast else 8, limit=192 if args.fast else None,
                         seed=args.seed, progress=not args.fast)


if __name__ == '__main__':
    main()
