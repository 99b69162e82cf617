"""What a cell is: its one-step equations, as data.

A cell maps the previous state s_{t-1} (one or more vectors of size n: h, or h and c) and the input x_t
to the new state s_t.  It is written in two parts:

    linear maps    p = Σ M·v + b        M a weight matrix, v a previous state or the input x
    elementwise    node = f(…)          intermediates and new states, unit by unit, in terms of the
                                        linear maps, the previous states, earlier nodes and the
                                        parameters that act unit by unit: scalar parameters (one
                                        number, the user's scalar cells) and per-unit parameters (one
                                        entry per unit: IndRNN's diagonal recurrent weight w, the
                                        LRU's ν)

Everything else — the chain-rule factors, the forms, the numbers, the checks — is derived from these
equations by the generic engine (step.py, paths.py); no other module knows which cell it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from functools import cached_property

import sympy as sp

INPUT = "x"


def unit(name: str) -> sp.Symbol:
    """The template symbol of one unit of ``name`` at the current step (h, c, a_f, …)."""
    return sp.Symbol(name, real=True)


def prev(state: str) -> sp.Symbol:
    """The template symbol of one unit of a state at the previous step."""
    return sp.Symbol(f"prev_{state}", real=True)


@dataclass(frozen=True)
class Linear:
    """A pre-activation p = Σ_j M_j v_j + b: ``terms`` are (weight matrix, source) pairs, the source being
    a state name (its previous value) or ``x`` (the input, or the layer below); ``bias`` a vector name."""

    name: str
    terms: tuple[tuple[str, str], ...]
    bias: str | None = None
    shown: str = ""  # how the pre-activation is written: a_t, a^f_t, …


@dataclass(frozen=True)
class TorchLayout:
    """How PyTorch stores a cell with the same equations (read and written by bridges/pytorch.py).

    torch keeps each layer as weight_ih (U of every gate stacked), weight_hh (W stacked) and two biases,
    bias_ih and bias_hh; a gate's two biases add up to its one b, except where torch's hidden bias sits
    inside a product of its own (the GRU's n gate), which is then a parameter here.
    """

    module: str  # the class: nn.RNN, nn.LSTM, nn.GRU (and nn.RNNCell, … for one layer)
    gates: tuple[tuple[str, str, str], ...]  # (W, U, b) of each gate, in torch's stacking order
    hidden_biases: tuple[tuple[int, str], ...] = ()  # (gate, parameter): bias_hh blocks kept apart
    activations: tuple[str, ...] = ()  # torch's nonlinearity options, for a cell that takes -a


@dataclass(frozen=True)
class Cell:
    """One-step equations of a recurrent cell (see the module docstring)."""

    name: str
    title: str
    states: tuple[str, ...]  # the first is the output h, read by the loss and by the layer above
    linears: tuple[Linear, ...]
    nodes: tuple[tuple[str, sp.Expr], ...]  # (name, elementwise expression), in evaluation order
    scalar_params: tuple[str, ...] = ()
    vector_params: tuple[str, ...] = ()  # one entry per unit, read unit by unit in the nodes
    init: tuple[tuple[str, float, float], ...] = ()  # (per-unit parameter, low, high): drawn uniformly
    gain_scaled: tuple[str, ...] = ()  # per-unit parameters a gain (or train's --scale) multiplies: IndRNN's w
    max_hidden: int | None = None  # user cells are scalar (n = 1)
    max_input: int | None = None
    uses_activation: bool = False  # the vanilla cell and IndRNN take -a
    # its state grows at most linearly in t whatever its weights (gates, saturating nonlinearities, a
    # recurrence with |λ| < 1): where its Jacobian products grow by 10^13 its rounding errors outgrow it
    # (numeric.sweeps.rounding_decides); unknown (False) for cell files
    bounded: bool = False
    # the Elman recurrence h_t = σ(W h_{t-1} + U x_t + b): one route back per step, whose factor
    # diag(σ'(a_t)) W the forms write out in parameters for a scalar model, and which the fast sweeps,
    # the scalar explicit form and the drawings' "U, b" label assume
    elman: bool = False
    # the bias of the gate that keeps the state (the LSTM's forget gate b_f, the GRU's update gate b_z):
    # what the explorer's slider moves; ``forget_bias``: the one `train --forget-bias` sets (the LSTM's)
    keep_bias: str | None = None
    forget_bias: str | None = None
    # how the unrolled drawing labels a state's arrow from t-1 to t (LaTeX), where the cell carries it
    # through a gate: the LSTM's c_t = f_t ⊙ c_{t-1} + …
    arrow_labels: tuple[tuple[str, str], ...] = ()
    torch: TorchLayout | None = None  # the torch module with the same equations, if there is one
    notes: tuple[str, ...] = field(default=())

    def __hash__(self) -> int:  # the dataclass's hash walks every expression: kept once computed
        cached = self.__dict__.get("_hash")
        if cached is None:
            cached = hash(tuple(getattr(self, f.name) for f in fields(self)))
            object.__setattr__(self, "_hash", cached)
        return cached

    def __getstate__(self) -> dict:  # a hash is per process (str hashes are salted): not pickled
        return {k: v for k, v in self.__dict__.items() if k != "_hash"}

    @property
    def output(self) -> str:
        return self.states[0]

    def node(self, name: str) -> sp.Expr:
        return dict(self.nodes)[name]

    def matrices(self) -> list[tuple[str, Linear, str]]:
        """(weight name, its linear map, its source) for every weight matrix."""
        return [(m, lin, src) for lin in self.linears for m, src in lin.terms]

    def biases(self) -> list[tuple[str, Linear]]:
        return [(lin.bias, lin) for lin in self.linears if lin.bias]

    @property
    def unit_params(self) -> tuple[str, ...]:
        """The parameters the nodes read unit by unit (scalar and per-unit ones): leaves of the step."""
        return (*self.vector_params, *self.scalar_params)

    def shared(self, leaf: str) -> bool:
        """Whether ``leaf`` is one number every unit shares (a scalar parameter: a cell file's []): ∂h_t/∂θ is
        then a column of n entries, not the diagonal a per-unit leaf has, and ∂L/∂θ sums over the units."""
        return leaf in self.scalar_params

    def init_range(self, param: str) -> tuple[float, float]:
        """The interval a per-unit parameter is drawn from (uniformly) when a network is initialised."""
        return next(((lo, hi) for p, lo, hi in self.init if p == param), (-1.0, 1.0))

    def initial(self) -> list[tuple[str, str]]:
        """(parameter name, state) of the initial states: h0 (and c0)."""
        return [(f"{s}0", s) for s in self.states]

    @cached_property
    def params(self) -> tuple[str, ...]:
        """Every parameter in report order: recurrent weights, per-unit parameters, input weights, biases,
        scalars, initial states."""
        recurrent = [m for m, _, src in self.matrices() if src != INPUT]
        inputs = [m for m, _, src in self.matrices() if src == INPUT]
        biases = [b for b, _ in self.biases()]
        return (*recurrent, *self.vector_params, *inputs, *biases, *self.scalar_params,
                *(p for p, _ in self.initial()))

    def param_named(self, name: str) -> str | None:
        """The parameter a user means by ``name``: its own spelling (W_f), the printed one of a scalar
        model (w_f), any case (w_F), a subscripted initial state (h_0) or braces (W_{f}); None if none.

        Args:
            name: the name as typed.

        Returns:
            The parameter's name in ``params``, or None when no parameter (or more than one) matches.
        """
        if name in self.params:
            return name
        plain = name.replace("{", "").replace("}", "").strip()
        plain = plain[:-2] + "0" if plain.endswith("_0") else plain
        found = [p for p in self.params if p.casefold() == plain.casefold()]
        return found[0] if len(found) == 1 else None

    def shape(self, param: str, n: int, m: int) -> tuple[int, ...]:
        """The shape of a parameter in a layer of n units reading m inputs: (n, n) recurrent, (n, m) input,
        (n,) for a bias, a per-unit parameter or an initial state, (1,) for a scalar.

        Args:
            param: one of ``params``.
            n: the hidden size.
            m: the layer's input size (the hidden size of the layer below, above the first).

        Returns:
            The shape as a tuple.
        """
        return {"recurrent": (n, n), "input": (n, m), "scalar": (1,)}.get(self.kind(param), (n,))

    def kind(self, param: str) -> str:
        """'recurrent' (n×n), 'input' (n×m), 'bias' (n), 'unit' (n, read unit by unit), 'scalar' or
        'initial' (n)."""
        try:
            return self._kinds[param]
        except KeyError:
            raise KeyError(param) from None

    @cached_property
    def _kinds(self) -> dict[str, str]:
        return {p: self._kind(p) for p in self.params}

    def _kind(self, param: str) -> str:
        for m, _, src in self.matrices():
            if m == param:
                return "input" if src == INPUT else "recurrent"
        if param in dict(self.biases()):
            return "bias"
        if param in self.scalar_params:
            return "scalar"
        if param in self.vector_params:
            return "unit"
        if param in dict(self.initial()):
            return "initial"
        raise KeyError(param)
