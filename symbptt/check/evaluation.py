"""Evaluating what reader.py read: a printed formula's value at given numbers.

Evaluation walks the parse tree with the factors in the order the parser kept them (the parser builds
unevaluated products, so ``A B`` stays A then B: a matrix product between matrices).  Symbols get
their values from a caller's ``resolve`` function, from the equations read so far (a definition at a
generic step t, J^{(2)}_t = …, gives J^{(2)}_3 with t = 3), and sums and products over an index run
over its range.  Like reader.py, it imports nothing from the engine.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import mpmath
import numpy as np
import sympy as sp

from .reader import MAX_RANGE, Name, Parsed, Placeholders, ReadError, equations, index_value, parse


@dataclass
class Reader:
    """Evaluates the equations of one printed derivation.

    ``resolve(name, sub)`` gives the value of a model symbol (state, gate, parameter entry, input, target)
    with its subscript parts already turned into integers where they are indices; it returns None for a
    symbol it does not know.  ``T`` is the length the general-T formulas are instantiated at."""

    resolve: Callable[[Name, tuple[Any, ...]], Any]
    T: int
    ctx: Any = mpmath.mp

    def __post_init__(self) -> None:
        self.defined: dict[tuple[str, str, int | None], list[tuple[tuple[str, ...], Parsed]]] = {}
        self.memo: dict[tuple, Any] = {}
        self.gradients: dict[Name, Any] = {}

    def read(self, latex: str) -> dict[Name, Any]:
        """Evaluate every gradient of the printed output; definitions are kept for later symbols."""
        eqs = equations(latex)
        for eq in eqs:
            if isinstance(eq.lhs, Name):
                self.defined.setdefault(eq.lhs.key(), []).append((eq.lhs.sub, parse(eq.rhs)))
        for eq in eqs:
            if isinstance(eq.lhs, tuple):
                self.gradients[eq.lhs[1]] = self.total(parse(eq.rhs), {"T": self.T})
        return self.gradients

    # -- symbols

    def symbol(self, name: Name, bound: dict[str, int]) -> Any:
        if not name.sub and not name.tag and name.layer is None and name.base in {**bound, "T": self.T}:
            return {**bound, "T": self.T}[name.base]  # a bare index letter (w^{t-k}): its bound value
        sub = tuple(index_value(p, bound) if index_value(p, bound) is not None else p for p in name.sub)
        key = (name.key(), sub)
        if key in self.memo:
            return self.memo[key]
        value = self._defined(name, sub, bound)
        if value is None:
            value = self.resolve(name, sub)
        if value is None:
            raise ReadError(f"no value for the symbol {name} (subscript {sub})")
        self.memo[key] = value
        return value

    def _defined(self, name: Name, sub: tuple[Any, ...], bound: dict[str, int]) -> Any:
        """The value from an equation that defines the symbol: one written for this very step first, then
        one at a generic step (t, t-1, T) that gives it."""
        found = self.defined.get(name.key(), [])
        concrete = [d for d in found if all(index_value(p, {"T": self.T}) is not None or not re.search(
            "[A-Za-z]", p) for p in d[0])]
        for lhs_sub, parsed in concrete + [d for d in found if d not in concrete]:
            if len(lhs_sub) != len(sub):
                continue
            binding = self._match(lhs_sub, sub)
            if binding is not None:
                return self.total(parsed, {"T": self.T, **binding})
        return None

    def _match(self, pattern: tuple[str, ...], sub: tuple[Any, ...]) -> dict[str, int] | None:
        """Bindings of the free index letters of a definition's subscript that give ``sub``."""
        binding: dict[str, int] = {}
        for pat, want in zip(pattern, sub, strict=True):
            if not isinstance(want, int):
                if pat != want:
                    return None
                continue
            direct = index_value(pat, {"T": self.T})
            if direct is not None:
                if direct != want:
                    return None
                continue
            letters = set(re.findall(r"[A-Za-z]", pat)) - {"T"} - set(binding)
            if len(letters) != 1:
                value = index_value(pat, {"T": self.T, **binding})
                if value != want:
                    return None
                continue
            letter = letters.pop()
            for guess in range(-2, self.T + 3):
                if index_value(pat, {"T": self.T, **binding, letter: guess}) == want:
                    binding[letter] = guess
                    break
            else:
                return None
        return binding

    # -- the tree

    def total(self, parsed: Parsed, bound: dict[str, int]) -> Any:
        """The value of a right-hand side: its terms with their signs."""
        out = None
        for sign, parts in parsed:
            v = self.value(*parts[0], bound)
            for tree, ph in parts[1:]:
                v = _times(v, self.value(tree, ph, bound))
            v = v if sign > 0 else _times(-1, v)
            out = v if out is None else out + v
        return out

    def value(self, tree: sp.Basic, ph: Placeholders, bound: dict[str, int]) -> Any:
        ev = self.value
        if isinstance(tree, sp.Symbol):
            name = tree.name
            if name in ph.names:
                return self.symbol(ph.names[name], bound)
            if name in ph.cases:
                return self._cases(ph.cases[name], bound)
            if tree.name in bound:
                return bound[tree.name]
            if tree.name == "e":
                return self.ctx.e
            if tree.name == "pi":
                return self.ctx.pi
            if name in ph.functions:  # \operatorname{sech}^2(x): the parser took the name for a symbol
                f = ph.functions[name]
                raise ReadError(f"the function {f} with a power before its argument ({f}^2(x)) is not read as "
                                f"a function; write ({f}(x))^2")
            raise ReadError(f"an unknown symbol {tree.name!r} in a printed formula")
        if tree is sp.pi:
            return self.ctx.pi
        if tree is sp.E:
            return self.ctx.e
        if isinstance(tree, sp.Integer):
            return int(tree)
        if isinstance(tree, sp.Rational):
            return self.ctx.mpf(tree.p) / tree.q
        if isinstance(tree, sp.Float):
            return self.ctx.mpf(str(tree))
        if isinstance(tree, sp.Add):
            total = ev(tree.args[0], ph, bound)
            for arg in tree.args[1:]:
                total = total + ev(arg, ph, bound)
            return total
        if isinstance(tree, sp.Mul):
            out = ev(tree.args[0], ph, bound)
            for arg in tree.args[1:]:
                out = _times(out, ev(arg, ph, bound))
            return out
        if isinstance(tree, sp.Pow) and isinstance(tree.args[0], sp.Function) \
                and type(tree.args[0]).__name__ in ph.names:
            # w (sech a)^2 is w·(sech a)², as people read it: the parser made w a function applied to the
            # bracket and squared the call, (w·sech a)²
            call, exp = tree.args
            out = self.symbol(ph.names[type(call).__name__], bound)
            for arg in call.args:
                out = _times(out, ev(sp.Pow(arg, exp, evaluate=False), ph, bound))
            return out
        if isinstance(tree, sp.Pow):
            base, exp = tree.args
            if isinstance(exp, sp.Symbol) and exp.name == "top":
                return _transpose(ev(base, ph, bound))
            b, e = ev(base, ph, bound), ev(exp, ph, bound)
            if isinstance(b, np.ndarray) or isinstance(e, np.ndarray):  # a power of a vector: entrywise
                return np.vectorize(self.ctx.power, otypes=[object])(b, e)
            return self.ctx.power(b, e)
        if isinstance(tree, (sp.Sum, sp.Product)):  # SymPy folds Σ_k Σ_j f into one Sum, limits inner first
            return self._big(isinstance(tree, sp.Sum), tree.args[0], tree.args[1:], ph, bound)
        if isinstance(tree, sp.Function):
            return self._call(tree, ph, bound)
        if isinstance(tree, sp.Derivative):
            raise ReadError("a derivative inside a printed right-hand side")
        if isinstance(tree, (sp.logic.boolalg.Boolean, sp.core.relational.Relational)):
            raise ReadError("a second '=' (or a comparison) in one row: write one equation per row")
        if isinstance(tree, sp.Integral):
            raise ReadError("an integral, which no BPTT gradient has")
        raise ReadError(f"cannot evaluate {type(tree).__name__} in a printed formula")

    def _big(self, is_sum: bool, body: sp.Basic, limits: tuple, ph: Placeholders, bound: dict[str, int]) -> Any:
        """A sum or product over its limits (the last is the outermost; an inner limit may read an outer
        index, as in Σ_{k=1}^{T} Σ_{j=1}^{k}); an empty range gives 0 or 1; more than MAX_RANGE values of
        an index are refused before the first is evaluated."""
        if not limits:
            return self.value(body, ph, bound)
        index, lo, hi = limits[-1]
        first, last = int(self.value(lo, ph, bound)), int(self.value(hi, ph, bound))
        if last - first + 1 > MAX_RANGE:
            raise ReadError(f"a {'sum' if is_sum else 'product'} over {last - first + 1:,} values of {index}, "
                            f"more than the {MAX_RANGE:,} it evaluates one by one (its limits run over steps)")
        acc = None
        for i in range(first, last + 1):
            term = self._big(is_sum, body, limits[:-1], ph, {**bound, index.name: i})
            acc = term if acc is None else (acc + term if is_sum else _times(acc, term))
        if acc is None:
            return 0 if is_sum else 1
        return acc

    def _call(self, tree: sp.Basic, ph: Placeholders, bound: dict[str, int]) -> Any:
        name = type(tree).__name__
        args = [self.value(a, ph, bound) for a in tree.args]
        if name in ph.names or name in ("e", "pi"):  # juxtaposition read as a call: w(1 - h^2) is w·(1 - h^2),
            # and e (1 - z^2), Euler's number beside a parenthesis, e·(1 - z^2)
            out = self.symbol(ph.names[name], bound) if name in ph.names else (self.ctx.e if name == "e"
                                                                                 else self.ctx.pi)
            for a in args:
                out = _times(out, a)
            return out
        fname = ph.functions.get(name, name)
        ctx = self.ctx
        if fname == "diag":
            v = args[0]
            flat = list(v.reshape(-1)) if isinstance(v, np.ndarray) else [v]
            out = np.zeros((len(flat), len(flat)), dtype=object)
            out[:] = ctx.mpf(0)
            for i, x in enumerate(flat):
                out[i, i] = x
            return out
        scalar = {"tanh": ctx.tanh, "exp": ctx.exp, "sin": ctx.sin, "cos": ctx.cos, "sinh": ctx.sinh,
                  "cosh": ctx.cosh, "erf": ctx.erf, "atan": ctx.atan, "sqrt": ctx.sqrt, "sech": ctx.sech,
                  "Abs": abs, "sign": ctx.sign, "log": ctx.log,
                  "sigma": lambda a: 1 / (1 + ctx.exp(-a)), "sigmoid": lambda a: 1 / (1 + ctx.exp(-a)),
                  "H": lambda a: ctx.mpf(1) if a > 0 else ctx.mpf(0),
                  "theta": lambda a: ctx.mpf(1) if a > 0 else ctx.mpf(0)}
        if fname == "max":
            return max(args)
        if fname == "min":
            return min(args)
        if fname == "log" and len(args) == 2:
            return ctx.log(args[0]) / ctx.log(args[1])
        if fname in scalar and len(args) == 1:
            f = scalar[fname]
            a = args[0]
            return np.vectorize(f, otypes=[object])(a) if isinstance(a, np.ndarray) else f(a)
        raise ReadError(f"an unknown function {fname!r} in a printed formula")

    def _cases(self, branches: list[tuple[str, str]], bound: dict[str, int]) -> Any:
        """A ``cases`` block, entry by entry when its conditions are about vectors: the first branch
        whose condition holds."""
        values, conds = [], []
        for value, cond in branches:
            values.append(self._parsed(value, bound))
            if cond.strip() in (r"\text{otherwise}", "otherwise"):
                conds.append(True)
                continue
            m = re.match(r"(.*?)(\\geq|\\leq|>|<|=|\\neq)(.*)$", cond)
            if not m:
                raise ReadError(f"cannot read the condition {cond!r}")
            a, b = self._parsed(m.group(1), bound), self._parsed(m.group(3), bound)
            test = {r"\geq": lambda x, y: x >= y, r"\leq": lambda x, y: x <= y, ">": lambda x, y: x > y,
                    "<": lambda x, y: x < y, "=": lambda x, y: x == y, r"\neq": lambda x, y: x != y}[m.group(2)]
            conds.append(np.vectorize(test, otypes=[bool])(a, b) if isinstance(a, np.ndarray) else test(a, b))
        shape = next((np.shape(c) for c in conds if isinstance(c, np.ndarray)), None)
        if shape is None:
            return next(v for v, c in zip(values, conds, strict=True) if c)
        out = np.empty(shape, dtype=object)
        for idx in np.ndindex(shape):
            for v, c in zip(values, conds, strict=True):
                if c is True or (isinstance(c, np.ndarray) and c[idx]):
                    out[idx] = v[idx] if isinstance(v, np.ndarray) else v
                    break
        return out

    def _parsed(self, text: str, bound: dict[str, int]) -> Any:
        return self.total(parse(text), bound)


def _times(a: Any, b: Any) -> Any:
    for x in (a, b):  # a printed 0 (a zero vector written as 0) makes the product 0 whatever its shape
        if not isinstance(x, np.ndarray) and x == 0:
            return 0
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        if a.shape[-1] == b.shape[0]:
            return a @ b
        if a.shape == (1, 1) or b.shape == (1, 1) or a.shape == b.shape and a.shape[1] == 1:
            return a * b  # a 1×1 factor, or two vectors side by side: the only product defined is entrywise
        raise ReadError(f"a product of a {a.shape} and a {b.shape} matrix")
    return a * b


def _transpose(a: Any) -> Any:
    return a.T if isinstance(a, np.ndarray) else a


__all__ = ["Reader"]
