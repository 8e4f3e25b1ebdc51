"""Cost model and model summaries: parameters, multiply-adds, FLOPs, bytes, memory.

    from minidl.profile import summary
    print(summary(model, (1, 3, 224, 224), backward=True, memory=True))

Counts come from the operators' own cost rules (``Function.cost``) through the autograd
apply hook, so they follow what actually runs; see ``summary.py`` for how each
operator's cost is attributed to a module and ``memory.py`` for the memory model.
"""
from .memory import MemoryReport, measure_training_peak
from .summary import ModelSummary, summary
from .table import CONVENTIONS
from .tracer import CostTracer, LayerRow, storage_of

__all__ = ['summary', 'ModelSummary', 'LayerRow', 'CostTracer', 'MemoryReport',
           'measure_training_peak', 'storage_of', 'CONVENTIONS']
