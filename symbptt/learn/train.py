"""The training loop: mini-batches of a task, the BPTT gradient of the tool's float64 numeric path (full,
or through the last steps with --truncate; factors and δ recursion over a batch axis), an optimizer
step, and per-iteration measurements of what the gradient carries:

    loss        ½‖h_T − y‖² averaged over the batch
    grad_norm   ‖∂L/∂θ‖ over every weight and bias (before clipping)
    far_share   ‖g_far‖ / (‖g_far‖ + ‖g − g_far‖), g the applied gradient (truncated when --truncate is
                set), g_far its part from steps more than K back (t ≤ T − K): the long-range signal this
                update carries, 0 to 1 (K = T/2 unless set; 0 when truncation cuts those steps)
    clipped     whether the update was rescaled to --clip
    eval_loss   the loss on held-out sequences, every few iterations; solved when the final one is below
                a tenth of the mean predictor's (the first iteration below it is reported beside)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from ..activations import get_activation
from ..budget import TRAIN_STEP, estimate
from ..cells import INPUT, TAKES_ACTIVATION, Cell, get_cell
from ..errors import SymbpttError
from ..numeric import jit, kernel
from ..numeric.cost import held_per_step
from ..numeric.examples import INITS, unit_recurrent
from ..numeric.factors import ArrayFactors, NumericModel
from ..numeric.logspace import path_weight, regime
from ..paths import param_entry
from ..validate import instance, integer, number
from ..validate import seed as checked_seed
from .optimizers import clip_by_norm, global_norm, make_optimizer
from .tasks import SOLVED, baseline_loss, get_task, make_batch

EVAL_SIZE = 256


@dataclass
class TrainSettings:
    cell: str = "rnn"
    activation: str = "tanh"
    n: int = 16
    layers: int = 1
    task: str = "remember"
    T: int = 20
    batch: int = 32
    steps: int = 1000
    lr: float = 0.01
    optimizer: str = "adam"
    clip: float | None = None
    truncate: int | None = None
    scale: float = 1.0  # recurrent weights W_* ~ N(0, scale²/n)
    init: str = "gaussian"  # how the recurrent matrices are drawn (numeric.examples.INITS), times scale
    forget_bias: float = 1.0  # the LSTM's b_f at the start
    seed: int = 0
    eval_every: int = 25
    far: int | None = None  # K of far_share (default T // 2)

    def validate(self, check_cost: bool = True) -> Cell:
        """Every setting checked before any work (types, ranges and, unless told not to, the cost); the
        cell, resolved once."""
        integer("n (-n)", self.n, 1, 256)
        integer("layers (--layers)", self.layers, 1, 3)
        integer("T (-T)", self.T, 1)
        integer("batch (--batch)", self.batch, 1)
        integer("iterations (--iterations)", self.steps, 1)
        integer("eval_every (--eval-every)", self.eval_every, 1)
        checked_seed(self.seed)
        number("scale (--scale)", self.scale, positive=True)
        number("forget_bias (--forget-bias)", self.forget_bias)
        if not isinstance(self.init, str) or self.init not in INITS:
            raise SymbpttError(f"unknown --init {str(self.init)[:20]!r}; choose one of {', '.join(INITS)}")
        get_task(self.task, self.T)
        make_optimizer(self.optimizer, number("lr (--lr)", self.lr, positive=True))
        if self.clip is not None:
            number("clip (--clip)", self.clip, positive=True)
        if self.truncate is not None and not 1 <= integer("truncate (--truncate)", self.truncate) <= self.T:
            raise SymbpttError(f"--truncate must be from 1 to T = {self.T}, got {self.truncate}")
        far = self.horizon if self.far is None else integer("far (--far)", self.far)
        if not 1 <= far <= self.T:
            raise SymbpttError(f"--far must be from 1 to T = {self.T}, got {far}")
        spec = get_cell(self.cell, get_activation(self.activation))
        if not spec.uses_activation and self.activation != "tanh":
            raise SymbpttError(f"-a sets the activation of the {' and '.join(TAKES_ACTIVATION)} cells; "
                               f"{spec.name} has its own nonlinearities")
        if spec.max_hidden is not None and self.n > spec.max_hidden:
            raise SymbpttError(f"the cell {spec.name!r} is scalar: n (-n) must be 1, got {self.n}")
        if check_cost:  # memory only: a long run shows its progress and keeps what it trained on Ctrl-C
            estimate(f"training {self.steps} iterations of batch {self.batch} at T = {self.T}, n = {self.n}",
                     "lower --batch, -T or -n", floats=self.cost(spec)["floats"])
        return spec

    def cost(self, spec: Cell) -> dict[str, float]:
        """Estimated Python time, multiply-adds and float64 cells held (see budget.estimate): the batches,
        the held-out batch (EVAL_SIZE sequences) and the per-step arrays of every layer (numeric.cost.
        held_per_step a step, unit and sequence).  Measured (tracemalloc's peak, n = 8, T = 20): 6.1, 26,
        19, 9.0, 11 and 9.0 floats for rnn, lstm, gru, indrnn, mingru and lru, where two per node and map
        had counted 4, 20, 16, 4, 8 and 4."""
        nodes = len(spec.nodes) + len(spec.linears)
        kept = held_per_step(spec)
        matrices = len(spec.matrices())
        evals = self.steps // self.eval_every + 1
        m = get_task(self.task, self.T).inputs
        work = self.T * self.layers
        return {"seconds": (self.steps + evals) * work * TRAIN_STEP * max(1.0, nodes / 4),
                "flops": (3.0 * self.steps * self.batch + evals * EVAL_SIZE) * work * matrices * self.n**2,
                "floats": (self.T + 1) * self.layers * (self.n * (self.batch + EVAL_SIZE) * kept
                                                        + self.n**2 * matrices)
                          + 2.0 * self.T * max(m, 1) * EVAL_SIZE}

    @property
    def horizon(self) -> int:
        return self.far if self.far is not None else max(1, self.T // 2)


@dataclass
class TrainResult:
    settings: dict
    rows: list[dict] = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    stopped: str | None = None  # why the run ended early: 'interrupted' or a message
    params: list[dict[str, np.ndarray]] = field(default_factory=list)  # the parameters it ended with


def initial_params(spec: Cell, settings: TrainSettings, m: int) -> list[dict[str, np.ndarray]]:
    """W_* ~ N(0, scale²/n) (or scale times an orthogonal matrix, or the identity: settings.init),
    U_* ~ N(0, 1/m), biases 0 (the LSTM's b_f = forget_bias), per-unit parameters
    uniform on the cell's interval (IndRNN's w, the LRU's ν), initial states 0;
    shapes as the numeric path wants them (vectors as columns)."""
    rng = np.random.default_rng([settings.seed, 2])
    n, layers = settings.n, []
    for ell in range(settings.layers):
        inputs = m if ell == 0 else n
        p = {}
        for name in spec.params:
            kind = spec.kind(name)
            if kind == "recurrent" and settings.init != "gaussian":
                p[name] = settings.scale * unit_recurrent(rng, n, settings.init)
            elif kind == "recurrent":
                p[name] = rng.normal(0.0, settings.scale / math.sqrt(n), (n, n))
            elif kind == "input":
                p[name] = rng.normal(0.0, 1.0 / math.sqrt(inputs), (n, inputs))
            elif kind == "scalar":
                p[name] = np.zeros((1, 1))
            elif kind == "unit":  # IndRNN's w (times --scale), the LRU's ν: the cell says where they start
                scale = settings.scale if name in spec.gain_scaled else 1.0
                p[name] = rng.uniform(*spec.init_range(name), (n, 1)) * scale
            else:
                value = settings.forget_bias if name == spec.forget_bias else 0.0
                p[name] = np.full((n, 1), value, dtype=float)  # an int forget_bias too
        layers.append(p)
    return layers


def trained_names(spec: Cell) -> list[str]:
    """Weights and biases; the initial states stay at 0."""
    return [p for p in spec.params if spec.kind(p) != "initial"]


def forward(model: NumericModel) -> ArrayFactors:
    """The float64 forward pass of a training batch with its step coefficients: compiled (numeric/jit.py)
    when Numba is installed and n is small, which changes the last bits of the numbers against the NumPy
    pass, else NumPy's.  Float64 events are not looked for: training asks for no exact numbers."""
    return ArrayFactors(model, trajectory=jit.trajectory(model.cell, model.params, model.x, strict=False))


def batch_gradients(values: ArrayFactors, model: NumericModel, spec: Cell, far: int, truncate: int | None
                    ) -> tuple[float, list[dict[str, np.ndarray]], float]:
    """(loss, ∂L/∂θ, far share) averaged over the batch: one δ recursion for all parameters."""
    B = model.x.shape[2]
    rnn = model.structure()
    loss = float(values.loss()) / B
    # the loss is at step T alone: truncated BPTT is the δ recursion through steps T, …, T − k + 1 only
    first = 1 if truncate is None else max(model.T - truncate, 0) + 1
    # the step kernel's loop (training's parameters are shared by the batch, its loss is at T)
    store, _ = kernel.deltas(values, kernel.plan(spec, model.layers, model.loss), first - 1)
    stacked = {(layer, state): store[(layer, state)][1:] for layer in range(1, model.layers + 1)
               for state in rnn.states}
    grads, far_parts = [], []
    cut = model.T - far
    for layer in range(1, model.layers + 1):
        g, g_far = {}, {}
        rows = _entry_rows(values, rnn, stacked, layer)
        for name in trained_names(spec):
            shape = model.params[layer - 1][name].shape
            # the applied gradient, split at step T − K: the far steps and the recent ones, each summed once
            old = _summed(values, rnn, rows, name, layer, first, cut) if cut >= first else np.zeros(shape)
            full = old + _summed(values, rnn, rows, name, layer, max(cut + 1, first), model.T)
            g[name] = kernel.summed_to(full, shape) / B
            g_far[name] = kernel.summed_to(old, shape) / B
        grads.append(g)
        far_parts.append(g_far)
    old_norm = global_norm(far_parts)
    recent = global_norm([{k: g[k] - f[k] for k in g} for g, f in zip(grads, far_parts, strict=True)])
    share = old_norm / (old_norm + recent) if old_norm + recent > 0 else 0.0
    return loss, grads, share


def _entry_rows(values: ArrayFactors, rnn, deltas: dict, layer: int) -> dict[str, np.ndarray]:
    """For every leaf p of the step (linear map or per-unit parameter): D_tᵀ δ_t summed over the states
    it enters, for t = 1..T at once, as an array (T, n, B) — what evaluate_recursive adds step by step.
    ``deltas``: (layer, state) → δ_t for t = 1..T, (T, n, B)."""
    traj = values.traj
    stacked = {state: deltas[(layer, state)] for state in rnn.states}
    rows = {}
    for leaf in {param_entry(rnn, p)[1] for p in rnn.spec.params if rnn.spec.kind(p) != "initial"}:
        total = np.zeros_like(stacked[rnn.states[0]])
        for route in rnn.graph.entries(leaf):  # D routes are diagonal: a coefficient times δ, unit by unit
            total = total + traj.coefs[layer - 1][(route.target, leaf)][1:] * stacked[route.target]
        rows[leaf] = total
    return rows


def _summed(values: ArrayFactors, rnn, rows: dict[str, np.ndarray], name: str, layer: int, lo: int,
            hi: int) -> np.ndarray:
    """Σ_{t=lo..hi} of a parameter's gradient terms: (D_tᵀ δ_t) z_tᵀ summed over the batch for a weight
    (z_t its input or previous state), D_tᵀ δ_t for a bias or per-unit parameter (initial states are not
    trained)."""
    _, leaf, source = param_entry(rnn, name)
    part = rows[leaf][lo - 1:hi]
    if source is None:
        return part.sum(axis=0)
    traj = values.traj
    if source == INPUT:
        z = traj.inputs[lo - 1:hi] if layer == 1 else traj.values[layer - 2]["h"][lo:hi + 1]
    else:
        z = traj.values[layer - 1][source][lo - 1:hi]  # the previous state: index t − 1
    return kernel.summed_outer(part, z)  # Σ_t Σ_b, without transposed copies


def evaluate(spec: Cell, params: list[dict[str, np.ndarray]], settings: TrainSettings, x: np.ndarray,
             target: np.ndarray) -> float:
    """The loss per sequence on a fixed held-out batch (forward pass only)."""
    model = NumericModel(spec, params, x, np.broadcast_to(target, (settings.n, target.size)).copy(), "last")
    with np.errstate(all="ignore"):
        return float(forward(model).loss()) / target.size


def train(settings: TrainSettings, progress: Callable[[int, dict], None] | None = None,
          stop: Callable[[], bool] | None = None) -> TrainResult:
    """Run ``settings.steps`` iterations; ``progress(i, row)`` after each, ``stop()`` asked before each
    (Ctrl-C). A loss or gradient that stops being finite ends the run with a message, rows kept."""
    instance("train", settings, TrainSettings, "TrainSettings", "train(TrainSettings(cell='lstm'))")
    spec = settings.validate()
    task = get_task(settings.task, settings.T)
    params = initial_params(spec, settings, task.inputs)
    optimizer = make_optimizer(settings.optimizer, settings.lr)
    data = np.random.default_rng([settings.seed, 1])
    held = make_batch(settings.task, settings.T, EVAL_SIZE, np.random.default_rng([settings.seed, 3]))
    baseline = baseline_loss(settings.task, settings.T, settings.n)
    result = TrainResult(asdict(settings))
    solved_at = None
    for it in range(1, settings.steps + 1):
        if stop is not None and stop():
            result.stopped = "interrupted"
            break
        batch = make_batch(settings.task, settings.T, settings.batch, data)
        y = np.broadcast_to(batch.target, (settings.n, settings.batch)).copy()
        model = NumericModel(spec, params, batch.x, y, "last")
        with np.errstate(all="ignore"):
            values = forward(model)
            loss, grads, share = batch_gradients(values, model, spec, settings.horizon, settings.truncate)
        grads, clipped, norm = clip_by_norm(grads, settings.clip)
        row: dict[str, object] = {"iteration": it, "loss": loss, "grad_norm": norm, "far_share": share,
                                  "clipped": clipped}
        weight = path_weight(spec, params[-1])
        if weight is not None:
            bound = regime(weight, settings.activation)
            row |= {"gamma_sigma_max": bound["gamma_sigma_max"], "bound": bound["label"]}
        if not (math.isfinite(loss) and math.isfinite(norm)):
            result.rows.append(row | {"eval_loss": None})
            result.stopped = f"the loss or its gradient stopped being finite at iteration {it}"
            break
        optimizer.step(params, grads)
        if not all(np.isfinite(v).all() for layer in params for v in layer.values()):
            result.rows.append(row | {"eval_loss": None})
            result.stopped = (f"the parameters stopped being finite after the update of iteration {it} "
                              f"(learning rate {settings.lr:g})")
            break
        eval_loss: float | None = None
        if it % settings.eval_every == 0 or it == settings.steps:
            eval_loss = evaluate(spec, params, settings, held.x, held.target)
            if solved_at is None and eval_loss < SOLVED * baseline:
                solved_at = it
        row["eval_loss"] = eval_loss
        result.rows.append(row)
        if progress is not None:
            progress(it, row)
    last_eval = next((r["eval_loss"] for r in reversed(result.rows) if r.get("eval_loss") is not None), None)
    if last_eval is None and result.rows and result.stopped == "interrupted":
        last_eval = evaluate(spec, params, settings, held.x, held.target)
    result.summary = {
        "task": settings.task, "T": settings.T, "cell": spec.name, "iterations": len(result.rows),
        "baseline_loss": baseline, "solved_below": SOLVED * baseline,
        "final_eval_loss": last_eval, "final_over_baseline": None if last_eval is None else last_eval / baseline,
        "solved": last_eval is not None and last_eval < SOLVED * baseline, "first_below_at_iteration": solved_at,
    }
    if result.stopped:
        result.summary["stopped"] = result.stopped
    result.params = params
    return result
