"""Batch normalization: batch statistics in training, running statistics in evaluation.

The lesson:
- in training (``model.train()``) BatchNorm normalises each channel with the mean and
  the (biased) variance of the current batch, so a batch's output has mean 0 and
  variance 1 per channel (before the learnt scale gamma and shift beta);
- it also updates running estimates, as PyTorch does:
      running_mean <- (1 - momentum) * running_mean + momentum * batch_mean
      running_var  <- (1 - momentum) * running_var  + momentum * unbiased batch_var
  with momentum 0.1, so after t batches the estimate holds 1 - 0.9^t of the truth;
- in evaluation (``model.eval()``) it uses the running estimates: an image's output no
  longer depends on the other images of its batch.

Forgetting ``model.eval()`` before testing makes predictions depend on the batch: with
small test batches the batch statistics are noisy and accuracy drops.

    python examples/batchnorm_train_eval.py            # about a minute
    python examples/batchnorm_train_eval.py --fast
"""
import argparse

import numpy as np

import minidl
from minidl import models, nn
from minidl.data import DataLoader, Subset, get_dataset
from minidl.optim import SGD
from minidl.train import fit


def show_statistics():
    print('1. BatchNorm2d(3) on batches whose channels have means (2, -1, 5), stds (3, 0.5, 1)')
    rng = np.random.default_rng(0)
    mean, std = np.array([2.0, -1.0, 5.0]), np.array([3.0, 0.5, 1.0])

    def batch():
        x = rng.standard_normal((16, 3, 4, 4)) * std[:, None, None] + mean[:, None, None]
        return minidl.tensor(x.astype(np.float32))

    bn = nn.BatchNorm2d(3)
    bn.train()
    x = batch()
    y = bn(x).numpy()
    print(f'   train mode, one batch: output mean per channel {np.round(y.mean((0, 2, 3)), 4)}'
          f', std {np.round(y.std((0, 2, 3)), 4)}')
    print(f'   running_mean after 1 batch: {np.round(bn.running_mean.numpy(), 3)} '
          f'(= 0.1 x the batch mean)')
    for t in range(2, 51):
        bn(batch())
        if t in (10, 50):
            print(f'   after {t:>2} batches: running_mean {np.round(bn.running_mean.numpy(), 3)}'
                  f', running_var {np.round(bn.running_var.numpy(), 3)} '
                  f'(1 - 0.9^{t} = {1 - 0.9 ** t:.3f} of the way)')
    bn.eval()
    single = x[:1]
    alone, with_batch = bn(single).numpy(), bn(x).numpy()[:1]
    print(f'   eval mode: an image alone and inside its batch give the same output: '
          f'{np.allclose(alone, with_batch)}')
    bn.train()
    alone, with_batch = bn(single[:, :, :2]).numpy(), bn(x[:, :, :2]).numpy()[:1]
    print(f'   train mode: they differ by up to {np.abs(alone - with_batch).max():.3f}\n')


def batch_dependent_accuracy(model, data, batch_size):
    """Accuracy over ``data`` in batches of ``batch_size``, in the model's current mode."""
    correct = 0
    with minidl.no_grad():
        for images, labels in DataLoader(data, batch_size=batch_size):
            correct += int((model(images).numpy().argmax(1) == labels.numpy()).sum())
    return correct / len(data)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--fast', action='store_true', help='a tiny run, for the tests')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    minidl.manual_seed(args.seed)
    show_statistics()

    print('2. LeNet-5 with batch norm on the digits (28x28), then tested both ways')
    train = get_dataset('digits', train=True, size=28)
    test = get_dataset('digits', train=False, size=28)
    if args.fast:
        train, test = Subset(train, np.arange(192)), Subset(test, np.arange(96))
    model = models.lenet5_bn(num_classes=10)
    optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
    fit(model, DataLoader(train, batch_size=32, shuffle=True, seed=args.seed), None,
        epochs=1 if args.fast else 6, optimizer=optimizer, progress=not args.fast,
        seed=args.seed, log=lambda line: print(f'   {line}'))
    # a batch of one image cannot be normalised in train mode (one value per channel:
    # PyTorch raises the same error), so keep an even number of test images
    test = Subset(test, np.arange(len(test) - len(test) % 2))
    model.eval()
    trained_state = {k: np.array(v) for k, v in model.state_dict().items()}
    print(f'\n   {len(test)} test images')
    print(f'   {"test batch size":>15} {"eval mode":>10} {"train mode (forgot eval())":>27}')
    rows = []
    for batch_size in (256, 16, 2):
        model.eval()
        evaluated = batch_dependent_accuracy(model, test, batch_size)
        model.train()
        forgot = batch_dependent_accuracy(model, test, batch_size)
        rows.append((batch_size, evaluated, forgot))
        print(f'   {batch_size:>15} {100 * evaluated:>9.1f}% {100 * forgot:>26.1f}%')
        if batch_size != 2:
            model.load_state_dict(trained_state)   # undo the running statistics' drift
    model.eval()
    after = batch_dependent_accuracy(model, test, 256)
    print('   Eval mode gives the same accuracy at every batch size; train mode depends on '
          'the batch.')
    print(f'   Testing in train mode also overwrites the running statistics: after the batch-2 '
          f'pass,\n   eval mode gives {100 * after:.1f}% instead of {100 * rows[0][1]:.1f}% '
          f'(running_mean of the first BN layer moved by\n   '
          f'{np.abs(model[1].running_mean.numpy() - trained_state["1.running_mean"]).max():.3f}).')
    return rows


if __name__ == '__main__':
    main()
