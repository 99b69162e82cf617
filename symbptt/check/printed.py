"""Printed output read back and evaluated: the text and LaTeX of a derivation, each symbol given its value
in one trial (states and gates from the reference's forward pass at 40 digits, parameters and inputs from
the trial, factors and δ from the equations read before it)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..reference import ACTIVATED
from .trials import Trial, reference_activation


def evaluate_printed(derivation, kind: str, trial: Trial, known: dict | None = None) -> dict:
    """Read the derivation back from its printed output and evaluate each equation in order (at the
    current mpmath precision)."""
    from ..latex import snippet
    from ..readback import Evaluator, latex_equations, text_equations
    from ..render import render_text

    env = dict(known or {})
    resolver = Resolver(trial, env)
    equations = (text_equations(render_text(derivation)) if kind == "text"
                 else latex_equations(snippet(derivation), resolver.param_bases))
    evaluate = Evaluator(resolver, mp=True)
    for lhs, rhs in equations:
        if not lhs.startswith("∂L/") and (lhs.startswith("∂") or not _concrete(lhs)):
            continue  # a local partial or a definition at a generic step t
        env[lhs] = evaluate(rhs)
    return env


def _concrete(token: str) -> bool:
    from .. import notation

    try:
        parts = notation.parse(token)
    except ValueError:
        return True
    return parts.step.isdigit() or parts.step == ""


class Resolver:
    """Values of the printed symbols of one trial: states and gates from the reference's forward pass at
    40 digits, parameters and inputs from the trial, factors and δ from equations already evaluated."""

    def __init__(self, trial: Trial, env: dict) -> None:
        from .. import notation
        from ..cells import get_cell  # noqa: F401 - the spec is on the config
        from ..reference import Numbers, forward

        self.trial, self.env, self.cfg = trial, env, trial.config
        num = Numbers("mp")
        self.num = num
        layers = [{k: num.array(v) for k, v in p.items()} for p in self.cfg.layers]
        act = reference_activation(trial.activation or "tanh", "mp")
        sigma: tuple | None = None if isinstance(act, str) else act
        if isinstance(act, str) and trial.cell in ACTIVATED:
            from ..reference import builtin_activation

            sigma = builtin_activation(act, num)
        if trial.text is not None:  # a cell file: its states and intermediates as reference_files.py reads it
            from ..reference_files import trajectory

            steps = trajectory(trial.text, self.cfg.layers, self.cfg.x)
            for layer in steps:  # a value every unit shares (from a [] parameter) is each unit's
                for step in layer:
                    step.update({k: np.repeat(v, trial.n, axis=0) for k, v in step.items() if v.size < trial.n})
            self.h = [[step["h"] for step in layer] for layer in steps]
            self.c = [[step.get("c") for step in layer] for layer in steps]
            self.k = [[{"named": layer[0]}] + [{"named": step} for step in layer[1:]] for layer in steps]
            self._linears(layers, num.array(self.cfg.x), self.cfg.spec.linears)
        else:
            self.h, self.c, self.k = forward(trial.cell, layers, num.array(self.cfg.x), num, sigma)
        self.params = layers
        self.spec = self.cfg.spec
        self.linears = {lin.name for lin in self.spec.linears}
        self.param_bases = notation.PARAM_BASES | {p.partition("_")[0] for p in self.spec.unit_params}

    def _linears(self, layers: list, x: np.ndarray, linears: tuple) -> None:
        """A cell file's pre-activations (the names the tool gives Σ M v + b, cells.Linear) on the reference's
        states: only names for the printed forms, whose gradients are held to the reference's own."""
        h: Any = self.h
        k: Any = self.k
        for ell, p in enumerate(layers):
            for t in range(1, len(h[ell])):
                inp = x[t - 1].reshape(-1, 1) if ell == 0 else h[ell - 1][t]
                old = k[ell][t - 1]["named"]  # the states at t − 1 (at 0: the initial ones)
                for lin in linears:
                    total: Any = p[lin.bias].reshape(-1, 1) if lin.bias else 0
                    for weight, source in lin.terms:
                        total = total + np.dot(p[weight], inp if source == "x" else old[source])
                    k[ell][t]["named"][lin.name] = total

    def __call__(self, token: str):
        from .. import notation

        if token in self.env:
            return self.env[token]
        parts = notation.parse(token, self.param_bases)
        value = self._value(parts)
        if value is None:
            return None
        if parts.unit:
            return value[tuple(u - 1 for u in parts.unit)] if value.ndim == 2 and len(parts.unit) == 2 else \
                value.reshape(-1)[parts.unit[0] - 1] if len(parts.unit) == 1 else value[parts.unit[0] - 1,
                                                                                            parts.unit[1] - 1]
        if self.trial.n == 1 and isinstance(value, np.ndarray) and value.size == 1:
            return value.reshape(-1)[0]
        if isinstance(value, np.ndarray) and value.ndim == 2 and value.shape[0] == 1 and self.trial.n == 1:
            return value.reshape(-1)[0] if value.size == 1 else value
        return value

    def param_of(self, name) -> tuple[str, int, tuple[int, ...]]:
        """(parameter, layer, entry) of a printed parameter symbol: w, W^{(2)}_{f,12}, u_{2}, b_{f}."""
        tags = [s for s in name.sub if s[:1].isalpha()]  # a gate or a file's suffix (f, f1h); digits: an entry
        digits = [s for s in name.sub if s.isdigit()]
        entry = tuple(int(d) for d in digits[0]) if digits else ()
        if name.sub[:1] == ("0",) and f"{name.base}0" in self.spec.params:  # an initial state h_0, c_0
            return f"{name.base}0", name.layer or 1, tuple(int(d) for d in name.sub[1:])
        for base in (name.base, name.base.upper()):
            param = f"{base}_{tags[0]}" if tags else base
            if param in self.spec.params:
                return param, name.layer or 1, entry
        raise KeyError(f"no parameter {name}")

    def of_name(self, name, sub: tuple) -> object:
        """The value of a printed symbol (reader.Name with its subscript's indices evaluated), or None."""
        from types import SimpleNamespace

        try:
            param, layer, entry = self.param_of(name)
        except KeyError:
            steps = [s for s in sub if isinstance(s, int)]
            if len(steps) != len(sub) or not steps and (name.base != "y" or self.cfg.loss == "sum"):
                return None  # an index left unbound, or a state without its step
            p = SimpleNamespace(base=name.base, tag=name.tag, layer=name.layer, step=str(steps[0]) if steps else "",
                                unit=tuple(steps[1:]), is_param=False)
            value = self._value(p)
            return None if value is None else self._shaped(value, p.unit)
        value = self.params[layer - 1][param]
        return self._shaped(value if value.ndim == 2 else value.reshape(-1, 1), entry)

    def _shaped(self, value, unit: tuple):
        if unit:
            return value[tuple(u - 1 for u in unit)] if value.ndim == 2 and len(unit) == 2 else \
                value.reshape(-1)[unit[0] - 1]
        if self.trial.n == 1 and isinstance(value, np.ndarray) and value.size == 1:
            return value.reshape(-1)[0]
        return value

    def _value(self, p):
        layer = (p.layer or 1) - 1
        if p.is_param:  # printed w is the weight W of a scalar model, or a parameter named w (IndRNN)
            names = [p.base] + ([p.base.upper()] if p.base in ("w", "u") else [])
            found = [self.params[layer].get(f"{b}_{p.tag}" if p.tag else b) for b in names]
            value = next((v for v in found if v is not None), None)
            if value is None:
                return None
            return value if value.ndim == 2 else value.reshape(-1, 1)
        T = self.cfg.x.shape[0]  # steps are 1..T (states also 0): x_0 or h_{T+1} has no value, never x_T's
        if p.base == "y":
            y = self.num.array(self.cfg.y)
            if self.cfg.loss == "last":
                return y.reshape(-1, 1)
            return y[int(p.step) - 1].reshape(-1, 1) if p.step.isdigit() and 1 <= int(p.step) <= T else None
        if p.base == "x":
            return self.num.array(self.cfg.x[int(p.step) - 1]).reshape(-1, 1) if p.step.isdigit() and \
                1 <= int(p.step) <= T else None
        if not p.step.isdigit() or int(p.step) > T:
            return None
        t = int(p.step)
        name = f"{p.base}_{p.tag}" if p.tag and f"{p.base}_{p.tag}" in self.linears else p.base
        if t == 0 and self.trial.text is not None:  # a cell file's initial states, whatever their names
            return self.k[layer][0]["named"].get(name)
        if t == 0:
            source = self.h if name == "h" else self.c if name == "c" else None
            return None if source is None else source[layer][0]
        named = self.k[layer][t]["named"]
        return named.get(name)
