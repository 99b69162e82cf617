"""Tasks whose answer sits T steps back, generated from a seed (nothing downloaded).  The network's
state is its output: the loss is L = ½‖h_T − y‖² per sequence with the target on every unit.

    remember  x_1 = ±1 (the bit to keep), x_2 … x_T ~ U(−½, ½) (noise);   y = x_1 / 2
    adding    x_t = (v_t, m_t): v_t ~ U(0, 1), two markers m = 1, one in each half;
              y = (v_a + v_b) / 2   (Hochreiter & Schmidhuber's adding problem, scaled into tanh's range)

The trivial baseline predicts the mean target; a task counts as solved when the loss on held-out
sequences falls below SOLVED (a tenth) of the baseline's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import SymbpttError
from ..validate import integer

SOLVED = 0.1  # solved: held-out loss below this share of the mean-predictor's loss


@dataclass(frozen=True)
class Task:
    name: str
    inputs: int  # m
    min_T: int
    mean: float  # the mean target (what the trivial predictor outputs)
    variance: float  # of the target: the trivial predictor's loss is ½·n·variance per sequence


TASKS = {
    "remember": Task("remember", 1, 2, 0.0, 0.25),
    "adding": Task("adding", 2, 4, 0.5, 1.0 / 24.0),
}


@dataclass
class Batch:
    x: np.ndarray  # (T, m, B)
    target: np.ndarray  # (B,)


def get_task(name: str, T: int) -> Task:
    if not isinstance(name, str) or name not in TASKS:
        raise SymbpttError(f"unknown task {name!r:.40}; choose one of {', '.join(TASKS)}")
    task = TASKS[name]
    if T < task.min_T:
        raise SymbpttError(f"the {name} task needs T >= {task.min_T}, got {T}")
    return task


def make_batch(name: str, T: int, batch: int, rng: np.random.Generator) -> Batch:
    """``batch`` sequences of the task, drawn from ``rng``.

    Args:
        name: the task (remember or adding).
        T: the sequence length.
        batch: how many sequences.
        rng: the NumPy Generator they are drawn from.

    Returns:
        The inputs x, shape (T, m, batch), and the targets.

    Raises:
        SymbpttError: an unknown task, a T the task cannot use, a batch below 1 or an rng that is not a
            Generator.
    """
    get_task(name, T)
    batch = integer("batch", batch, 1)
    if not isinstance(rng, np.random.Generator):
        raise SymbpttError(f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), got "
                           f"{type(rng).__name__}")
    if name == "remember":
        x = rng.uniform(-0.5, 0.5, (T, 1, batch))
        bit = rng.choice([-1.0, 1.0], batch)
        x[0, 0] = bit
        return Batch(x, bit / 2.0)
    values = rng.uniform(0.0, 1.0, (T, batch))
    half = T // 2
    first = rng.integers(0, half, batch)
    second = rng.integers(half, T, batch)
    markers = np.zeros((T, batch))
    columns = np.arange(batch)
    markers[first, columns] = 1.0
    markers[second, columns] = 1.0
    x = np.stack([values, markers], axis=1)
    return Batch(x, (values[first, columns] + values[second, columns]) / 2.0)


def baseline_loss(name: str, T: int, n: int) -> float:
    """The mean predictor's expected loss per sequence: ½·n·Var(y)."""
    return 0.5 * n * get_task(name, T).variance
