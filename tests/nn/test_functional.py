"""minidl.nn.functional is minidl.functional under PyTorch's other name."""
import minidl.functional
import minidl.nn.functional as F


def test_nn_functional_exports_the_operators():
    names = ['conv2d', 'linear', 'max_pool2d', 'avg_pool2d', 'adaptive_avg_pool2d', 'batch_norm',
             'local_response_norm', 'dropout', 'dropout2d', 'cross_entropy', 'nll_loss',
             'mse_loss', 'relu', 'softmax', 'log_softmax', 'flatten', 'cat']
    for name in names:
        assert getattr(F, name) is getattr(minidl.functional, name), name
