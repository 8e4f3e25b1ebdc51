"""Transfer learning: reuse a network trained on one task for another with few labels.

The lesson: the early layers of a CNN learn generic features (edges, strokes), the later
ones features specific to their task. With a network pretrained on a source task, a
target task with few labelled images can be learnt by

=====================  ====================  ================  ==============
strategy               layers frozen?        overfitting risk  data needed
=====================  ====================  ================  ==============
feature extraction     all but the new head  low               little
partial fine-tuning    the early layers      medium            moderate
full fine-tuning       none (smaller lr)     high              more
=====================  ====================  ================  ==============

and transfer only helps when the source features suit the target: pretrained on an
unrelated task, the frozen features can be worse than training from scratch (negative
transfer).

Here the source task is the digits 0-4 (all their training images); the target task is
the digits 5-9 with only a few labelled images per class. Every strategy starts from the
same pretrained network (its head replaced by a new 5-way one) and is tested on all the
test images of 5-9; "from scratch" trains the same architecture from random weights.
The negative-transfer case pretrains on the digits 0-4 with their pixels scrambled by a
fixed permutation: a task as hard, with features that mean nothing for real digits.

    python examples/transfer_learning.py            # about a minute and a half
    python examples/transfer_learning.py --fast
"""
import argparse

import numpy as np

import minidl
from minidl import nn
from minidl.data import DataLoader, TensorDataset, get_dataset
from minidl.optim import SGD
from minidl.train import (evaluate, fit, freeze, param_groups, replace_head,
                          trainable_parameters)


class SmallCNN(nn.Module):
    """conv1-conv2 (early), conv3 (late), then the head ``fc``; 8x8 inputs."""

    def __init__(self, num_classes=5):
        super().__init__()

        def block(cin, cout):
            return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False),
                                 nn.BatchNorm2d(cout), nn.ReLU())
        self.conv1 = block(1, 16)
        self.conv2 = block(16, 32)
        self.pool = nn.MaxPool2d(2)                 # 8 -> 4
        self.conv3 = block(32, 64)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x):
        x = self.conv3(self.pool(self.conv2(self.conv1(x))))
        return self.fc(self.gap(x).flatten(1))


def split_digits(dataset, classes):
    """Images and labels (renumbered 0..4) of ``classes``."""
    keep = np.isin(dataset.targets, classes)
    return dataset.data[keep], np.searchsorted(classes, dataset.targets[keep])


def pretrain(images, labels, epochs, seed, progress):
    minidl.manual_seed(seed)
    model = SmallCNN(num_classes=5)
    fit(model, DataLoader(TensorDataset(images, labels), batch_size=32, shuffle=True,
                          seed=seed), None, epochs=epochs,
        optimizer=SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4),
        progress=progress, seed=seed, log=None)
    return model


def copy_of(model):
    twin = SmallCNN(num_classes=5)
    twin.load_state_dict({k: np.array(v, copy=True) for k, v in model.state_dict().items()})
    return twin


def adapt(strategy, source_model, train, test_loader, epochs, seed):
    """Accuracy on the target test set after training with ``strategy``."""
    minidl.manual_seed(seed)
    if strategy == 'from scratch':
        model = SmallCNN(num_classes=5)
    else:
        model = copy_of(source_model)
        replace_head(model, 5)
    head_lr = 0.2
    if strategy.startswith('feature extraction'):
        freeze(model, ['conv1', 'conv2', 'conv3'])
        groups = trainable_parameters(model)
    elif strategy == 'partial fine-tuning':
        freeze(model, ['conv1', 'conv2'])
        groups = param_groups(model, lr=head_lr, backbone_lr=head_lr / 10)
    elif strategy == 'full fine-tuning':
        groups = param_groups(model, lr=head_lr, backbone_lr=head_lr / 10)
    else:
        groups = model.parameters()
    optimizer = SGD(groups, lr=head_lr, momentum=0.9, weight_decay=5e-4)
    fit(model, DataLoader(train, batch_size=16, shuffle=True, seed=seed), None, epochs=epochs,
        optimizer=optimizer, progress=False, seed=seed, log=None)
    return evaluate(model, test_loader)['acc']


TABLE = [
    ('from scratch', 'none (random init)', 'high', 'a lot'),
    ('feature extraction', 'all but the new head', 'low', 'little'),
    ('partial fine-tuning', 'conv1, conv2', 'medium', 'moderate'),
    ('full fine-tuning', 'none (backbone lr/10)', 'high', 'more'),
    ('feature extraction (scrambled source)', 'all but the new head', 'low', 'little'),
]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--fast', action='store_true', help='a tiny run, for the tests')
    parser.add_argument('--per-class', type=int, default=5,
                        help='labelled target images per class')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    draws = 1 if args.fast else 3
    source_epochs, target_epochs = (1, 3) if args.fast else (15, 40)

    train_set, test_set = get_dataset('digits', train=True), get_dataset('digits', train=False)
    source_x, source_y = split_digits(train_set, np.arange(5))
    target_x, target_y = split_digits(train_set, np.arange(5, 10))
    test_x, test_y = split_digits(test_set, np.arange(5, 10))
    test_loader = DataLoader(TensorDataset(test_x, test_y), batch_size=256)

    print(f'source: digits 0-4, {len(source_y)} images; target: digits 5-9 with '
          f'{args.per_class} labelled images per class, tested on {len(test_y)} images')
    source = pretrain(source_x, source_y, source_epochs, args.seed, False)
    source_test = DataLoader(TensorDataset(*split_digits(test_set, np.arange(5))), batch_size=256)
    print(f'pretrained on the source: {100 * evaluate(source, source_test)["acc"]:.1f}% on the '
          f'test digits 0-4')
    scramble = np.random.default_rng(123).permutation(64)
    scrambled_x = source_x.reshape(len(source_x), 1, 64)[:, :, scramble].reshape(source_x.shape)
    scrambled = pretrain(np.ascontiguousarray(scrambled_x), source_y, source_epochs, args.seed,
                         False)

    accuracies = {name: [] for name, *_ in TABLE}
    for draw in range(draws):
        rng = np.random.default_rng(args.seed + draw)
        chosen = np.concatenate([rng.choice(np.flatnonzero(target_y == c), args.per_class,
                                            replace=False) for c in range(5)])
        few = TensorDataset(target_x[chosen], target_y[chosen])
        for name, *_ in TABLE:
            model = scrambled if 'scrambled' in name else source
            accuracies[name].append(adapt(name, model, few, test_loader, target_epochs,
                                          args.seed + draw))

    print(f'\n{"strategy":<38} {"layers frozen?":<22} {"overfitting risk":<17} '
          f'{"data needed":<12} {"accuracy":>9}')
    for name, frozen, risk, data in TABLE:
        values = accuracies[name]
        spread = f' ±{100 * np.std(values):.1f}' if len(values) > 1 else ''
        print(f'{name:<38} {frozen:<22} {risk:<17} {data:<12} '
              f'{100 * np.mean(values):>8.1f}%{spread}')
    print(f'(mean over {draws} draws of the {5 * args.per_class} labelled target images)')
    gain = np.mean(accuracies['feature extraction']) - np.mean(accuracies['from scratch'])
    loss = (np.mean(accuracies['feature extraction (scrambled source)'])
            - np.mean(accuracies['from scratch']))
    scratch = np.mean(accuracies['from scratch'])
    print('\nAgainst training from scratch (measured above):')
    for name, *_ in TABLE[1:]:
        print(f'  {name:<38} {100 * (np.mean(accuracies[name]) - scratch):+.1f} points')
    real = np.mean(accuracies['feature extraction'])
    fake = np.mean(accuracies['feature extraction (scrambled source)'])
    spread = 100 * np.std(accuracies['from scratch'])
    print(f'Transfer helps when the gain is > 0; it is negative transfer when < 0. Fine-tuning '
          f'adapts the\npretrained features to 5-9; training from scratch on so few images '
          f'is a lottery (±{spread:.1f}\npoints between draws). Frozen 0-4 features '
          f'({100 * real:.1f}%) do {"better" if real > fake else "no better"} than features '
          f'learnt on\nscrambled pixels ({100 * fake:.1f}%): the 64 pooled features trained '
          f'to separate 0-4 miss much of\nwhat tells 5-9 apart, so freezing them is the '
          f'low-risk but not the best choice here.')
    return accuracies


if __name__ == '__main__':
    main()
