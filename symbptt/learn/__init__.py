"""Weight updates with the tool's own exact BPTT: tasks with long-range dependencies, optimizers,
gradient clipping, truncation, and the training loop behind `symbptt train`."""

from .optimizers import OPTIMIZERS, clip_by_norm, make_optimizer
from .tasks import TASKS, Batch, make_batch
from .train import TrainResult, TrainSettings, train

__all__ = ["OPTIMIZERS", "TASKS", "Batch", "TrainResult", "TrainSettings", "clip_by_norm", "make_batch",
           "make_optimizer", "train"]
