"""The known mistakes of hand-written BPTT formulas, each as edits of the formula's text: when one of the
edited formulas equals the gradient, that mistake explains the difference (verify.py names it).

A mistake is a sentence and a function from a formula's right-hand side to its corrected variants:
every single edit in turn (one index, one transpose), then all at once where there are several.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ..errors import SymbpttError
from .reader import terms


class VerifyError(SymbpttError):
    """The formula cannot be read (exit code 2)."""


def _balanced(text: str, start: int) -> int:
    """Index just after the group opened at ``start`` by '(' or '\\left(' (balanced)."""
    depth, i = 0, start
    while i < len(text):
        if text.startswith(r"\left(", i):
            depth, i = depth + 1, i + 6
            continue
        if text.startswith(r"\right)", i):
            depth, i = depth - 1, i + 7
        elif text[i] == "(":
            depth, i = depth + 1, i + 1
        elif text[i] == ")":
            depth, i = depth - 1, i + 1
        else:
            i += 1
            continue
        if depth == 0:
            return i
    raise VerifyError(f"an unclosed parenthesis at {text[start:start + 30]!r}")


def _each(pattern: str, replacement: str) -> Callable[[str], list[str]]:
    """The text with one match of ``pattern`` replaced, for each match in turn (then all at once)."""
    def variants(text: str) -> list[str]:
        matches = list(re.finditer(pattern, text))
        out = [text[:m.start()] + m.expand(replacement) + text[m.end():] for m in matches]
        return out + ([re.sub(pattern, replacement, text)] if len(matches) > 1 else [])
    return variants


def _diag_groups(text: str) -> list[tuple[int, int]]:
    """(start, end) of every ``\\operatorname{diag}(…)`` with its balanced argument."""
    out = []
    for m in re.finditer(r"\\operatorname\{diag\}\s*", text):
        if text.startswith((r"\left(", "("), m.end()):
            out.append((m.start(), _balanced(text, m.end())))
    return out


def _transposed_jacobian(text: str) -> list[str]:
    """diag(σ')·W written as Wᵀ·diag(σ') (or back): the transpose of the Jacobian in place of it."""
    out = []
    for start, end in _diag_groups(text):
        after = re.match(r"(?:\s|\\[,;:!])*(?:\\cdot\s*)?([WU])(?![A-Za-z^_])", text[end:])
        if after:
            out.append(text[:start] + f"{after.group(1)}^{{\\top}} " + text[start:end] + text[end + after.end():])
        before = re.search(r"([WU])\s*\^\s*\{?\\top\}?\s*(?:\\cdot\s*)?$", text[:start])
        if before:
            out.append(text[:before.start()] + text[start:end] + f" {before.group(1)}" + text[end:])
    return out


def _swapped_factors(text: str) -> list[str]:
    """W·diag(σ') written for diag(σ')·W (or diag(σ')·Wᵀ for Wᵀ·diag(σ')): a weight matrix and the diag
    beside it in the other order, each pair in turn."""
    out = []
    for start, end in _diag_groups(text):
        after = re.match(r"(?:\s|\\[,;:!])*(?:\\cdot\s*)?([WU](?:\s*\^\s*\{?\\top\}?)?)(?![A-Za-z^_])", text[end:])
        if after:
            out.append(text[:start] + after.group(1) + " " + text[start:end] + text[end + after.end():])
        before = re.search(r"(?<![\\A-Za-z])([WU](?:\s*\^\s*\{?\\top\}?)?)\s*(?:\\cdot\s*)?$", text[:start])
        if before:
            out.append(text[:before.start()] + text[start:end] + " " + before.group(1) + text[end:])
    return out


_LAYER = r"(\^\{\(\d\)\})?"  # a layer's superscript, h^{(2)}_t: kept as it is


def _state_at(letter: str) -> Callable[[str], list[str]]:
    """h_X (X the index ``letter``) put back to the previous state h_{X−1}, each in turn (a layer's
    superscript kept)."""
    return _each(rf"(?<![\\A-Za-z])h{_LAYER}_(?:\{{{letter}\}}|{letter}(?![A-Za-z0-9]))", rf"h\1_{{{letter}-1}}")


def _step_moved(base: str) -> Callable[[str], list[str]]:
    """``base`` (a, \\delta) one step off, each in turn: a subscript X−1 or X+1 put back to X, and a
    subscript X moved to X−1 (a layer's superscript kept)."""
    head = rf"(?<![\\A-Za-z]){base}{_LAYER}_"
    back, off = _each(rf"{head}\{{([a-z])[-+]1\}}", rf"{base}\1_{{\2}}"), _each(
        rf"{head}(?:\{{([a-z])\}}|([a-z])(?![A-Za-z0-9]))", rf"{base}\1_{{\2\3-1}}")
    return lambda text: [*back(text), *off(text)]


def _weight_put_in(text: str) -> list[str]:
    """The recurrent weight put in where a step's factor starts: after each ∏'s limits and before each
    diag(…), as w for a formula that writes the weight w, else as W^⊤ and as W."""
    weights = ["w"] if re.search(r"(?<![\\A-Za-z])w(?![A-Za-z])", text) else ["W^{\\top}", "W"]
    places = {m.end() for m in re.finditer(r"\\prod_\{[^{}]*\}\^\{[^{}]*\}", text)}
    places |= {start for start, _ in _diag_groups(text)}
    return [f"{text[:at].rstrip()} {weight} {text[at:].lstrip()}" for at in sorted(places) for weight in weights]


def _input_put_in(text: str) -> list[str]:
    """What the parameter multiplies at the step where it enters — h_(k-1), or x_k, each also transposed —
    put at the end of a right-hand side that is one sum over k."""
    m = re.match(r"\s*\\sum_\{([a-z])=[^{}]*\}\^\{[^{}]*\}", text)
    if m is None or len(terms(text)) != 1:
        return []
    k = m.group(1)
    return [f"{text.rstrip()} {factor}" for factor in (f"h_{{{k}-1}}", f"h_{{{k}-1}}^{{\\top}}", f"x_{{{k}}}",
                                                      f"x_{{{k}}}^{{\\top}}")]


_MATRIX_SYMBOL = re.compile(r"(?:\\delta|[hWUJ])(?:\^\{\(\d\)\})?(?:_\{[^{}]*\}|_[A-Za-z0-9])?(?![\^_A-Za-z])")


def _transpose_moved(text: str) -> list[str]:
    """A transpose taken away (each ^{⊤} in turn) or added (after each vector or matrix symbol)."""
    out = [text[:m.start()] + text[m.end():] for m in re.finditer(r"\^\{\\top\}", text)]
    for m in _MATRIX_SYMBOL.finditer(text):
        symbol = m.group()
        out.append(text[:m.start()] + "{" + symbol + "}^{\\top}" + text[m.end():])
    return out


_OPERATOR = re.compile(r"\\(?:prod|sum)_\{[^{}]*\}\^\{[^{}]*\}")
_OPENING = re.compile(r"(?:\\left\(|\()\s*$")


def _group_end(text: str, i: int) -> int:
    """Index just after the brace group opened at ``i``."""
    depth = 0
    for j in range(i, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return j + 1
    raise VerifyError(f"an unclosed brace at {text[i:i + 30]!r}")


def _factor_end(text: str, i: int) -> int | None:
    """Index just after the factor that starts at ``i`` (after spaces and \\cdot), or None at the end of
    the term: a sign, '=', a closing bracket, a row's end, or a sum or product (not followed further)."""
    m = re.match(r"(?:\s|\\cdot(?![A-Za-z])|\\[,;:!])*", text[i:])
    i += m.end() if m else 0
    if i >= len(text) or text[i] in "+-=)}" or text.startswith((r"\right", "\\\\", r"\prod", r"\sum"), i):
        return None
    if text.startswith(r"\left(", i) or text[i] == "(":
        return _balanced(text, i)
    if text[i] == "{":
        j = _group_end(text, i)
    elif text[i] == "\\":
        name = re.match(r"\\[A-Za-z]+", text[i:])
        if name is None:
            return None
        j = i + name.end()
    elif text[i].isdigit():
        j = i + re.match(r"[0-9.]+", text[i:]).end()  # type: ignore[union-attr]
    elif text[i].isalpha():
        j = i + 1
    else:
        return None
    while j < len(text):  # primes, scripts and a command's arguments and call
        if text[j] == "'":
            j += 1
        elif text[j] in "^_":
            command = re.match(r"\\[A-Za-z]+", text[j + 1:])  # ^\prime
            j = (_group_end(text, j + 1) if text.startswith("{", j + 1) else j + 1 + command.end() if command
                 else j + 2)
        elif text[j] == "{" and text[i] == "\\":
            j = _group_end(text, j)
        else:
            break
    if text[i] == "\\":
        call = re.match(r"\s*(?=\\left\(|\()", text[j:])
        if call:
            j = _balanced(text, j + call.end())
    return j


def _unbracketed_scope(text: str) -> list[str]:
    """A ∏ or ∑ written without brackets around it takes every factor after it, to the end of its term:
    the text with brackets closing it after each of those factors but the last, for each such operator."""
    out = []
    for m in _OPERATOR.finditer(text):
        if _OPENING.search(text[:m.start()]):
            continue  # already opened by a bracket: its extent is the writer's
        ends, at = [], m.end()
        while (end := _factor_end(text, at)) is not None:
            ends.append(end)
            at = end
        out += [text[:m.start()] + r"\left(" + text[m.start():end] + r"\right)" + text[end:] for end in ends[:-1]]
    return out


_PRODUCT_OPENED = re.compile(r"(\\left\(|\\[Bb]igg?l\(|\()\s*(\\prod_\{[^{}]*\}\^\{[^{}]*\})")
_CLOSING = re.compile(r"(?:\\right|\\[Bb]igg?r)?\)$")
_TRANSPOSE = re.compile(r"\^\s*(?:\{\\top\}|\\top(?![A-Za-z]))")


def _reversed_order(text: str) -> list[str]:
    """A product of matrices multiplied in the other order: (∏_j F_j)^⊤ becomes ∏_j (F_j)^⊤, and ∏_j F_j
    becomes (∏_j (F_j)^⊤)^⊤ — the factors written left to right with j rising, J_(k+1) ⋯ J_T, where
    ∂h_T/∂h_k = J_T ⋯ J_(k+1) runs the other way.  A product in brackets (\\left(, \\Bigl(, or plain),
    or one that is the whole right-hand side."""
    found = []
    for m in _PRODUCT_OPENED.finditer(text):
        try:
            end = _balanced(text, m.start() if m.group(1) == r"\left(" else m.end(1) - 1)
        except VerifyError:  # a bracket left open: no product to turn (the reader says what is wrong)
            continue
        close = _CLOSING.search(text[:end])
        found.append((m.start(), m.group(2), m.end(2), close.start() if close else end - 1, end))
    whole = re.match(r"\s*(\\prod_\{[^{}]*\}\^\{[^{}]*\})", text)
    if whole and len(terms(text)) == 1:  # one term, as the reader splits them: the product is all of it
        found.append((whole.start(1), whole.group(1), whole.end(1), len(text), len(text)))
    out = []
    for start, operator, body_start, body_end, end in found:
        body = text[body_start:body_end].strip()
        if not body:
            continue
        turned = rf"\left({operator} \left({body}\right)^{{\top}}\right)"
        after = _TRANSPOSE.match(text[end:])
        if after:  # the transpose taken into the product
            out.append(text[:start] + turned + text[end + after.end():])
        else:
            out.append(text[:start] + turned + r"^{\top}" + text[end:])
    return out


# (a short name for the list of what was tried, the diagnosis in words, the changes that would mend it)
MISTAKES: list[tuple[str, str, Callable[[str], list[str]]]] = [
    ("a product or sum without brackets",
     "a product or sum without brackets takes every factor after it, to the end of its term (as SymPy's "
     "parser reads it, and as a reader may): bracket it where it ends, \\left(\\prod_{j=k+1}^{T} … \\right)",
     _unbracketed_scope),
    ("a transposed Jacobian",
     "the Jacobian is transposed: ∂h_t/∂h_(t-1) = diag(σ'(a_t)) W, and δ flows back through its transpose "
     "W^T diag(σ'(a_t))", _transposed_jacobian),
    ("a missing or misplaced transpose",
     "a transpose is missing or misplaced", _transpose_moved),
    ("a weight matrix and diag(σ') in the other order",
     "the factors are in the other order: ∂h_t/∂h_(t-1) = diag(σ'(a_t)) W (each unit's σ' scales its row "
     "of W), and δ flows back through W^T diag(σ'(a_t))", _swapped_factors),
    ("a product range off by one",
     "the product's range is off by one: it starts at j=k+1 (the step after k), not at j=k",
     _each(r"\\prod_\{([a-z])=([a-z])\}", r"\\prod_{\1=\2+1}")),
    ("a product range off by one",
     "the product's range is off by one: it starts at j=k, not at j=k+1",
     _each(r"\\prod_\{([a-z])=([a-z])\+1\}", r"\\prod_{\1=\2}")),
    ("a product range running downwards",
     "the product's limits run downwards: ∏_{j=T}^{k+1} counts j up from T, so it is empty wherever k+1 < T; "
     "the steps are j = k+1..T, written ∏_{j=k+1}^{T}, whatever order the factors are multiplied in",
     _each(r"\\prod_\{([a-z])=([^{}]*)\}\^\{([^{}]*)\}", r"\\prod_{\1=\3}^{\2}")),
    ("a product of matrices in reverse order",
     "the product's factors multiply in the reverse order: written left to right with j rising, "
     "∏_{j=k+1}^{T} J_j is J_(k+1) ⋯ J_T, while ∂h_T/∂h_k = J_T ⋯ J_(k+1); the product of the transposed "
     "factors, ∏_{j=k+1}^{T} J_j^⊤, is its transpose", _reversed_order),
    ("h_k for h_(k-1)",
     "h_k is written where h_(k-1) belongs (the weight multiplies the previous state)",
     _state_at("k")),
    ("h_(k-1) for h_k",
     "h_(j-1) is written where h_j belongs: the step's own state, one step later",
     _each(rf"(?<![\\A-Za-z])h{_LAYER}_\{{([a-z])-1\}}", r"h\1_{\2}")),
    ("h_t for h_(t-1)",
     "h_t is written where h_(t-1) belongs (the weight multiplies the previous state)",
     _state_at("t")),
    ("a σ' at the wrong step",
     "σ' is taken at the wrong step: the factor of step j is σ'(a_j), of the pre-activation at that step",
     _step_moved("a")),
    ("a δ at the wrong step",
     "δ is taken at the wrong step: the term of step t reads δ_t, and δ_(t-1) is made from δ_t",
     _step_moved(r"\\delta")),
    ("a weight left out",
     "a weight is left out: each step back multiplies by the recurrent weight beside its σ' (w σ'(a_j) for one "
     "unit; W^T diag(σ'(a_t)) in the δ recursion, diag(σ'(a_t)) W in a Jacobian)", _weight_put_in),
    ("the entry step's input left out",
     "the input of the step where the parameter enters is left out: each term ends with what the parameter "
     "multiplies there (h_(k-1) for the recurrent weight, x_k for the input weight)", _input_put_in),
    ("h_(k-1) for x_k",
     "h_(k-1) is written where x_k belongs: the input weight multiplies the input at the step where it enters",
     _each(r"(?<![\\A-Za-z])h_\{([a-z])-1\}", r"x_{\1}")),
    ("tanh' without its square",
     "tanh'(a) = 1 - tanh²(a) = 1 - h²: the square is missing",
     _each(r"\(\s*1\s*-\s*h_(\{[^{}]*\}|[A-Za-z0-9])\s*\)", r"(1 - h_\1^{2})")),
    ("the sign of the error",
     "the sign of the error is flipped: the error is h_T - y, not y - h_T",
     _each(r"\(\s*y(_\{?[A-Za-z0-9+-]+\}?)?\s*-\s*h(_\{?[A-Za-z0-9+-]+\}?)\s*\)", r"(h\2 - y\1)")),
    ("the sign of the error",
     "the sign of the whole gradient is flipped (is the error y - h where it should be h - y?)",
     lambda r: [rf"-\left({r}\right)"]),
    ("the 1/2 of the loss",
     "the loss convention: the 1/2 of L = 1/2 (h_T - y)^2 cancels the square's 2; this formula carries an "
     "extra factor 2", lambda r: [rf"\frac{{1}}{{2}}\left({r}\right)"]),
    ("the 1/2 of the loss",
     "the loss convention: the 1/2 of L = 1/2 (h_T - y)^2 cancels the square's 2; this formula keeps a "
     "factor 1/2", lambda r: [rf"2\left({r}\right)"]),
]


MISSING_SIGMA_NAME = "a σ' left out"  # tried for one unit (see verify._mistakes)
POWER_NAME = "a power of the weight for the product"  # one unit too
MISSING_DIAG_NAME = "a diag(σ') left out"  # the same for n units
PATHS_NAME = "a group of paths left out"  # missing.missing_paths, jacobian.direct_only and blocks_only


MATRICES_ONLY = ("a product of matrices in reverse order", "a weight matrix and diag(σ') in the other order")
# for one unit the order changes nothing


def known_mistakes(n: int) -> tuple[str, ...]:
    """The names of the mistakes verify tries for a model of ``n`` units, in the order it tries them."""
    names = [name for name, _, _ in MISTAKES if n > 1 or name not in MATRICES_ONLY] + (
        [POWER_NAME, MISSING_SIGMA_NAME] if n == 1 else [MISSING_DIAG_NAME]) + [PATHS_NAME]
    return tuple(dict.fromkeys(names))


MISSING_SIGMA = ("a factor σ' is missing: every step back multiplies by σ'(a_j) beside the weight, and the step "
                 "where the parameter enters brings its own σ'(a_k)")


MISSING_DIAG = ("a factor diag(σ'(a_j)) is missing: every step back multiplies by it beside the weight matrix, "
                "and the step where the parameter enters brings its own diag(σ'(a_k))")


POWER = ("a power of the weight stands for the product of the steps' factors: w^(T-k) is ∂h_T/∂h_k only for a "
         "linear unit; through σ each step back multiplies by w σ'(a_j), ∏_{j=k+1}^{T} w σ'(a_j)")


def power_for_product(text: str, spelling: str = "\\sigma'") -> list[str]:
    """w^{T-k} (one unit's weight to a power T − X) written out as the product ∏_{j=X+1}^{T} w σ'(a_j), each
    such power in turn, j a letter the formula does not use."""
    letter = next((c for c in "jimn" if not re.search(rf"(?<![\\A-Za-z]){c}(?![A-Za-z])", text)), None)
    if letter is None:
        return []
    return [text[:m.start()] + rf"\left(\prod_{{{letter}={m.group(2)}+1}}^{{{m.group(1)}}} w {spelling}(a_{{{letter}}})"
            r"\right)" + text[m.end():]
            for m in re.finditer(r"(?<![\\A-Za-z])w\s*\^\s*\{\s*([A-Z])\s*-\s*([a-z])\s*\}", text)]


def _indices(text: str) -> list[str]:
    """The step indices a formula uses: its sum and product variables, T, the steps of its states, δ
    and pre-activations (δ_{t-1} = W^⊤ δ_t without its σ'(a_t) names t only through δ_t)."""
    return sorted(set(re.findall(r"\\(?:prod|sum)_\{([a-z])=", text))
                  | set(re.findall(r"(?:(?<![\\A-Za-z])[ha]|\\delta)_\{?([0-9]+|[A-Za-z](?:-1)?)\}?", text)) | {"T"})


def missing_diag(text: str, factor: Callable[[str], str]) -> list[str]:
    """``factor(X)`` — diag(σ'(a_X)) as the caller spells it — put in at each place a matrix factor can
    stand (after a weight matrix or its transpose, after a closing bracket, before a state, δ or a bracket)
    for each index X the formula uses; the candidates whose sizes do not fit are refused when evaluated."""
    places = {m.end() for m in re.finditer(r"(?<![\\A-Za-z])W(?:\^\{?\\top\}?)?(?![A-Za-z_^])|\\right\)", text)}
    places |= {m.start() for m in re.finditer(r"(?<![\\A-Za-z])h_|\\delta_|\\left\(", text)}
    inside = _diag_arguments(text) + _call_arguments(text)  # not within a diag(…) or a call: σ' is written out
    places = {at for at in places if not any(lo <= at < hi for lo, hi in inside)}
    return [f"{text[:at].rstrip()} {factor(index)} {text[at:].lstrip()}" for at in sorted(places)
            for index in _indices(text)]


def _call_arguments(text: str) -> list[tuple[int, int]]:
    """The (start, end) of each function call's argument in ``text``: a bracket right after a name, a
    command or an opening brace (H\\left(a_k\\right), \\sigma^\\prime(a_k), \\tanh^{2}{\\left(a_j\\right)}),
    where σ' written out keeps its argument; a factor put in there would change the argument, not
    multiply the term."""
    spans = []
    brackets = r"(?:left|right|cdot|[Bb]igg?[lr]?)\("  # \\left( and \\Bigl( open a group, not a call
    for m in re.finditer(rf"(?:(?<![\\A-Za-z])[A-Za-z]|\\(?!{brackets})[A-Za-z]+|\{{)(\\left\(|\()", text):
        try:
            spans.append((m.start(1), _balanced(text, m.start(1))))
        except VerifyError:
            continue
    return spans


def _diag_arguments(text: str) -> list[tuple[int, int]]:
    """The (start, end) of each \\operatorname{diag}(…)'s bracketed argument in ``text`` (_diag_groups)."""
    return [(start + len(r"\operatorname{diag}"), end) for start, end in _diag_groups(text)]


def missing_sigma(text: str, spelling: str = "\\sigma'") -> list[str]:
    """σ'(a_X) put in at each place a factor can stand (after a weight, after a closing bracket, before a
    state) for each index X the formula uses (its sum and product variables, T, its states' steps)."""
    indices = _indices(text)
    places = {m.end() for m in re.finditer(r"(?<![\\A-Za-z])[wW](?![A-Za-z_^])|\\right\)", text)}
    places |= {m.start() for m in re.finditer(r"(?<![\\A-Za-z])h_", text)}
    inside = _call_arguments(text)  # σ' written out keeps its argument
    places = {at for at in places if not any(lo <= at < hi for lo, hi in inside)}
    out = []
    for at in sorted(places):
        for index in indices:
            out.append(f"{text[:at].rstrip()} {spelling}(a_{{{index}}}) {text[at:].lstrip()}")
    return out
