"""The golden corpus: commands whose output a restructuring must leave unchanged.

Every form × format × cell × layer count of `derive`, LaTeX documents, `grad` and `sweep` JSON, a small
`check` and the arrays of each plot kind.  ``outputs.json`` holds what each produced when it was last
written; tests/test_golden.py runs them again and compares (text exactly, numbers to 1e-9 relative: the
last digit of a float depends on the CPU's libm).

    python tests/golden/corpus.py --write     # after a change of output made on purpose
    python tests/golden/corpus.py --diff      # which commands print something else now, and how
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
OUTPUTS = HERE / "outputs.json"
CELLS = ("rnn", "lstm", "gru", "docs/cells/mgu.toml")
FORMS = ("unroll", "factors", "general", "explicit", "recursive", "expanded")
FORMATS = ("pretty", "text", "latex")


def _derive_commands() -> list[str]:
    """Each form in each format for each cell, one and two layers, small sizes (explicit and expanded
    grow fast for the gated cells: T = 2 there)."""
    out = []
    for cell in CELLS:
        for form in FORMS:
            for fmt in FORMATS:
                for layers in (1, 2):
                    T = 2 if cell != "rnn" or layers > 1 else 3
                    if form == "expanded" and (cell != "rnn" or layers > 1):
                        continue
                    out.append(f"derive -T {T} --cell {cell} --layers {layers} --form {form} --format {fmt} "
                               "--width 100")
    out += [
        "derive -T 3 --factors named --format text",
        "derive -T 3 --form recursive --wrt all --loss sum --format text",
        "derive -T 2 -n 2 --layers 2 --form general --format latex",
        "derive -T 2 -n 2 -m 2 --form explicit --factors named --format text",
        "derive -T 2 -n 2 --form recursive --wrt all --format pretty --width 100",
        "derive -T 4 -a a/(1+abs(a)) --form factors --format text",
        "derive -T 3 -a sigmoid --loss sum --form explicit --format latex",
        "derive -T 3 -a relu --wrt b --format text",
        "derive -T 2 --cell lstm --wrt all --form recursive --factors named --format text",
        "derive -T 2 --cell gru -n 2 --wrt U_z --form explicit --factors named --format latex",
        "derive -T 2 --layers 3 --wrt h0 --form explicit --format text",
        "derive -T 3 --cell lstm --wrt c0 --form general --format pretty --width 100",
        "derive -T 2 --cell mingru --wrt all --form explicit --factors named --format text",
        "derive -T 2 --cell minlstm -n 2 --wrt all --form recursive --format latex",
        "derive -T 3 --cell indrnn -a relu --wrt all --form explicit --factors named --format text",
        "derive -T 2 --cell indrnn -n 2 --layers 2 --wrt all --form recursive --format pretty --width 100",
        "derive -T 3 --cell lru --wrt all --form explicit --factors named --format latex",
        "derive -T 2 --cell lru -n 2 --wrt nu --form general --format text",
        "derive -T 2 -n 2 --cell docs/cells/vindrnn.toml --wrt all --form recursive --format text",
        "derive -T 2 -n 2 -m 2 --cell tests/cells/vgru.toml --wrt W_n --form explicit --factors named --format latex",
    ]
    return out


def _latex_commands() -> list[str]:
    return [
        "latex -T 3", "latex -T 3 --standalone", "latex -T 3 --form general", "latex -T 3 --form recursive",
        "latex -T 2 --cell lstm --standalone", "latex -T 2 --cell gru --form general",
        "latex -T 2 -n 2 --layers 2 --standalone", "latex -T 3 --diagram --standalone",
        "latex -T 2 --cell docs/cells/mgu.toml --standalone", "latex -T 3 --wrt all --loss sum",
    ]


def _number_commands() -> list[str]:
    out = [f"grad --params {p}" for p in ("example", "example-lstm", "docs/example.json",
                                           "docs/example-lstm.json", "tests/golden/gru.json",
                                           "tests/golden/saturated.json", "tests/golden/chaotic.json",
                                           "tests/golden/indrnn.json", "tests/golden/lru.json")]
    out += ["sweep -T 30 --points 7 --format json", "sweep -T 20 --points 5 -a sigmoid",
            "sweep -T 20 --points 5 --cell lstm -n 3 --format json", "sweep -T 20 --points 5 --cell gru -n 2",
            "sweep -T 15 --points 4 --quantity grad --format json", "sweep -T 10 --points 3 --cell lstm --param b_f",
            "sweep -T 10 --points 3 --cell indrnn -n 2 --param w --format json",
            "sweep -T 10 --points 3 --cell lru --param nu"]
    out += ["check --trials 2 --seed 5"]
    return out


def _plot_calls() -> list[str]:
    """Plot kinds through the API (the arrays a figure draws, not its pixels)."""
    return [
        "plot regimes T_max=20 points=21", "plot regimes T_max=20 points=21 quantity=grad",
        "plot curves T_max=30", "plot curves T_max=30 cell=rnn,lstm,gru n=3",
        "plot contributions params_file=example", "plot spectrum n=8 T=50 points=6",
        "plot surface T=10 points=9", "plot unrolled T=3 cell=lstm backward=True",
        "plot gates T_max=20 points=9",
    ]


def commands() -> list[str]:
    """Every command of the corpus, in a fixed order."""
    return _derive_commands() + _latex_commands() + _number_commands() + _plot_calls()


def _plain(value: object) -> object:
    """JSON-able copy of a figure's data: arrays as lists, floats as they are."""
    import numpy as np

    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    if isinstance(value, float) and value != value:
        return "nan"
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return str(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)


def run(command: str) -> str:
    """What one command of the corpus produces: its exit code and standard output (and error), or for
    a plot the JSON of the arrays it draws."""
    os.environ.pop("COLUMNS", None)
    here = os.getcwd()
    os.chdir(ROOT)
    try:
        if command.startswith("plot "):
            return _run_plot(command)
        from click.testing import CliRunner

        from symbptt.cli import main

        result = CliRunner().invoke(main, command.split(" "))
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return f"exit {result.exit_code}\n{result.stdout}{result.stderr}"
    finally:
        os.chdir(here)


def _run_plot(command: str) -> str:
    from symbptt import plots

    kind, *pairs = command.split(" ")[1:]
    options: dict[str, object] = {}
    for pair in pairs:
        key, text = pair.split("=", 1)
        options[key] = {"True": True, "False": False}.get(text, int(text) if text.isdigit() else text)
    import matplotlib.pyplot  # noqa: F401  (as in the tests: the figures' fonts loaded once)

    drawer = {"regimes": plots.regimes, "curves": plots.cell_curves if "cell" in options else plots.curves,
              "contributions": plots.contributions, "spectrum": plots.spectrum, "surface": plots.surface,
              "unrolled": plots.unrolled, "gates": plots.gates}[kind]
    if kind == "curves" and "cell" in options:
        options["cells"] = tuple(str(options.pop("cell")).split(","))
    if kind == "contributions":
        from symbptt.config import load_config

        options = {"cfg": load_config(str(options.pop("params_file")))}
    _, plotted = drawer(**options)
    return json.dumps(_plain(plotted.values), sort_keys=True, indent=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="run every command and store its output")
    parser.add_argument("--diff", action="store_true", help="show what differs from the stored outputs")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE.parent))
    stored = json.loads(OUTPUTS.read_text()) if OUTPUTS.exists() else {}
    now = {command: run(command) for command in commands()}
    if args.write:
        OUTPUTS.write_text(json.dumps(now, indent=1, ensure_ascii=False, sort_keys=False) + "\n")
        print(f"wrote {len(now)} outputs to {OUTPUTS.relative_to(ROOT)}")
        return
    from test_golden import same

    changed = [c for c in now if c not in stored or not same(c, now[c], stored[c])]
    for command in changed:
        print(f"## {command}")
        if args.diff and command in stored:
            print("\n".join(difflib.unified_diff(stored[command].splitlines(), now[command].splitlines(),
                                                 "stored", "now", lineterm="", n=1)))
    print(f"{len(now) - len(changed)} of {len(now)} unchanged")


if __name__ == "__main__":
    main()
