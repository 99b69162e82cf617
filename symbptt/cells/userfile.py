"""A cell the user writes: a TOML file with the state variables, the parameters and one expression per
intermediate and per new state.  Every expression goes through the whitelist parser of safeexpr.py
(never ``eval`` or ``sympify``); on the right-hand side a state name means its previous value.

    name = "mgu"                       # optional; the file name otherwise
    title = "minimal gated unit"       # optional
    states = ["h"]                     # h is the output, read by the loss and the layer above
    params = ["w_f", "u_f", "b_f", "w_n", "u_n", "b_n"]

    [intermediates]
    f = "sigmoid(w_f*h + u_f*x + b_f)"
    n = "tanh(w_n*(f*h) + u_n*x + b_n)"

    [update]
    h = "(1 - f)*h + f*n"

Without [shapes] a file cell is scalar (n = 1, one input x); with [shapes] its parameters are vectors
and matrices and ``@`` is the matrix product (cells/vectorfile.py), at any n.  The initial states are
the parameters h0 (and c0, …).
Names follow a grammar per kind (see ``RULES``) so that every printed symbol is distinct and none is
one the notation already uses.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from ..errors import SymbpttError
from ..safeexpr import CONSTANTS, FUNCTIONS, parse_expression, shown
from .base import INPUT, Cell, prev, unit
from .vectorfile import MATRIX, declared_shapes, parse_vector_expressions, vector_cell

KEYS = {"name", "title", "states", "params", "intermediates", "update", "shapes"}
# What each kind of name may look like.  Printed names are built from these (h_t, f_t, w_f, and route
# tags such as D^{hwf}_t that join a state letter and a parameter name), so the grammar keeps every
# printed name readable and distinct, and never equal to a symbol the notation itself uses.
STATE = re.compile(r"^[a-z]$")
INTERMEDIATE = re.compile(r"^[a-z]{1,8}$")
PARAM = re.compile(r"^(?P<base>[a-z]{1,8})(_[a-z][a-z0-9]{0,3})?$")
# The notation's own symbols: input x, target y, pre-activation a, step and index letters, Euler's e,
# Greek names, and the node letters of the built-in cells (a parameter base equal to one of these would
# print like a state or gate).
NOTATION = {INPUT, "y", "a", "e", "t", "k", "j", "s", "delta", "sigma", "gamma", "theta", "lambda"}
BUILTIN_PARAMS = {"w", "u", "b"}
BUILTIN_NODES = {"h", "c", "f", "i", "g", "o", "z", "r", "n"}
MAX_FILE = 64 * 1024
MAX_NAMES = 24


def load_cell_file(path: str | Path) -> Cell:
    """Read, validate and build a user cell; every problem is a one-line SymbpttError naming it."""
    from ..output import read_text_file

    text = read_text_file(path, "cell file", MAX_FILE)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc).replace("Cannot overwrite a value", "a name is defined twice")
        raise SymbpttError(f"cell file {path}: not valid TOML ({message})") from None
    return build_cell(data, str(path))


def _names(data: dict, key: str, where: str, matrices: bool = False) -> list[str]:
    value = data.get(key)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise SymbpttError(f"{where}: {key!r} must be a non-empty list of names")
    if len(value) > MAX_NAMES:
        raise SymbpttError(f"{where}: {key!r} has more than {MAX_NAMES} names")
    for name in value:
        if matrices and MATRIX.match(name):  # a file with [shapes]: W, U_f are weight matrices
            continue
        _check_name(name, "state" if key == "states" else "parameter", where)
    if len(set(value)) != len(value):
        raise SymbpttError(f"{where}: {key!r} names something twice")
    return value


RULES = {
    "state": (STATE, "a state is one lower-case letter"),
    "intermediate": (INTERMEDIATE, "an intermediate is 1-8 lower-case letters"),
    "parameter": (PARAM, "a parameter is 1-8 lower-case letters with an optional _suffix "
                         "that starts with a letter, e.g. w_f"),
}


def _check_name(name: str, kind: str, where: str) -> None:
    """Refuse a name that does not fit its kind's grammar or that the notation already uses."""
    grammar, rule = RULES[kind]
    match = grammar.match(name)
    if not match:
        raise SymbpttError(f"{where}: {shown(name)} is not an allowed {kind} name ({rule})")
    base = match.groupdict().get("base", name)
    reserved = NOTATION | set(FUNCTIONS) | set(CONSTANTS)
    reserved |= BUILTIN_NODES if kind == "parameter" else BUILTIN_PARAMS
    if base in reserved or base.startswith("prev"):
        raise SymbpttError(f"{where}: {kind} name {shown(name)} is reserved by the notation (reserved: "
                           f"{', '.join(sorted(NOTATION))}, function names, and "
                           + ("the built-in cells' state and gate letters "
                              f"{', '.join(sorted(BUILTIN_NODES))})" if kind == "parameter"
                              else "the parameter letters w, u, b)"))


def _check_roles(states: list[str], params: list[str], inter: dict, where: str) -> None:
    """A parameter's base is never a state or intermediate name (w_f and an intermediate w would both
    print as w_…), and parameter names stay distinct once their underscore is dropped (route tags)."""
    bases = {m["base"]: p for p in params if (m := PARAM.match(p))}
    for name in [*states, *inter]:
        if name in bases:
            raise SymbpttError(f"{where}: {name!r} names a state or intermediate and is the base of "
                               f"parameter {bases[name]!r}; rename one")
    joined: dict[str, str] = {}
    for p in params:
        other = joined.setdefault(p.replace("_", ""), p)
        if other != p:
            raise SymbpttError(f"{where}: parameters {other!r} and {p!r} print alike; rename one")


def _table(data: dict, key: str, where: str) -> dict[str, str]:
    value = data.get(key, {})
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise SymbpttError(f"{where}: [{key}] must map names to expressions in quotes")
    for name in value:
        _check_name(name, "intermediate", where)
    return value


def build_cell(data: dict, where: str) -> Cell:
    unknown = sorted(set(data) - KEYS)
    if unknown:
        raise SymbpttError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(KEYS))})")
    shaped = "shapes" in data
    states, params = _names(data, "states", where), _names(data, "params", where, matrices=shaped)
    if states[0] != "h":
        if "h" not in states:
            raise SymbpttError(f"{where}: the states must include h (the output the loss reads)")
        states.remove("h")
        states.insert(0, "h")
    inter, update = _table(data, "intermediates", where), _table(data, "update", where)
    _check_roles(states, params, inter, where)
    clash = (set(states) & set(params)) | (set(inter) & (set(states) | set(params)))
    if clash:
        raise SymbpttError(f"{where}: {sorted(clash)[0]!r} is defined twice (state, parameter or intermediate)")
    missing = [s for s in states if s not in update]
    if missing:
        raise SymbpttError(f"{where}: [update] has no expression for state {missing[0]!r}")
    extra = [s for s in update if s not in states]
    if extra:
        raise SymbpttError(f"{where}: [update] defines {extra[0]!r}, which is not a state")
    kinds = declared_shapes(data, params, where) if shaped else {}
    if shaped:
        texts = {k: (v, f"{where}: [intermediates] {k} =") for k, v in inter.items()}
        texts |= {f"update {s}": (update[s], f"{where}: [update] {s} =") for s in states}
        parsed = parse_vector_expressions(texts, states, list(inter), kinds)
        exprs = {k: parsed[k] for k in inter}
        updates = {s: parsed[f"update {s}"] for s in states}
    else:
        names = {INPUT: unit(INPUT)} | {s: prev(s) for s in states} | {p: unit(p) for p in params}
        names |= {k: unit(k) for k in inter}
        exprs = {k: parse_expression(v, names, f"{where}: [intermediates] {k} =") for k, v in inter.items()}
        updates = {s: parse_expression(update[s], names, f"{where}: [update] {s} =") for s in states}
    order = _topological(exprs, where)
    reached = {k for k in exprs if any(unit(k) in e.free_symbols for e in updates.values())}
    for k in reversed(order):  # an intermediate is read if one that is read uses it (order: users last)
        if k in reached:
            reached |= {j for j in exprs if unit(j) in exprs[k].free_symbols}
    dead = [k for k in order if k not in reached]
    if dead:
        raise SymbpttError(f"{where}: intermediate {dead[0]!r} is not read by any [update] expression (directly or "
                           "through another intermediate)")
    used = {s.name.removeprefix("matrix_") if s.name.startswith("matrix_") else s
            for e in [*exprs.values(), *updates.values()] for s in e.free_symbols}
    unused = [p for p in params if unit(p) not in used and p not in used]
    if unused:
        raise SymbpttError(f"{where}: parameter {unused[0]!r} is not used by any expression")
    reads = {k for k in order if exprs[k].free_symbols & {prev(s) for s in states}}
    for k in order:  # an intermediate reads the state if it uses one that does
        if any(unit(j) in exprs[k].free_symbols for j in reads):
            reads.add(k)
    if not any(e.free_symbols & ({prev(s) for s in states} | {unit(k) for k in reads}) for e in updates.values()):
        raise SymbpttError(f"{where}: no [update] expression reads a previous state (write h on a right-hand "
                           "side); without it nothing flows back through time")
    title = data.get("title", data.get("name", Path(where).stem))
    name = data.get("name", Path(where).stem)
    if not isinstance(title, str) or not isinstance(name, str) or len(title) > 60 or len(name) > 30:
        raise SymbpttError(f"{where}: 'name' and 'title' must be short strings")
    if any(not ch.isprintable() for ch in title + name):
        raise SymbpttError(f"{where}: 'name' and 'title' must be printable text (no control characters)")
    wide = next((ch for ch in title + name if ord(ch) > 0xFF), None)
    if wide is not None:  # pdflatex and the figures' font show Latin-1 (ASCII and Western accents) only
        raise SymbpttError(f"{where}: 'name' and 'title' may use ASCII and Latin-1 letters only; U+{ord(wide):04X} "
                           "cannot be typeset in the LaTeX document or drawn in the figures")
    if shaped:
        return vector_cell(name, title, states, order, exprs, updates, kinds, where)
    nodes = tuple((k, exprs[k]) for k in order) + tuple((s, updates[s]) for s in states)
    return Cell(name=name, title=title, states=tuple(states), linears=(), nodes=nodes,
                scalar_params=tuple(params), max_hidden=1, max_input=1)


def _topological(exprs: dict, where: str) -> list[str]:
    """Intermediates in an order where each comes after those it uses; a cycle is refused."""
    deps = {k: {s.name for s in e.free_symbols} & set(exprs) for k, e in exprs.items()}
    order: list[str] = []
    while deps:
        ready = sorted(k for k, d in deps.items() if not d - set(order))
        if not ready:
            raise SymbpttError(f"{where}: cyclic definition among intermediates {', '.join(sorted(deps))}")
        order.extend(ready)
        for k in ready:
            del deps[k]
    return order
