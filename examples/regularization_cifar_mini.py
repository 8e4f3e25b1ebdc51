"""Regularisation in practice: weight decay, batch size and data augmentation.

The lesson: a network with more parameters than training images can memorise them: the
training accuracy reaches 100% while the test accuracy stays behind (overfitting). Three
everyday remedies, each measured here on the same small convolutional network and the
same small training set:

- L2 regularisation / weight decay (``SGD(weight_decay=...)``) adds lambda/2 ||w||^2 to
  the loss, pulling every weight towards 0 by lr * lambda * w each step: smaller weights,
  smoother functions;
- the batch size: small batches give noisier gradients, which act as a regulariser (and
  take more steps per epoch);
- data augmentation (random crops of padded images; flips for CIFAR-10) shows the
  network a slightly different image every epoch, so there is nothing fixed to memorise.

The lesson is written for CIFAR-10; this script runs on whatever is at hand: the
digits shipped with minidl by default (offline), CIFAR-10 with ``--dataset cifar10
--data-dir DIR`` when its files are there. A subset of the training set makes the
overfitting visible within seconds.

    python examples/regularization_cifar_mini.py             # about two minutes
    python examples/regularization_cifar_mini.py --fast
"""
import argparse
import time

import numpy as np

import minidl
from minidl import nn
from minidl.data import DataLoader, Subset, get_dataset, transforms as T
from minidl.optim import SGD
from minidl.train import evaluate, fit


def small_convnet(in_channels, size, num_classes):
    return nn.Sequential(
        nn.Conv2d(in_channels, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * (size // 4) ** 2, 128), nn.ReLU(),
        nn.Linear(128, num_classes))


def load(dataset, data_dir, train_size, test_size, seed):
    train = get_dataset(dataset, root=data_dir, train=True)
    test = get_dataset(dataset, root=data_dir, train=False)
    rng = np.random.default_rng(seed)
    train_idx = rng.permutation(len(train))[:train_size]
    test_idx = rng.permutation(len(test))[:test_size]
    return train, Subset(train, train_idx), Subset(test, test_idx)


def weight_norm(model):
    return float(np.sqrt(sum((p.numpy() ** 2).sum() for n, p in model.named_parameters()
                             if n.endswith('weight'))))


def run(name, config, full_train, train, test, epochs, seed, progress):
    minidl.manual_seed(seed)
    image = full_train[0][0]
    size, channels = image.shape[-1], image.shape[0]
    augment = []
    if config.get('augment'):
        augment.append(T.RandomCrop(size, padding=max(1, size // 8)))
        if channels == 3:
            augment.append(T.RandomHorizontalFlip())
    full_train.transform = T.Compose(augment) if augment else None
    model = small_convnet(channels, size, full_train.num_classes)
    optimizer = SGD(model.parameters(), lr=config.get('lr', 0.05), momentum=0.9,
                    weight_decay=config.get('weight_decay', 0.0))
    started = time.perf_counter()
    fit(model, DataLoader(train, batch_size=config.get('batch_size', 32), shuffle=True,
                          seed=seed), None, epochs=epochs, optimizer=optimizer,
        progress=progress, seed=seed, log=None)
    full_train.transform = None   # measure on the images themselves
    train_acc = evaluate(model, DataLoader(train, batch_size=256))['acc']
    test_acc = evaluate(model, DataLoader(test, batch_size=256))['acc']
    row = (name, train_acc, test_acc, train_acc - test_acc, weight_norm(model),
           time.perf_counter() - started)
    print(f'{name:<28} {100 * row[1]:>9.1f}% {100 * row[2]:>8.1f}% {100 * row[3]:>6.1f}% '
          f'{row[4]:>8.2f} {row[5]:>6.1f}s')
    return row


CONFIGS = [
    ('baseline (batch 32)', {}),
    ('weight decay 5e-4', {'weight_decay': 5e-4}),
    ('weight decay 5e-3', {'weight_decay': 5e-3}),
    ('batch 8', {'batch_size': 8, 'lr': 0.0125}),
    ('batch 128', {'batch_size': 128, 'lr': 0.2}),
    ('augmentation (crops)', {'augment': True}),
    ('augmentation + wd 5e-4', {'augment': True, 'weight_decay': 5e-4}),
]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--fast', action='store_true', help='a tiny run, for the tests')
    parser.add_argument('--dataset', default='digits', choices=('digits', 'cifar10'))
    parser.add_argument('--data-dir', default=None)
    parser.add_argument('--train-size', type=int, default=None)
    parser.add_argument('--epochs', type=int, default=None)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    train_size = args.train_size or (128 if args.fast else 300)
    epochs = args.epochs or (2 if args.fast else 30)
    full_train, train, test = load(args.dataset, args.data_dir, train_size,
                                   128 if args.fast else 1000, args.seed)
    configs = CONFIGS[:3] + CONFIGS[5:6] if args.fast else CONFIGS
    print(f'{args.dataset}: {len(train)} training images (a subset, to make overfitting '
          f'visible), {len(test)} test images, {epochs} epochs, SGD momentum 0.9\n')
    print(f'{"setting":<28} {"train acc":>10} {"test acc":>9} {"gap":>7} {"||w||":>8} '
          f'{"time":>7}')
    rows = [run(name, config, full_train, train, test, epochs, args.seed, False)
            for name, config in configs]
    by_name = {row[0]: row for row in rows}
    base = by_name['baseline (batch 32)']

    def versus(name):
        row = by_name[name]
        return (f'{name}: test {100 * row[2]:.1f}% vs {100 * base[2]:.1f}%, gap '
                f'{100 * row[3]:.1f} vs {100 * base[3]:.1f} points, ||w|| {row[4]:.2f} vs '
                f'{base[4]:.2f}')
    print('\nAgainst the baseline (measured above):')
    for name, _ in configs[1:]:
        print('  ' + versus(name))
    print('Learning rates are scaled with the batch size (linear scaling rule). Weight decay '
          'shrinks ||w||;\nwhether that buys test accuracy depends on its strength: too much '
          'underfits. Augmentation\nmakes the training images harder (the train accuracy is '
          'measured on unshifted images): a\n1-pixel shift of an 8x8 digit is a big change, '
          'so on this data it can narrow the gap\nand still cost test accuracy.')
    return rows


if __name__ == '__main__':
    main()
