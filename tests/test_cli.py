"""The command line as a user meets it: output, one-line errors with exit code 2, files written safely."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import warnings

import pytest
from click.testing import CliRunner
from conftest import exhaustive, run_in_process

from symbptt import __version__
from symbptt.cli import main


def run(*args: str, env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    """The real console entry point in a subprocess (so exit codes and stderr are the user's)."""
    return subprocess.run([sys.executable, "-m", "symbptt", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})}, **kwargs)


def invoke(*args: str):
    """The same, in-process (fast): exit code, stdout and stderr."""
    result = CliRunner().invoke(main, list(args))
    return result


def one_line_error(proc, needle: str) -> None:
    out = proc.stdout if hasattr(proc, "stdout") else proc.output
    err = proc.stderr
    assert proc.returncode == 2, (out, err)
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and needle in lines[0], err
    assert "Traceback" not in err


def test_version_and_help_of_every_command_with_examples():
    assert run("--version").stdout.strip().endswith(__version__)
    top = invoke("--help").output
    for command in ("derive", "latex", "grad", "sweep", "check", "plot"):
        assert command in top
        text = invoke(command, "--help").output
        assert "Example" in text, command


def test_plot_help_names_every_kind_the_command_draws():
    """Each kind plots draws has its line under "Kinds:" in `plot --help`, and the summary line lists none
    of them (a list there fell behind: it left out units)."""
    from symbptt import plots

    text = invoke("plot", "--help").output
    summary, kinds = text.split("Options:")[0], text.split("Kinds:")[1].split("Examples:")[0]
    listed = [line.split()[0] for line in kinds.splitlines() if re.match(r"    \S", line)]  # not a continuation
    assert listed == list(plots.KINDS)
    assert not [kind for kind in plots.KINDS if f" {kind}," in summary or f"({kind}" in summary]


def test_the_cells_the_help_names_are_the_built_in_cells():
    """The options' help names the cells from a string written out (importing the cells would cost
    `--help` SymPy's import): it names every built-in cell, in their order."""
    from symbptt import cli
    from symbptt.cells import BUILTIN

    assert cli.CELLS == ", ".join(BUILTIN) + " or a cell file (.toml)"


def test_the_version_is_read_only_when_asked_for():
    """Importing the package does not import importlib.metadata (about 18 ms of start-up that `--help` and
    `derive` paid for a version they do not print); symbptt.__version__ reads it then, and equals the
    installed metadata's."""
    import importlib.metadata

    code = ("import sys; site = 'importlib.metadata' in sys.modules; import symbptt; "
            "imported = 'importlib.metadata' in sys.modules; v = symbptt.__version__; "
            "print(site, imported, 'importlib.metadata' in sys.modules, v)")
    site, imported, asked, version = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                                    check=True).stdout.split()
    assert imported == site and asked == "True" and version == importlib.metadata.version("symbptt")


def test_python_dash_m_runs_the_tool():
    proc = run("derive", "-T", "3", "--format", "text")
    assert proc.returncode == 0
    assert "∂L/∂w = (h_3 - y)*w*(1 - h_3**2)*w*(1 - h_2**2)*(1 - h_1**2)*h_0" in proc.stdout


def test_pretty_output_fits_the_width():
    for width in (40, 60, 80):
        out = invoke("derive", "-T", "6", "--width", str(width)).output
        assert max(len(line) for line in out.splitlines()) <= width
    piped = run("derive", "-T", "6", env={"COLUMNS": "60"}).stdout  # COLUMNS counts when piped too
    assert 50 < max(len(line) for line in piped.splitlines()) <= 60
    text = invoke("derive", "-T", "2", "-n", "2", "--form", "factors", "--format", "text", "--width", "60").output
    assert all(line.startswith(("#", " ")) or " = " in line for line in text.splitlines())
    assert "Matrix(" not in text


@pytest.mark.parametrize("cell,n", [("lstm", 2), ("gru", 3), ("rnn", 4)])
def test_a_matrix_too_wide_for_the_line_is_written_entry_by_entry(cell, n):
    """A factor matrix wider than the line (the LSTM's J^hh_1 at n = 2 drew 380 columns in an 80-column
    terminal) is written one equation per entry, J^hh_{1,i,j}, row by row, every line within the width."""
    import sympy as sp

    from symbptt import RNN, printing
    from symbptt.forms import derive
    from symbptt.layout import matrix_entries
    from symbptt.render import render_text

    derivation = derive(RNN(T=1, n=n, cell=cell), "factors", None)
    out = render_text(derivation, pretty=True, width=80)
    assert max(len(line) for line in out.splitlines()) <= 80, out
    squares = [eq for eq in derivation.equations if isinstance(eq.rhs, sp.MatrixBase) and eq.rhs.shape == (n, n)]
    assert squares
    for eq in squares:
        entries = matrix_entries(eq)
        assert [e.rhs for e in entries] == list(eq.rhs)  # row by row
        assert [printing.text(e.lhs) for e in entries] == [f"{eq.lhs.name}[{i},{j}]" for i in range(1, n + 1)
                                                           for j in range(1, n + 1)]
    if cell == "lstm":
        assert "Jʰʰ₁,₁,₂ = W_o₁₂⋅o₁,₁⋅(1 - o₁,₁)⋅tanh(c₁,₁)" in out, out


def _top_level_products(line: str) -> int:
    """How many '*' (not '**') stand outside every parenthesis in a line of text output."""
    depth, count = 0, 0
    for i, ch in enumerate(line):
        depth += (ch == "(") - (ch == ")")
        if ch == "*" and depth == 0 and "*" not in (line[i - 1:i], line[i + 1:i + 2]):
            count += 1
    return count


@pytest.mark.parametrize("model", [["-n", "2"], ["-n", "2", "--layers", "2", "-T", "1"], ["--cell", "lstm", "-T", "1"]])
def test_expanded_matrix_gradients_print_one_entry_per_equation_and_wrap(model):
    """Each entry of a matrix gradient is its own equation, one path per term; a line longer than the
    width holds one factor only (a nested activation that cannot be broken)."""
    args = ["derive", "-T", "2", *model, "--form", "expanded", "--wrt", "all", "--width", "80", "--format", "text"]
    out = invoke(*args).output
    assert "Matrix(" not in out and "[[" not in out
    if "-n" in model:  # W is 2×2: four equations, W[1,1] … W[2,2] (of each layer)
        assert len(re.findall(r"^∂L/∂W(\^\(\d\))?\[\d,\d\] = ", out, re.M)) == 4 * (1 + ("--layers" in model))
    for line in out.splitlines():
        if len(line) > 80:
            body = line.strip().lstrip("*+- ").split(" = ")[-1]
            assert _top_level_products(body) == 0, line[:120]


BAD = [
    (["derive", "-T", "0"], "-T"), (["derive", "-T", "x"], "-T"), (["derive", "-n", "7"], "hidden size"),
    (["derive", "--layers", "5"], "layers"), (["derive", "-a", "softplus"], "tanh, sigmoid, relu, linear"),
    (["derive", "-a", "a.__class__"], "not allowed"), (["derive", "-a", "abs(a, a)"], "takes 1 argument"),
    (["derive", "-T", "5000", "--form", "explicit"], "recursive"),
    (["derive", "-T", "40", "--form", "expanded"], "expanded"),
    (["derive", "-T", "1000000000", "--form", "recursive"], "general"),
    (["derive", "-T", "1000000000", "--form", "unroll"], "general"),
    (["derive", "-T", "1000000000", "--form", "factors"], "general"),
    (["derive", "-T", "1", "-n", "4", "-m", "4", "--layers", "3", "--form", "expanded", "--wrt", "all",
      "--loss", "sum"], "expanded"),
    (["derive", "--form", "nope"], "--form"), (["derive", "--width", "20"], "--width"),
    (["derive", "--width", "wide"], "--width"), (["derive", "--cell", "lstm", "--wrt", "W"], "W_f"),
    (["derive", "--cell", "transformer"], "unknown cell"), (["derive", "--cell", "lstm", "-a", "relu"], "-a applies"),
    (["sweep", "--min", "2", "--max", "1"], "reversed"), (["sweep", "--points", "0"], "points"),
    (["sweep", "--seed", "-1"], "--seed"), (["sweep", "-n", "256"], "multiply-adds"),
    (["sweep", "-T", "10000", "--points", "10000"], "values"), (["sweep", "-T", "1000000000"], "values"),
    (["sweep", "--points", "100000000"], "values"), (["sweep", "--min", "nan"], "finite"),
    (["sweep", "--min", "1e308", "--max", "inf"], "finite"),
    (["check", "--trials", "0"], "trials"), (["check", "--seed", "-1"], "--seed"),
    (["check", "--seed", "99999999999999999999999999999"], "--seed"),
    (["grad", "--params", "/does/not/exist.json"], "cannot read"), (["grad", "--params", "/dev/zero"], "regular"),
    (["latex", "-o", "."], "folder"), (["latex", "-o", "/"], "folder"), (["latex", "-o", "/proc/self/x"], "cannot"),
    (["latex", "-o", ""], "empty"), (["latex", "-o", "x" * 300 + ".tex"], "longer than"),
    (["latex", "-o", "/".join(["d" * 200] * 25) + "/x.tex"], "longer than the system allows"),
    (["sweep", "--min", "-1e308", "--max", "1e308"], "wider than float64"),
    (["derive", "-a", "exp(exp(exp(a)))", "--form", "factors"], "grows beyond"),
    (["derive", "-a", "2**(2**(2**(2**a)))"], "grows beyond"), (["derive", "-a", "a*1e300*1e300"], "grows beyond"),
    (["derive", "-a", ""], "empty"), (["derive", "--wrt", ""], "empty"),
]


@pytest.mark.parametrize("args,needle", BAD, ids=[" ".join(a)[:40] for a, _ in BAD])
def test_bad_input_is_one_line_exit_2_no_traceback(args, needle, tmp_path):
    proc = run_in_process(*args, cwd=tmp_path)
    one_line_error(proc, needle)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("content,needle", [
    (b"\xe9t\xe9", "UTF-8"), (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b'{"W": 1' + b"0" * 5000 + b', "U": 1, "b": 0, "h0": 0, "x": [1], "y": 0}', "digits"),
    (b'{"W": 1' + b"0" * 400 + b', "U": 1, "b": 0, "h0": 0, "x": [1], "y": 0}', "too large"),
    (b'{"W": "0.9", "U": 1, "b": 0, "h0": 0, "x": [1], "y": 0}', "must hold numbers"),
    (b'{"W": true, "U": 1, "b": 0, "h0": 0, "x": [1], "y": 0}', "must hold numbers"),
    (b'{"W": 1, "W": 2, "U": 1, "b": 0, "h0": 0, "x": [1], "y": 0}', "appears twice"),
    (b'{"w": 1, "W": 2, "U": 1, "b": 0, "h0": 0, "x": [1], "y": 0}', "differ only in case"),
    (b'{"activation": "\\ud800", "W": 1, "U": 1, "b": 0, "h0": 0, "x": [1], "y": 0}', "surrogate"),
    (b'{"W": 1, "U": 1, "b": 0, "h0": 0, "x": [1], "y": NaN}', "NaN"),
    (b'{"W": 1, "U": 1, "b": 0, "h0": 0, "x": [1], "y": 0, "los": "sum"}', "did you mean"),
], ids=["latin-1", "nested", "5000 digits", "400 digits", "string", "boolean", "duplicate", "case", "surrogate", "NaN",
        "misspelled"])
def test_bad_parameter_files(tmp_path, content, needle):
    path = tmp_path / "p.json"
    path.write_bytes(content)
    out = tmp_path / "out.json"
    proc = run_in_process("grad", "--params", str(path), "-o", str(out))
    one_line_error(proc, needle)
    assert not out.exists()
    plot = run_in_process("plot", "contributions", "--params", str(path), "-o", str(tmp_path / "c.png"))
    one_line_error(plot, needle)


def test_a_fifo_is_refused_not_waited_on(tmp_path):
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    one_line_error(run("grad", "--params", str(fifo)), "regular")


def test_grad_json_and_no_partial_file_on_error(tmp_path):
    good = tmp_path / "p.json"
    good.write_text(json.dumps({"activation": "tanh", "W": 0.9, "U": 1, "b": 0, "h0": 0.1, "x": [1, 0.5, -0.2],
                                "y": 0.3, "truncate": 2}))
    data = json.loads(run_in_process("grad", "--params", str(good)).stdout)
    assert set(data["grad"]) == {"W", "U", "b", "h0"} and len(data["log10_jacobian_norms"]) == 4
    assert data["truncated"]["k"] == 2 and data["regime"]["label"] == "vanishing guaranteed"
    assert sorted(tmp_path.iterdir()) == [good]


def test_output_keeps_the_mode_of_an_existing_file_and_its_symlink(tmp_path):
    target = tmp_path / "doc.tex"
    target.write_text("old")
    os.chmod(target, 0o600)
    link = tmp_path / "link.tex"
    link.symlink_to(target)
    assert run("latex", "-T", "2", "-o", str(link)).returncode == 0
    assert link.is_symlink() and stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert target.read_text().startswith("% explicit")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["doc.tex", "link.tex"]


def test_output_writes_through_a_device_or_pipe_and_never_replaces_it(tmp_path):
    devnull = os.stat("/dev/null")
    assert run_in_process("latex", "-T", "2", "-o", "/dev/null").returncode == 0
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode) and os.stat("/dev/null").st_ino == devnull.st_ino
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    one_line_error(run_in_process("latex", "-T", "2", "-o", str(fifo)), "no program is reading")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader exists from now on: no waiting
    try:
        assert run_in_process("latex", "-T", "2", "-o", str(fifo)).returncode == 0  # small: fits the pipe's buffer
        received = b""
        while chunk := os.read(reader, 65536):
            received += chunk
    finally:
        os.close(reader)
    assert received.startswith(b"% explicit")


def test_a_full_disk_or_a_read_only_folder_is_one_line(tmp_path):
    if os.geteuid() == 0:
        proc = run("latex", "-o", "/proc/version")
        one_line_error(proc, "cannot write")
        return
    folder = tmp_path / "ro"
    folder.mkdir()
    os.chmod(folder, 0o500)
    one_line_error(run("latex", "-o", str(folder / "x.tex")), "permission")


def test_an_encoding_that_cannot_show_the_formulas_is_one_line():
    proc = run("derive", "-T", "2", env={"PYTHONIOENCODING": "latin-1"})
    one_line_error(proc, "PYTHONIOENCODING=utf-8")
    latex = run("derive", "-T", "2", "--format", "latex", env={"PYTHONIOENCODING": "latin-1"})
    assert latex.returncode == 0 and "\\frac" in latex.stdout


def test_no_runtime_warning_reaches_the_user(tmp_path):
    for args in (["sweep", "--min", "1e307", "--max", "1.7e308", "-T", "20", "--points", "5"],
                 ["plot", "curves", "--weights", "0", "-o", str(tmp_path / "c.png"), "-T", "20"],
                 ["sweep", "-a", "a**2", "-n", "2", "-T", "30", "--min", "5", "--max", "9", "--points", "3"]):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")  # in this process: every warning recorded, none filtered away
            proc = run_in_process(*args)
        assert proc.returncode == 0, proc.stderr
        assert "Warning" not in proc.stderr and proc.stderr == ""
        assert not caught, [str(w.message) for w in caught]


def test_a_closed_pipe_is_not_an_error():
    proc = subprocess.run(f"{sys.executable} -m symbptt derive -T 200 --form recursive --format text | head -1",
                          shell=True, capture_output=True, text=True, timeout=120)
    assert proc.stdout.startswith("# recursive") and "Traceback" not in proc.stderr


def test_sweep_csv_and_json_are_deterministic():
    a = invoke("sweep", "-T", "5", "--points", "4").output
    b = invoke("sweep", "-T", "5", "--points", "4").output
    assert a == b and a.splitlines()[0].startswith("T,w=")
    assert len(a.splitlines()) == 6
    js = json.loads(invoke("sweep", "-T", "3", "--points", "3", "--format", "json").output)
    assert len(js["log10_dh_T_dh_0"]) == 3 and js["axis"] == "w"


def test_sweep_says_which_missing_values_are_exact_zeros_and_which_left_float64():
    """JSON writes −∞ (w = 0: exactly 0) and NaN (w = 1e308 at T = 4: the log10 passes −1.8e308) both as
    null; the masks beside say which is which, and the CSV counts each, all from the values."""
    args = ["sweep", "-T", "4", "--points", "3", "--min", "0", "--max", "1e308"]
    csv = invoke(*args).output.splitlines()
    values = [row.split(",")[1:] for row in csv[1:5]]
    zeros, nans = sum(v == "-inf" for r in values for v in r), sum(v == "nan" for r in values for v in r)
    assert (zeros, nans) == (4, 1)
    assert csv[5:] == ["# -inf: 4 values are exactly 0",
                       "# nan: 1 value is beyond float64's range (a log10 or a state past 1.8e308)"]
    js = json.loads(invoke(*args, "--format", "json").output)
    grid = js["log10_dh_T_dh_0"]
    assert js["log10_dh_T_dh_0_exactly_zero"] == [[True, False, False]] * 4
    assert js["log10_dh_T_dh_0_beyond_float64"] == [[False] * 3] * 3 + [[False, False, True]]
    assert all((v is None) == (z or b) for row, zr, br in zip(grid, js["log10_dh_T_dh_0_exactly_zero"],
               js["log10_dh_T_dh_0_beyond_float64"], strict=True) for v, z, b in zip(row, zr, br, strict=True))
    plain = invoke("sweep", "-T", "4", "--points", "3", "--min", "0.5", "--max", "2").output  # nothing missing
    assert "#" not in plain
    assert not any(k.endswith(("_exactly_zero", "_beyond_float64")) for k in json.loads(
        invoke("sweep", "-T", "4", "--points", "3", "--min", "0.5", "--max", "2", "--format", "json").output))


def test_check_prints_its_table_and_exits_0_when_all_agree():
    proc = run_in_process("check", "--trials", "2", "--seed", "1", "-T", "3")
    assert proc.returncode == 0, proc.stdout
    for method in ("printed text", "printed LaTeX", "grad JSON", "NumPy reference", "finite diff."):
        assert method in proc.stdout


@pytest.mark.parametrize("argv", [["derive", "-T", "2"], ["latex", "-T", "2"]])
def test_ctrl_c_is_exit_130_with_one_line(monkeypatch, capsys, argv):
    import symbptt.cli as cli

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_derivation", interrupted)
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 130 and err.strip() == "Interrupted."


@pytest.mark.parametrize("argv", [["derive", "-a", ""], ["derive", "--wrt", ""], ["derive", "--wrt="],
                                  ["latex", "--cell", ""], ["grad", "--params", ""]])
def test_empty_option_values_are_refused(capsys, argv):
    import symbptt.cli as cli

    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and len(err.strip().splitlines()) == 1 and "empty value" in err


@pytest.mark.parametrize("argv,words", [(["verify", ""], "an empty argument (after 'verify')"),
                                        ([""], "an empty first argument")])
def test_an_empty_argument_is_refused_naming_where_it_stands(capsys, argv, words):
    import symbptt.cli as cli

    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and len(err.strip().splitlines()) == 1 and words in err


def _help_examples() -> list[str]:
    """Every example line of every command's --help (the lines that start with `symbptt `)."""
    commands = ["", "derive", "latex", "grad", "sweep", "train", "check", "plot"]
    found = []
    for command in commands:
        text = CliRunner().invoke(main, [*command.split(), "--help"], terminal_width=80).output
        for line in text.splitlines():
            line = re.split(r"\s{2,}", line.strip().removeprefix("$ "))[0]  # the command, not its gloss
            if line.startswith("symbptt ") and "COMMAND" not in line:
                found.append(line.split(" && ")[0])
    return sorted(set(found))


# the --torch example needs files it names: test_torch runs it in a folder that holds them
QUICK = [e for e in _help_examples() if not re.search(r"check|horizon|train |--steps|plot training|--torch ", e)]
# examples that take a second or more (a figure of n = 64, a torch file, a gated gain sweep) run with -m slow
LONGER = r"plot (spectrum|meanfield|gates|isometry)|--torch-out|sweep --cell gru"


@pytest.mark.parametrize("example", exhaustive(QUICK, lambda e: not re.search(LONGER, e)))
def test_help_examples_run_from_a_folder_outside_the_checkout(tmp_path, monkeypatch, example):
    """Each quick example of every --help, run in an empty folder as an installed user runs it (the
    slow training and check examples are left to the note's manual run)."""
    import shlex

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, shlex.split(example)[1:], terminal_width=80)
    assert result.exit_code == 0, result.output


def test_the_examples_cover_every_command():
    assert {e.split()[1] for e in _help_examples()} >= {"derive", "latex", "grad", "sweep", "train", "check",
                                                         "plot"}


@pytest.mark.parametrize("argv", [["check", "--trials", "2"], ["grad", "--params", "example"], ["sweep", "-T", "3"],
                                  ["train", "--steps", "2"], ["plot", "regimes", "-o", "x.png"],
                                  ["plot", "training", "-o", "x.png"]])
def test_ctrl_c_is_exit_130_on_every_command_and_leaves_no_file(monkeypatch, capsys, tmp_path, argv):
    """Ctrl-C inside any command's work: one line, exit 130, nothing half-written (train's own handler,
    which keeps what was trained, is tested in test_train)."""
    import click

    import symbptt.cli as cli

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    command = cli.main.get_command(click.Context(cli.main), argv[0])
    monkeypatch.setattr(command, "callback", interrupted)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 130 and err.strip() == "Interrupted."
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args,typed,shown", [
    ([], "w", "∂L/∂w"), ([], "W", "∂L/∂w"), ([], "h_0", "∂L/∂h_0"), (["-n", "2"], "w", "∂L/∂W"),
    (["--cell", "lstm"], "w_f", "∂L/∂w_f"), (["--cell", "lstm"], "W_F", "∂L/∂w_f"),
    (["--cell", "gru", "-n", "2"], "u_z", "∂L/∂U_z"),
])
def test_wrt_takes_the_printed_spelling_and_any_case(args, typed, shown):
    """derive prints ∂L/∂w for one unit; --wrt w (or W, or w_F for the LSTM's W_f) names that parameter."""
    ran = run_in_process("derive", "-T", "1", *args, "--wrt", typed, "--format", "text")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines()[1].startswith(shown)
    swept = run_in_process("sweep", "--quantity", "grad", "--wrt", typed.upper(), "-T", "2", "--points", "2")
    assert swept.returncode == (0 if typed.lower() in ("w", "u", "b", "h0") else 2)  # the scalar sweep's names


@pytest.mark.parametrize("argv,words", [
    (["sweep", "-T", "5", "--init", "identity"], "the scalar sweep sets w itself"),
    (["sweep", "--cell", "lru", "--param", "nu", "--init", "orthogonal"], "recurrent weights are not a matrix"),
    (["plot", "regimes", "--init", "orthogonal", "-o", "x.png"], "plot regimes does not use --init"),
    (["train", "--init", "xavier"], "'xavier' is not one of"),
])
def test_init_where_it_means_nothing_is_one_line(tmp_path, monkeypatch, argv, words):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, argv)
    assert result.exit_code == 2 and words in result.output and len(result.output.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []
