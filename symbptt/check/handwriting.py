"""Handwriting read into the project's notation: what `symbptt verify` does to a formula before SymPy's
LaTeX parser reads it (W or w for a scalar model, ``\\bigl(``, ``\\,``, ``^T`` limits, σ' and tanh' written out
with the model's activation), and the model a formula is about.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sympy as sp

from ..printing import latex
from ..validate import VERIFY_MAX_T
from .mistakes import VerifyError, _balanced

MAX_DEPTH = 60  # nested brackets
MAX_RANGE = 1000  # terms of one sum or product
MAX_T = VERIFY_MAX_T

_SPACING = re.compile(r"\\[,;:!](?![A-Za-z])|\\q?quad(?![A-Za-z])|\\displaystyle|\\limits")
_BIG_OPEN = re.compile(r"\\(?:big|Big|bigg|Bigg)l?(?=[(\[])")
_BIG_CLOSE = re.compile(r"\\(?:big|Big|bigg|Bigg)r?(?=[)\]])")
_LIMIT = re.compile(r"(\\(?:sum|prod)_\{[^{}]*\})\^([A-Za-z0-9])")
_LOWER = re.compile(r"\\(sum|prod)_([a-z])=([A-Za-z0-9+\-]+?)(?=\^)")


def _inner(group: str) -> str:
    if group.startswith(r"\left("):
        return group[6:-7]
    return group[1:-1]


def replace_calls(text: str, head: str, make: Callable[[str], str]) -> str:
    """Every ``head(arg)`` (or ``head\\left(arg\\right)``, ``head{arg}``) replaced by ``make(arg)``."""
    out: list[str] = []
    i = 0
    while True:
        j = text.find(head, i)
        if j < 0:
            return "".join(out) + text[i:]
        k = j + len(head)
        if text.startswith(r"\left(", k) or text.startswith("(", k):
            end = _balanced(text, k)
            arg = _inner(text[k:end])
        elif text.startswith("{", k):
            depth, end = 0, k
            for end in range(k, len(text)):
                depth += {"{": 1, "}": -1}.get(text[end], 0)
                if depth == 0:
                    break
            arg, end = text[k + 1:end], end + 1
        else:
            out.append(text[i:k])
            i = k
            continue
        out.append(text[i:j] + make(arg))
        i = end


@dataclass(frozen=True)
class Model:
    """The network a formula is about (the usual model options)."""

    cell: str = "rnn"
    n: int = 1
    m: int = 1
    layers: int = 1
    activation: str | None = None
    loss: str = "last"

    def spec(self) -> Any:
        """The cell (its equations and facts)."""
        from ..activations import get_activation
        from ..cells import get_cell

        return get_cell(self.cell, get_activation(self.activation or "tanh"))

    def describe(self) -> str:
        act = f" {self.activation or 'tanh'}" if self.spec().uses_activation else ""
        return (f"{self.cell}{act}, n = {self.n}, m = {self.m}, {self.layers} layer"
                f"{'s' if self.layers > 1 else ''}, loss {self.loss}")


def activation_tex(model: Model) -> tuple[Callable[[str], str], Callable[[str], str]]:
    """LaTeX of σ(arg) and σ'(arg): the vanilla cell's activation, the logistic function for gates."""
    if not model.spec().uses_activation:  # σ in a gated cell's equations is the logistic function
        return (lambda z: rf"\frac{{1}}{{1 + e^{{-\left({z}\right)}}}}",
                lambda z: rf"\frac{{e^{{-\left({z}\right)}}}}{{\left(1 + e^{{-\left({z}\right)}}\right)^{{2}}}}")
    from ..activations import get_activation
    from ..safeexpr import A

    act = get_activation(model.activation or "tanh")
    slot = sp.Symbol("XARGX")

    logistic = type(get_activation("sigmoid").sigma_plain)

    def written(expr: sp.Expr) -> str:  # in functions SymPy's parser reads: no σ, no Heaviside
        expr = expr.subs(A, slot).replace(logistic, lambda x: 1 / (1 + sp.exp(-x)))
        expr = expr.replace(sp.Heaviside, lambda x, *_: sp.Piecewise((1, x > 0), (0, True)))
        return latex(expr)

    sigma, dsigma = written(act.sigma_plain), written(act.dsigma_plain)
    return (lambda z: r"\left(" + sigma.replace("XARGX", f"\\left({z}\\right)") + r"\right)",
            lambda z: r"\left(" + dsigma.replace("XARGX", f"\\left({z}\\right)") + r"\right)")


def from_text(formula: str) -> str:
    """A formula in the text notation (what `derive --format text` prints: ``∂L/∂w = (h_2 - y)*w*…``,
    ``delta_1 = J_2.T@delta_2``, one equation per line, # comments) in LaTeX for the reader; LaTeX (any
    backslash) is returned as it is."""
    if "\\" in formula:
        return formula
    rows: list[str] = []
    for raw in formula.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if rows and (raw[:1].isspace() or "=" not in line):  # a long equation goes on, indented
            line = rows.pop() + " " + line
        line = re.sub(r"∂L/∂\s*([^=\s]+)(?=\s*=)", r"\\frac{\\partial L}{\\partial \1}", line)
        line = re.sub(r"\^\((\d+)\)", r"^{(\1)}", line)  # a layer: h^(2)
        line = re.sub(r"_\(([^()]*)\)", r"_{\1}", line)  # a step written with brackets: h_(t-1)
        line = re.sub(r"(?<![A-Za-z\\])delta(?![A-Za-z])", r"\\delta", line)
        line = re.sub(r"\bdiag\(", r"\\operatorname{diag}(", line)
        line = re.sub(r"\.T\b", r"^{\\top}", line)
        line = re.sub(r"\*\*\s*(\d+|[A-Za-z]\w*)", r"^{\1}", line)
        line = line.replace("@", r" \cdot ").replace("*", r" \cdot ")
        rows.append(line)
    return r" \\ ".join(rows)


def raw_rows(formula: str) -> list[str]:
    """The rows of the formula as written (split at ``\\\\``, math delimiters and environments removed)."""
    text = from_text(formula).strip().strip("$").strip()
    text = re.sub(r"^\\\[|\\\]$", "", text).strip()
    text = re.sub(r"\\(?:begin|end)\{(?:equation|align|gather)\*?\}", "", text).strip()
    return [row.strip() for row in re.split(r"\\\\", text) if row.strip()]


def read_rows(formula: str, model: Model) -> list[tuple[str, str]]:
    """Each row of the formula as (lhs, rhs) in the project's notation."""
    return [split(normalise(row, model)) for row in raw_rows(formula)]


def _check_brackets(text: str) -> None:
    """Parentheses and braces balanced, else one line naming where the first one goes wrong."""
    stack: list[tuple[str, int]] = []
    pairs = {")": "(", "}": "{", "]": "["}
    for i, ch in enumerate(text):
        if ch in "({[" and not text.startswith("\\{", i - 1):
            stack.append((ch, i))
            if len(stack) > MAX_DEPTH:
                raise VerifyError(f"brackets nested more than {MAX_DEPTH} deep at character {i + 1}")
        elif ch in ")}]":
            if not stack or stack[-1][0] != pairs[ch]:
                raise VerifyError(f"an unmatched '{ch}' at character {i + 1}: …{text[max(0, i - 20):i + 1]}")
            stack.pop()
    if stack:
        ch, i = stack[-1]
        raise VerifyError(f"an unclosed '{ch}' at character {i + 1}: {text[i:i + 30]}…")


def normalise(row: str, model: Model) -> str:
    """One row of the formula in the project's notation, ready for the reader (see the module's
    docstring)."""
    text = row.strip()
    _check_brackets(text)
    text = text.replace("−", "-").replace("·", r"\cdot ").replace("⊙", r"\cdot ").replace(r"\odot", r"\cdot")
    text = text.replace("&", "")
    text = re.sub(r"\\[dt]frac(?![A-Za-z])", r"\\frac", text)  # display and text sizes of a fraction
    # bold or arrowed vectors (\mathbf{h}_t, \boldsymbol{\delta}_t, \vec{x}_t) and a calligraphic loss
    # (\mathcal{L}) are the plain symbols in another typeface
    text = re.sub(r"\\(?:mathbf|boldsymbol|bm|vec|mathcal)\s*(?:\{\s*(\\?[A-Za-z]+)\s*\}|(\\[A-Za-z]+))",
                  lambda m: m.group(1) or m.group(2), text)
    text = _SPACING.sub(" ", text)
    text = _BIG_OPEN.sub(r"\\left", text)
    text = _BIG_CLOSE.sub(r"\\right", text)
    text = text.replace(r"\left[", r"\left(").replace(r"\right]", r"\right)")
    text = _LOWER.sub(lambda m: rf"\{m.group(1)}_{{{m.group(2)}={m.group(3)}}}", text)
    text = _LIMIT.sub(r"\1^{\2}", text)
    text = re.sub(r"\\mathrm\{d\}\s*|(?<![A-Za-z\\])d(?=[Lwhb]\b|[LWUwub]_)", r"\\partial ", text)
    text = re.sub(r"^\\partial\s*L\s*/\s*\\partial\s*(.+?)\s*=", r"\\frac{\\partial L}{\\partial \1} =", text)
    text = re.sub(r"\\frac\{\\partial\s+L\}\{\\partial\s+", r"\\frac{\\partial L}{\\partial ", text)
    sigma, dsigma = activation_tex(model)
    text = re.sub(r"\^\s*\{?\\prime\}?", "'", text)  # σ^\prime (what a shell's single quotes allow) is σ'
    for head, make in ((r"\sigma'", dsigma), (r"\tanh'", _dtanh), (r"\sigma", sigma)):
        text = replace_calls(text, head, make)
    if "'" in text:  # σ'' or w': a prime the parser would drop, reading w' as w
        m = re.search(r"(\\?[A-Za-z]+(?:_\{[^{}]*\}|_\w)?)?\s*('+)", text)
        shown = (m.group(1) or "") + m.group(2) if m else "'"
        raise VerifyError(f"verify cannot read the prime in {shown}: it reads σ'(a) and tanh'(a) as the "
                          "activation's derivative; write other derivatives out")
    text = re.sub(r"\^\s*\\top\b", r"^{\\top}", text)
    if model.n > 1:  # for matrices ^T and ^{T} are transposes (for one unit they would be powers)
        text = re.sub(r"(\\(?:sum|prod)_\{[^{}]*\})?(?<=[A-Za-z}\)])\^\s*(?:T\b|\{T\})",
                      lambda m: m.group(0) if m.group(1) else r"^{\top}", text)
    # (X)^⊤ of a single symbol, as the reader writes it: {X}^{⊤}
    text = re.sub(r"(?:\\left\(|\()\s*((?:\\[A-Za-z]+|[A-Za-z])(?:\^\{[^{}]*\})?(?:_\{[^{}]*\}|_[A-Za-z0-9])?"
                  r"(?:\^\{[^{}]*\})?)\s*(?:\\right\)|\))\^\{\\top\}", r"{\1}^{\\top}", text)
    if model.n == 1:  # one unit: W and w are the same weight
        text = re.sub(r"(?<![\\A-Za-z])([WU])(?![A-Za-z])", lambda m: m.group(1).lower(), text)
    text = re.sub(r"\s+", " ", text).strip()
    _check_ranges(text)
    return text


def _check_ranges(text: str) -> None:
    """Every sum and product with literal limits runs over at most MAX_RANGE terms (T counts as MAX_T)."""
    for m in re.finditer(r"\\(sum|prod)_\{[a-z]=([^{}]*)\}\^\{([^{}]*)\}", text):
        ends = []
        for limit in (m.group(2), m.group(3)):
            limit = limit.replace("T", str(MAX_T)).replace(" ", "")
            ends.append(int(limit) if re.fullmatch(r"-?\d{1,12}", limit) else None)
        low, high = ends
        if low is not None and high is not None and high - low >= MAX_RANGE:
            raise VerifyError(f"the {m.group(1)} over {m.group(2)}..{m.group(3)} has {high - low + 1} terms; "
                              f"verify evaluates at most {MAX_RANGE} (write it for general T)")


def _dtanh(z: str) -> str:
    return rf"\left(1 - \tanh^{{2}}{{\left({z} \right)}}\right)"


def split(text: str) -> tuple[str, str]:
    """(lhs, rhs) at the first '=' outside braces."""
    depth = 0
    for i, ch in enumerate(text):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if ch == "=" and depth == 0:
            return text[:i].strip(), text[i + 1:].strip()
    raise VerifyError("the formula has no '=': write it as lhs = rhs, e.g. "
                      r"'\frac{\partial L}{\partial w} = \sum_{k=1}^{T} …'")
