"""The golden corpus (tests/golden/corpus.py): every command prints what it printed when the corpus was
last written.  A restructuring must keep it; a change of output made on purpose rewrites it with
`python tests/golden/corpus.py --write`, and the diff of outputs.json shows what changed."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest
from test_docs import same_up_to_float_noise

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


# what grad measures of rounding itself (the digits float64 kept, by nudged reruns): another CPU's libm
# rounds differently, so these move by a few tenths of a digit
MEASURED = re.compile(r'(?P<key>"(?:relative_to_largest|worst_entry)": |kept about |largest entry, )'
                      r'(?P<value>\d+(?:\.\d)?)')
# check's table: name, count, worst error, tolerance, verdict
CHECK_ROW = re.compile(r"^(?P<head>.*?\s)(?P<error>\d\.\d+e[-+]\d+)(?P<gap>\s+)(?P<tol>\d+e[-+]\d+)(?P<tail>\s+ok)"
                       r"(?P<worst>\n    worst: .*)?$", re.M)


def _measured(text: str) -> tuple[str, list[tuple[float, float]]]:
    """The text with each measured count written as '#', and the counts with how far each may move: half
    a digit for tenths, one for the whole digits the sentence rounds them to."""
    values: list[tuple[float, float]] = []

    def take(match: re.Match) -> str:
        values.append((float(match.group("value")), 0.5 if "." in match.group("value") else 1.0))
        return match.group("key") + "#"

    return MEASURED.sub(take, text), values


def _check_rows(text: str) -> str:
    """check's table with an error below a tenth of its row's tolerance written as '~', and the trial that
    holds it dropped: rounding noise (finite differences' too), which differs between CPUs and cannot
    change the verdict."""
    def tame(match: re.Match) -> str:
        if float(match.group("error")) < float(match.group("tol")) / 10:
            return match.group("head") + "~" + match.group("gap") + match.group("tol") + match.group("tail")
        return match.group(0)

    return CHECK_ROW.sub(tame, text)


def same(command: str, now: str, stored: str) -> bool:
    """Equal up to the last digit of a float; the digits grad measured float64 to keep up to half a digit
    (a tenth is a measurement of this CPU's rounding); for check's table, up to rounding noise (which
    trial holds a 1e-14 error differs between CPUs)."""
    if command.startswith("check"):
        return same_up_to_float_noise(_check_rows(now), _check_rows(stored))
    (now, found), (stored, kept) = _measured(now), _measured(stored)
    if len(found) != len(kept) or any(abs(a - b) > slack + 1e-9
                                      for (a, slack), (b, _) in zip(found, kept, strict=True)):
        return False
    return same_up_to_float_noise(now, stored)


def test_measured_digits_and_check_noise_may_move_and_nothing_else():
    stored = ('"worst_entry": 13.7,\n"precision": "float64 (kept about 14 digits relative to each gradient\'s '
              'largest entry, 13 in the worst entry"')  # reruns.kept_words' sentence
    assert same("grad x", stored.replace("13.7", "13.8").replace("about 14", "about 13"), stored)
    assert same("grad x", stored.replace("entry, 13", "entry, 12"), stored)
    assert not same("grad x", stored.replace("13.7", "12.7"), stored)
    assert not same("grad x", stored.replace("float64", "mpmath"), stored)
    table = ("compiled forms         336     3.93e-15      1e-11  ok\n    worst: trial 0: gru\n"
             "finite diff.           156     3.84e-07      1e-03  ok\n    worst: trial 0: lstm\n")
    noisy = table.replace("3.93e-15", "4.98e-15").replace("3.84e-07", "2.05e-07").replace("trial 0", "trial 1")
    assert same("check x", noisy, table)
    assert not same("check x", table.replace("3.84e-07", "3.84e-04"), table)
    assert not same("check x", table.replace("336", "335"), table)


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
