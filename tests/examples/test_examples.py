"""Every example runs with --fast and prints its lesson's result."""
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.cpu_only

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# the example, and text its output must contain
EXAMPLES = {
    'lenet_digits.py': ['lenet5_bn', 'best test'],
    'alexnet_lrn_dropout.py': ['eval mode:  output == input everywhere: True', 'dropout 0.5'],
    'batchnorm_train_eval.py': ['same output: True', 'forgot eval'],
    'residual_vs_plain.py': ['gradient factor per layer', 'residual'],
    'inception_bottleneck.py': ['with 1x1 bottlenecks', 'cut the multiply-adds by'],
    'dense_block_growth.py': ['denselayer6', 'channels halved'],
    'regularization_cifar_mini.py': ['weight decay 5e-3', 'augmentation (crops)'],
    'transfer_learning.py': ['feature extraction', 'negative transfer'],
    'optimizers.py': ["SGD's step grows with the gradient", 'AdamW', 'loss curves saved to'],
}


def test_every_example_is_tested():
    found = {f for f in os.listdir(os.path.join(ROOT, 'examples')) if f.endswith('.py')}
    assert found == set(EXAMPLES)


@pytest.mark.parametrize('name', sorted(EXAMPLES))
def test_example_runs_fast(name, tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''),
               MPLBACKEND='Agg')
    result = subprocess.run([sys.executable, os.path.join(ROOT, 'examples', name), '--fast'],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'Traceback' not in result.stderr
    for text in EXAMPLES[name]:
        assert text in result.stdout, result.stdout[-3000:]
