"""A form compiled to a straight-line program: the symbolic gradient as code whose size is linear in
what the form prints.

Each route's printed definition (J_t = w(1 − h_t²), F^cc_t = diag(f_t), …) is lambdified once, as a
template in the unit symbols of one step; the form itself becomes plain Python lines over named
per-step factor arrays, never an expanded polynomial:

    explicit    g_W_1 += _term(e_3, (J_h_h_1_3, J_h_h_1_2, D_h_a_1_1), z_W_1_1)
    recursive   d_1_2_h = _tapply(J_h_h_1_3, d_1_3_h) + e_2
                g_W_1 += _outer(_dapply(D_h_a_1_2, d_1_2_h), z_W_1_2)

so compiling costs one pass over the printed factors (benchmarks/run.py fits the exponent).  The
program runs on float64 arrays or on mpmath object arrays alike.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import mpmath
import numpy as np
import sympy as sp

from .. import primitives as P
from ..activations import numpy_functions
from ..cells import INPUT, prev, unit
from ..paths import DeltaPart, Step, Structure, delta_recursion, explicit_terms, param_entry, targets
from ..step import Route, shown_coefficients
from .factors import NumericModel
from .forward import compiled as compiled_cell
from .forward import forward


def _term(error: np.ndarray, chain: tuple, z: np.ndarray | None) -> np.ndarray:
    row = error.T
    for factor in chain:
        row = row @ factor
    return row.T if z is None else row.T @ z.T


def _tapply(factor: np.ndarray, delta: np.ndarray) -> np.ndarray:
    return factor.T @ delta


def _outer(column: np.ndarray, z: np.ndarray | None) -> np.ndarray:
    return column if z is None else column @ z.T


def _name(step: Step) -> str:
    return f"{step.kind}_{step.target}_{step.source}_{step.layer}_{step.t}"


class CompiledForm:
    """∂L/∂θ for every parameter of ``rnn``'s structure, by its explicit or recursive form."""

    def __init__(self, rnn: Structure, form: str = "explicit", wrt: str = "all") -> None:
        if form not in ("explicit", "recursive"):
            raise ValueError(form)
        self.rnn, self.form = rnn, form
        self.keys = targets(rnn, wrt)
        self.steps: set[Step] = set()
        self.factor_count = 0
        lines = self._explicit() if form == "explicit" else self._recursive()
        self.source = "def program(V, _term, _tapply, _outer):\n" + "\n".join("    " + ln for ln in lines)
        namespace: dict[str, Any] = {}
        exec(compile(self.source, f"<{form} form>", "exec"), namespace)  # our own generated code
        self.program = namespace["program"]
        self._templates = self._route_templates()
        self._functions: dict[str, dict] = {"float": self.functions("float")}

    # ------------------------------------------------------------ code generation

    def _z(self, param: str, layer: int, t: int) -> str:
        kind, _, _ = param_entry(self.rnn, param)
        return f"V['z_{param}_{layer}_{t}']" if kind in ("recurrent", "input") else "None"

    def _factor(self, step: Step) -> str:
        self.steps.add(step)
        self.factor_count += 1
        return f"V['{_name(step)}']"

    def _explicit(self) -> list[str]:
        lines = []
        for param, layer in self.keys:
            acc = f"g_{param}_{layer}"
            lines.append(f"{acc} = V['zero_{param}_{layer}']")
            for term in explicit_terms(self.rnn, param, layer):
                chain = ", ".join(self._factor(s) for s in term.chain)
                lines.append(f"{acc} = {acc} + _term(V['e_{term.loss_step}'], ({chain}{',' if chain else ''}), "
                             f"{self._z(param, layer, term.entry)})")
        return lines + ["return {" + ", ".join(f"'{p}_{ell}': g_{p}_{ell}" for p, ell in self.keys) + "}"]

    def _delta(self, layer: int, t: int, state: str) -> str:
        return f"d_{layer}_{t}_{state}"

    def _recursive(self) -> list[str]:
        lines, known = list[str](), set[tuple[int, int, str]]()
        for (layer, t, state), parts in delta_recursion(self.rnn):
            terms = []
            for part in parts:
                terms.append(self._delta_part(part, known))
            terms = [t for t in terms if t]
            if terms:
                lines.append(f"{self._delta(layer, t, state)} = {' + '.join(terms)}")
                known.add((layer, t, state))
        for param, layer in self.keys:
            acc = f"g_{param}_{layer}"
            kind, leaf, _ = param_entry(self.rnn, param)
            if kind == "initial":
                have = (layer, 0, leaf) in known
                lines.append(f"{acc} = {self._delta(layer, 0, leaf) if have else repr(None)}")
                lines.append(f"{acc} = V['zero_{param}_{layer}'] if {acc} is None else {acc}")
                continue
            lines.append(f"{acc} = V['zero_{param}_{layer}']")
            for t in range(1, self.rnn.T + 1):
                for route in self.rnn.graph.entries(leaf):
                    if (layer, t, route.target) not in known:
                        continue
                    step = Step("D", layer, t, route.target, leaf)
                    column = f"_tapply({self._factor(step)}, {self._delta(layer, t, route.target)})"
                    lines.append(f"{acc} = {acc} + _outer({column}, {self._z(param, layer, t)})")
        return lines + ["return {" + ", ".join(f"'{p}_{ell}': g_{p}_{ell}" for p, ell in self.keys) + "}"]

    def _delta_part(self, part: DeltaPart, known: set) -> str:
        if part.kind == "E":
            return f"V['e_{part.t}']"
        source = (part.layer, part.t, part.target)
        if source not in known:
            return ""
        return f"_tapply({self._factor(part.step())}, {self._delta(*source)})"

    # ------------------------------------------------------------ factor values

    def _route_templates(self) -> dict[Route, list[tuple[sp.Expr, str | None]]]:
        """Each route as Σ diag(printed coefficient)·M, the coefficient a template in unit symbols."""
        shown = shown_coefficients(self.rnn.graph)
        out = {}
        for route in self.rnn.graph.routes:
            out[route] = [(shown[(route.target, leaf)], matrix) for leaf, matrix in self.rnn.graph.terms(route)]
        return out

    def _template_args(self) -> list[sp.Symbol]:
        spec = self.rnn.spec
        return ([unit(n) for n, _ in spec.nodes] + [prev(s) for s in spec.states]
                + [unit(lin.name) for lin in spec.linears] + [unit(INPUT)] + [unit(p) for p in spec.unit_params])

    def functions(self, kind: str) -> dict[tuple[Route, int], Callable]:
        args = self._template_args()
        out = {}
        for route, terms in self._route_templates().items():
            for i, (coef, _) in enumerate(terms):
                if kind == "float":
                    out[(route, i)] = sp.lambdify(args, coef, numpy_functions(coef))
                else:
                    scalar = sp.lambdify(args, coef, [P.mpmath_module(coef), "mpmath"])
                    out[(route, i)] = np.frompyfunc(lambda *v, f=scalar: mpmath.mpf(f(*v)), len(args), 1)
        return out

    def __call__(self, model: NumericModel, kind: str = "float") -> list[dict[str, np.ndarray]]:
        """Evaluate the program on ``model`` (float64 arrays, or mpf object arrays with kind 'mp')."""
        traj = forward(compiled_cell(model.cell, kind), model.params, model.x)
        if kind not in self._functions:
            self._functions[kind] = self.functions(kind)
        fns, templates = self._functions[kind], self._templates
        V: dict[str, Any] = {}
        spec = model.cell
        for step in self.steps:
            route = Route(step.kind, step.target, step.source)
            values = self._step_values(traj, step.layer, step.t, spec)
            total = None
            for i, (_, matrix) in enumerate(templates[route]):
                c = np.broadcast_to(fns[(route, i)](*values), values[0].shape)[:, 0]
                if matrix is None:  # a diagonal, or the column of a number every unit shares
                    part = c[:, None] if self.rnn.spec.shared(step.source) else np.diag(c)
                else:
                    part = c[:, None] * model.params[step.layer - 1][matrix]
                total = part if total is None else total + part
            V[_name(step)] = total
        top = model.layers
        for t in range(1, model.T + 1):
            y = model.y if model.loss == "last" else model.y[t - 1]
            V[f"e_{t}"] = traj.values[top - 1]["h"][t] - y
        for param, layer in self.keys:
            V[f"zero_{param}_{layer}"] = 0 * model.params[layer - 1][param]
            kind_p, _, source = param_entry(self.rnn, param)
            if kind_p in ("recurrent", "input") and source is not None:
                for t in range(1, model.T + 1):
                    V[f"z_{param}_{layer}_{t}"] = (traj.layer_input(layer, t) if source == INPUT
                                                   else traj.values[layer - 1][source][t - 1])
        out = self.program(V, _term, _tapply, _outer)
        grads: list[dict[str, np.ndarray]] = [{} for _ in model.params]
        for (param, layer) in self.keys:
            grads[layer - 1][param] = out[f"{param}_{layer}"]
        return grads

    def _step_values(self, traj: Any, layer: int, t: int, spec: Any) -> list[np.ndarray]:
        values = traj.values[layer - 1]
        inp = traj.layer_input(layer, t)
        n = values[spec.states[0]].shape[1]
        row = [values[name][t] for name, _ in spec.nodes] + [values[s][t - 1] for s in spec.states]
        row += [values[lin.name][t] for lin in spec.linears]
        row.append(inp if inp.shape[0] == n else 0 * values[spec.states[0]][t])
        row += [traj.scalars[layer - 1][p] for p in spec.unit_params]
        return row
