"""Training: the ``fit`` loop, checkpoints that survive a kill, and transfer learning.

    from minidl.train import fit, evaluate
    result = fit(model, train_loader, test_loader, epochs=10, optimizer=opt, out='runs/a')
    result = fit(..., out='runs/a', resume=True)     # goes on exactly where it stopped

    from minidl.train import load_pretrained, replace_head, freeze, param_groups
"""
from .checkpoint import (CheckpointError, convert_legacy_checkpoint, load_checkpoint,
                         previous_path, save_checkpoint)
from .run_folder import (CHECKPOINT_NAME, CURVES_NAME, METRICS_NAME, PREVIOUS_NAME,
                         RunExistsError, find_checkpoint, plan_run)
from .transfer import (LoadReport, freeze, frozen_batchnorm_eval, head_path, load_pretrained,
                       param_groups, read_state_dict, replace_head, save_weights,
                       trainable_parameters, unfreeze)
from .trainer import (COLUMNS, DeviceError, FitResult, LabelError, ResumeError,
                      TrainingDiverged, classification_loss, evaluate, fit, resolve_device)

__all__ = ['fit', 'evaluate', 'FitResult', 'TrainingDiverged', 'LabelError', 'DeviceError',
           'ResumeError', 'RunExistsError', 'resolve_device', 'classification_loss',
           'save_checkpoint', 'load_checkpoint', 'previous_path', 'CheckpointError',
           'convert_legacy_checkpoint', 'find_checkpoint', 'plan_run', 'freeze', 'unfreeze',
           'trainable_parameters', 'head_path', 'replace_head', 'param_groups',
           'frozen_batchnorm_eval', 'load_pretrained', 'read_state_dict', 'save_weights',
           'LoadReport', 'CHECKPOINT_NAME', 'PREVIOUS_NAME', 'METRICS_NAME', 'CURVES_NAME',
           'COLUMNS']
