"""symbptt/wrap.py: sentences wrapped without breaking a relation ("T = 3", "γ > 1"), checked on random
sentences at every width, and on the outputs that once broke one at 80 columns."""

from __future__ import annotations

import random
import re
import textwrap

import pytest
from conftest import run_in_process

from symbptt.wrap import fill, wrap

WORDS = ["the", "bound", "checked", "on", "3", "random", "networks", "(rnn", "tanh,", "loss", "last),", "10^-4.64",
         "-0.89", "|w_i|·γ", "σ'(a_t,i)", "decades", "over", "both", "sides", "at", "40", "digits"]
RELATIONS = ["T = 3,", "n = 12,", "σ_w = 1.5", "γσ_max < 1", "|w| > 1/γ", "q ≤ 2", "χ ≥ 1", "L ≈ 0.25", "a ≠ b",
             "½ ln χ"]
BROKEN = re.compile(r"(^|\s)[=<>≤≥≈≠½]$|^\s*[=<>≤≥≈≠](\s|$)")  # a line that ends or starts at a relation


def _sentence(rng: random.Random) -> str:
    count = rng.randint(1, 40)
    return " ".join(rng.choice(RELATIONS) if rng.random() < 0.3 else rng.choice(WORDS) for _ in range(count))


def _broken(lines: list[str]) -> bool:
    return any(BROKEN.search(line) for line in lines)


@pytest.mark.parametrize("seed", range(6))
def test_no_line_ends_or_starts_at_a_relation_and_no_word_is_lost(seed):
    rng = random.Random(seed)
    for _ in range(60):
        text, width = _sentence(rng), rng.randint(16, 100)
        indent = rng.choice(["", "    "])
        lines = wrap(text, width, subsequent_indent=indent)
        assert " ".join(line.strip() for line in lines).split() == text.split()  # every word, in order
        assert all(len(line) <= width for line in lines)  # no word here is wider than 12 columns with its indent
        assert not _broken(lines), lines
        assert fill(text, width, subsequent_indent=indent) == "\n".join(lines)


def test_textwrap_alone_breaks_relations_on_the_same_sentences():
    """The property above can fail: textwrap's own wrap, on the same draws, ends lines at "T =" or "γ >"."""
    rng = random.Random(0)
    broken = sum(_broken(textwrap.wrap(_sentence(rng), rng.randint(12, 100))) for _ in range(200))
    assert broken > 20


def test_a_text_that_holds_the_marks_is_wrapped_as_it_is():
    """Characters the wrap would use to hold a relation together, already in the text, come back
    unchanged (it takes another, or none)."""
    text = "user text \ue000 and \u00a0 with T = 3 and n = 2 " * 4
    lines = wrap(text, 30)
    assert " ".join(lines).split() == text.split() and "\ue000" in " ".join(lines) and not _broken(lines)
    every = "\ue000\ue001\ue002\u00a0 T = 3 " * 5
    assert " ".join(wrap(every, 20)).split() == every.split()


def test_verify_at_80_columns_keeps_each_size_on_one_line(tmp_path, monkeypatch):
    """`verify` once printed "n = 1, m =" at the end of a line and "1, 1 layer" on the next."""
    monkeypatch.setenv("COLUMNS", "80")
    ran = run_in_process("verify", r"\frac{\partial h_T}{\partial h_k} = \prod_{j=k+1}^{T} w (1-h_j^2)", cwd=tmp_path)
    lines = ran.stdout.splitlines()
    assert ran.returncode == 0 and lines[0].startswith("equal")
    assert max(len(line) for line in lines) <= 80 and not _broken(lines)
    assert "m = 1" in ran.stdout and "n = 1" in ran.stdout
