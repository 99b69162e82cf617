"""The golden corpus (tests/golden/corpus.py): every command prints what it printed when the corpus was
last written.  A restructuring must keep it; a change of output made on purpose rewrites it with
`python tests/golden/corpus.py --write`, and the diff of outputs.json shows what changed."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from test_docs import same_up_to_float_noise, without_noise_worst

HERE = Path(__file__).resolve().parent / "golden"
_spec = importlib.util.spec_from_file_location("corpus", HERE / "corpus.py")
corpus = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(corpus)

COMMANDS = corpus.commands()
STORED = json.loads((HERE / "outputs.json").read_text())
CHUNKS = 6


def test_the_corpus_is_the_stored_one_and_large_enough():
    assert list(STORED) == COMMANDS, "run `python tests/golden/corpus.py --write` after changing the corpus"
    assert len(COMMANDS) >= 150
    kinds = {c.split(" ")[0] for c in COMMANDS}
    assert kinds == {"derive", "latex", "grad", "sweep", "check", "plot"}
    assert all(STORED[c].startswith(("exit 0\n", "{")) for c in COMMANDS), "every command of the corpus succeeds"


def same(command: str, now: str, stored: str) -> bool:
    """Equal up to the last digit of a float; for check's table, up to rounding noise (which trial holds
    a 1e-14 error differs between CPUs)."""
    if command.startswith("check"):
        return same_up_to_float_noise(without_noise_worst(now, 1e-12), without_noise_worst(stored, 1e-12),
                                      noise=1e-12)
    return same_up_to_float_noise(now, stored)


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_each_command_prints_what_the_corpus_holds(chunk):
    changed = [c for c in COMMANDS[chunk::CHUNKS] if not same(c, corpus.run(c), STORED[c])]
    assert not changed, f"output changed (python tests/golden/corpus.py --diff): {changed[:5]}"


def test_a_changed_output_is_caught():
    """The comparison is not vacuous: one character of a stored formula changed is a difference."""
    command = next(c for c in COMMANDS if c.startswith("derive") and "text" in c)
    stored = STORED[command]
    assert same_up_to_float_noise(corpus.run(command), stored)
    assert not same_up_to_float_noise(corpus.run(command), stored.replace("tanh", "tamh", 1).replace("*", "+", 1))
