"""The PyTorch bridge: modules and state_dicts read into cells, round trips, agreement with torch autograd
in float64, --compare, parameters out, refusals, and the install hint when torch is missing."""

from __future__ import annotations

import json
import os
import re
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from symbptt.cli import main
from symbptt.errors import SymbpttError


def _torch():
    try:
        import torch
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("torch is required in CI (the test extra pins it) but is not installed")
        pytest.skip("torch is not installed")
    return torch


@pytest.fixture(scope="module")
def torch():
    return _torch()


def _modules(torch):
    """One of each supported module, with the options that change how it is read."""
    nn = torch.nn
    torch.manual_seed(0)
    return [nn.RNN(3, 4, num_layers=2), nn.RNN(2, 3, nonlinearity="relu", bias=False), nn.LSTM(3, 4, num_layers=2),
            nn.GRU(2, 3, num_layers=3, batch_first=True), nn.LSTM(2, 2, bias=False), nn.RNNCell(2, 3),
            nn.LSTMCell(2, 3), nn.GRUCell(2, 3, bias=False)]


def _sequence(torch, model, T, seed):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(1, T, model.m, generator=gen) if model.batch_first else torch.randn(T, model.m, generator=gen)


@pytest.mark.parametrize("index", range(8))
def test_every_module_agrees_with_torch_autograd_in_float64(torch, index):
    """The exact gradients and torch's float64 ones agree to at least 11 digits in every entry, for each
    supported module, at three random sequences and targets (both losses)."""
    from symbptt.bridges.pytorch import compare, from_torch, read_module, torch_gradients
    from symbptt.numeric.grad_report import grad_report

    module = _modules(torch)[index]
    model = read_module(module)
    for seed, loss in ((1, "last"), (2, "sum"), (3, "last")):
        T = 3 + 4 * seed
        x = _sequence(torch, model, T, seed)
        y = torch.randn(model.n) if loss == "last" else torch.randn(T, model.n)
        cfg = from_torch(module, x, y, loss=loss)
        report = grad_report(cfg)
        got = compare(report["grad"], report["grad_log10"], torch_gradients(module, model, cfg, "float64"), "float64")
        for layer in got["layers"]:
            for name, entry in layer.items():
                assert entry["min_digits"] >= 11, (type(module).__name__, seed, name, entry["min_digits"])
                assert entry["zero"] == entry["nonfinite"] == 0


def test_a_planted_mapping_bug_is_caught(torch, monkeypatch):
    """Swap two of the LSTM's gates in the reader: the float64 comparison then fails by many digits."""
    import symbptt.bridges.pytorch as bridge
    from symbptt.numeric.grad_report import grad_report

    module = torch.nn.LSTM(2, 3)
    from symbptt.cells import TorchLayout

    swapped = TorchLayout("LSTM", tuple((f"W_{k}", f"U_{k}", f"b_{k}") for k in "figo"))  # i and f swapped
    real = bridge._layout
    monkeypatch.setattr(bridge, "_layout", lambda spec: swapped if spec.name == "lstm" else real(spec))
    model = bridge.read_module(module)
    cfg = bridge.from_torch(module, torch.randn(5, 2, generator=torch.Generator().manual_seed(4)), torch.ones(3))
    report = grad_report(cfg)
    got = bridge.compare(report["grad"], report["grad_log10"], bridge.torch_gradients(module, model, cfg, "float64"),
                         "float64")
    assert min(e["min_digits"] for e in got["layers"][0].values()) < 3


@pytest.mark.parametrize("index", range(8))
def test_parameters_out_and_back_in_are_the_same_numbers(torch, index):
    """Read a module, write its parameters as a state_dict, load that into a fresh module of the same
    class: read again, every parameter is the same float64 number, and both modules give the same outputs."""
    from symbptt.bridges.pytorch import read_module, state_dict

    module = _modules(torch)[index].double()
    model = read_module(module)
    sd = state_dict(model.spec, model.activation, model.layers, model.is_cell)
    fresh = type(module)(model.m, model.n, **_options(module)).double()
    if not model.bias:
        sd = {k: v for k, v in sd.items() if not k.startswith("bias")}
    fresh.load_state_dict(sd)
    again = read_module(fresh)
    for before, after in zip(model.layers, again.layers, strict=True):
        assert before.keys() == after.keys()
        for name in before:
            assert np.array_equal(before[name], after[name]), name
    x = _sequence(torch, model, 6, 7).double()
    if model.is_cell:
        assert torch.allclose(_run_cell(module, x), _run_cell(fresh, x), rtol=1e-14, atol=1e-15)
    else:
        assert torch.allclose(module(x)[0], fresh(x)[0], rtol=1e-14, atol=1e-15)


def _options(module) -> dict:
    out = {"bias": module.bias}
    for key in ("num_layers", "nonlinearity", "batch_first"):
        if hasattr(module, key) and not (key == "nonlinearity" and type(module).__name__ not in ("RNN", "RNNCell")):
            out[key] = getattr(module, key)
    return out


def _run_cell(cell, x):
    state, outs = None, []
    for t in range(x.shape[0]):
        state = cell(x[t], state)
        outs.append(state[0] if isinstance(state, tuple) else state)
    return x.new_tensor(np.stack([o.detach().numpy() for o in outs]))


def test_a_state_dict_is_read_like_its_module_and_a_prefix_is_removed(torch):
    from symbptt.bridges.pytorch import read_module

    module = torch.nn.GRU(2, 3, num_layers=2)
    direct = read_module(module)
    nested = read_module({f"encoder.rnn.{k}": v for k, v in module.state_dict().items()})
    assert (nested.cell, nested.kind, nested.n, nested.m, len(nested.layers)) == ("gru", "GRU", 3, 2, 2)
    for a, b in zip(direct.layers, nested.layers, strict=True):
        assert all(np.array_equal(a[k], b[k]) for k in a)
    relu = read_module(torch.nn.RNN(2, 3).state_dict(), nonlinearity="relu")
    assert relu.activation == "relu"


def test_bias_sums_that_float64_rounds_are_counted(torch):
    from symbptt.bridges.pytorch import read_module

    module = torch.nn.RNN(1, 2).double()
    with torch.no_grad():
        module.bias_ih_l0.copy_(torch.tensor([1.0, 1.0], dtype=torch.float64))
        module.bias_hh_l0.copy_(torch.tensor([2.0**-60, 0.5], dtype=torch.float64))
    assert read_module(module).rounded == 1
    with torch.no_grad():  # float32 biases whose exponents lie 30 apart: float32 would round, float64 does not
        module.bias_hh_l0.copy_(torch.tensor([2.0**-30, 0.5], dtype=torch.float64))
    assert read_module(module.float()).rounded == 0


@pytest.mark.parametrize("make,words", [
    (lambda nn: nn.LSTM(2, 3, bidirectional=True), "bidirectional"),
    (lambda nn: nn.LSTM(2, 3, proj_size=2), "proj_size"),
    (lambda nn: nn.GRU(2, 3, num_layers=2, dropout=0.5), "module.eval()"),
    (lambda nn: nn.Linear(2, 3), "got Linear"),
])
def test_what_is_not_supported_is_refused_in_one_line(torch, make, words):
    from symbptt.bridges import from_torch

    with pytest.raises(SymbpttError) as exc:
        from_torch(make(torch.nn), torch.zeros(4, 2))
    assert words in str(exc.value) and "\n" not in str(exc.value)


@pytest.mark.parametrize("x_shape,words", [((4, 2, 2), "batch of 2"), ((4, 3), "has shape 4 × 3, expected T × 2"),
                                           ((0, 2), "T × 2")])
def test_an_input_that_is_not_one_sequence_is_refused(torch, x_shape, words):
    from symbptt.bridges import from_torch

    with pytest.raises(SymbpttError, match=words):
        from_torch(torch.nn.RNN(2, 3), torch.zeros(x_shape))


@pytest.mark.parametrize("layers,words", [([{"W": np.eye(2)}], "layers[0] has no 'U'"),
                                          ({"W": np.eye(2)}, "layers must be a non-empty list"),
                                          ([3], "layers[0] must be a dict")])
def test_incomplete_layers_are_refused_before_a_file_is_written(torch, tmp_path, layers, words):
    from symbptt.activations import get_activation
    from symbptt.bridges import save_state_dict
    from symbptt.cells import get_cell

    with pytest.raises(SymbpttError, match=re.escape(words)):
        save_state_dict(str(tmp_path / "out.pt"), get_cell("rnn", get_activation("tanh")), "tanh", layers)
    assert not list(tmp_path.iterdir())


def test_compare_refuses_layers_that_do_not_match(torch):
    from symbptt.bridges import compare

    with pytest.raises(SymbpttError, match="for the same layers; got 1, 1 and 0"):
        compare({"W": [1.0]}, {"W": [0.0]}, [], "float32")
    with pytest.raises(SymbpttError, match="dtype must be float32 or float64"):
        compare({"W": [1.0]}, {"W": [0.0]}, [{"W": np.ones(1)}], "float16")


def test_a_dropout_module_in_eval_mode_is_read(torch):
    from symbptt.bridges import from_torch

    cfg = from_torch(torch.nn.GRU(2, 3, num_layers=2, dropout=0.5).eval(), torch.zeros(4, 2))
    assert len(cfg.layers) == 2


def test_a_pickled_object_of_another_class_is_refused_without_running_it(torch, tmp_path):
    """A file that would run code when unpickled is refused by the weights-only loader; the code never runs."""
    from symbptt.bridges import load_file

    marker = tmp_path / "PWNED"
    torch.save(_Planted(str(marker)), tmp_path / "bad.pt")
    with pytest.raises(SymbpttError, match="not a file torch.load reads safely"):
        load_file(str(tmp_path / "bad.pt"), "--torch model")
    assert not marker.exists()


class _Planted:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def _write_case(torch, folder, module, T=6, seed=0):
    gen = torch.Generator().manual_seed(seed)
    torch.save(module, folder / "lstm.pt")
    torch.save(torch.randn(T, module.input_size, generator=gen), folder / "x.pt")
    torch.save(torch.randn(module.hidden_size, generator=gen), folder / "y.pt")


def test_the_help_example_runs_once_its_files_exist(torch, tmp_path, monkeypatch):
    """`grad --help`'s torch example, run in a folder holding the files it names: a report with the torch
    field and both comparisons, float64 agreeing to ≥ 11 digits and float32 to fewer than float64."""
    import shlex

    from test_cli import _help_examples

    example = next(e for e in _help_examples() if "--torch " in e)
    monkeypatch.chdir(tmp_path)
    _write_case(torch, tmp_path, torch.nn.LSTM(2, 3, num_layers=2))
    result = CliRunner().invoke(main, [*shlex.split(example)[1:], "-o", "r.json"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["torch"] | {} == {"module": "nn.LSTM", "num_layers": 2, "hidden_size": 3, "input_size": 2,
                                    "bias": True, "batch_first": False, "target": "given", "bias_sums_rounded": 0}
    digits = {dtype: min(e["min_digits"] for layer in report["compare"][dtype] for e in layer.values())
              for dtype in ("float32", "float64")}
    assert digits["float64"] >= 11 and digits["float32"] < digits["float64"]
    assert np.shape(report["compare"]["float64"][1]["W_f"]["digits"]) == (3, 3)


def test_compare_finds_where_float64_returned_zero(torch, tmp_path):
    """A signal that fades below float64's range: tanh with w = 10⁻³ carries x_1 through 150 steps, so
    ∂L/∂U ≈ 10⁻⁴⁵⁰. torch returns 0 in both precisions; the report holds the exact value as {sign, log10}."""
    module = torch.nn.RNN(1, 1).double()
    with torch.no_grad():
        module.weight_hh_l0.fill_(1e-3)
        module.weight_ih_l0.fill_(1.0)
        module.bias_ih_l0.zero_()
        module.bias_hh_l0.zero_()
    torch.save(module, tmp_path / "m.pt")
    x = torch.zeros(150, 1, dtype=torch.float64)
    x[0] = 1.0
    torch.save(x, tmp_path / "x.pt")
    np.save(tmp_path / "y.npy", np.array([0.5]))
    result = CliRunner().invoke(main, ["grad", "--torch", str(tmp_path / "m.pt"), "--input", str(tmp_path / "x.pt"),
                                       "--target", str(tmp_path / "y.npy"), "--compare"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    exact = report["grad"]["U"][0][0]
    assert isinstance(exact, dict) and -460 < exact["log10"] < -440 and exact["sign"] == -1
    for dtype in ("float32", "float64"):
        assert report["compare"][dtype][0]["U"]["zero"] == 1
        assert report["compare"][dtype][0]["U"]["digits"] == [[0.0]]


def test_grad_torch_out_continues_in_torch(torch, tmp_path):
    """`grad --params example --torch-out`: the state_dict loads into nn.RNN and gives the report's loss."""
    from symbptt.config import load_config

    out = tmp_path / "rnn.pt"
    result = CliRunner().invoke(main, ["grad", "--params", "example", "--torch-out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    cfg = load_config("example")
    net = torch.nn.RNN(cfg.m, cfg.n, nonlinearity=cfg.act_name).double()
    net.load_state_dict(torch.load(out))
    h0 = torch.tensor(cfg.layers[0]["h0"]).reshape(1, cfg.n)
    hs = net(torch.tensor(cfg.x), h0)[0]
    loss = 0.5 * float(((hs[-1] - torch.tensor(cfg.y)) ** 2).sum().detach())
    assert loss == pytest.approx(report["loss"], rel=1e-14)
    assert ("initial state is not zero" in result.stderr) == bool(np.any(cfg.layers[0]["h0"]))


def test_the_same_parameters_write_the_same_bytes(torch, tmp_path):
    for name in ("a.pt", "b.pt"):
        assert CliRunner().invoke(main, ["grad", "--params", "example-lstm", "--torch-out",
                                         str(tmp_path / name), "-o", str(tmp_path / "r.json")]).exit_code == 0
    assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "b.pt").read_bytes()


def test_train_torch_out_writes_the_trained_parameters(torch, tmp_path):
    out = tmp_path / "gru.pt"
    result = CliRunner().invoke(main, ["train", "--cell", "gru", "-n", "3", "-T", "4", "--iterations", "2",
                                       "--batch", "4", "--torch-out", str(out), "-o", str(tmp_path / "run.csv")])
    assert result.exit_code == 0, result.output
    net = torch.nn.GRU(1, 3)
    net.load_state_dict(torch.load(out))
    assert not torch.equal(net.weight_hh_l0, torch.zeros(9, 3))


@pytest.mark.parametrize("argv,words", [
    (["grad", "--params", "example", "--compare"], "--compare goes with --torch"),
    (["grad", "--torch", "m.pt"], "--torch needs --input"),
    (["grad", "--input", "x.pt"], "either --params FILE or --torch"),
    (["grad", "--params", "example", "--torch", "m.pt", "--input", "x.pt"], "either --params FILE or --torch"),
    (["grad", "--torch", "missing.pt", "--input", "x.pt"], "cannot read --torch model missing.pt"),
    (["grad", "--params", "example-lstm", "--torch-out", "t.pt"], None),
    (["train", "--cell", "lru", "--torch-out", "t.pt"], "torch has no module for the lru cell"),
])
def test_torch_options_misused_are_one_line_errors_with_no_file(torch, tmp_path, monkeypatch, argv, words):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, [*argv, "-o", "out.json"])
    if words is None:
        assert result.exit_code == 0
        return
    assert result.exit_code == 2 and words in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "out.json").exists() and not (tmp_path / "t.pt").exists()


@pytest.mark.parametrize("argv", [["grad", "--torch", "m.pt", "--input", "x.pt"],
                                  ["grad", "--params", "example", "--torch-out", "t.pt"],
                                  ["train", "--torch-out", "t.pt"]])
def test_without_torch_the_torch_options_say_how_to_install_it(monkeypatch, tmp_path, argv):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, [*argv, "-o", "out.json"])
    assert result.exit_code == 2 and "pip install 'symbptt[torch]'" in result.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("content,words", [
    (b"", "not a file torch.load reads safely"),
    (b"PK\x03\x04 not really a zip", "not a file torch.load reads safely"),
    (b"\x93NUMPY\x01\x00garbage", "not a NumPy array file"),
])
def test_a_broken_input_file_is_one_line(torch, tmp_path, content, words):
    module = tmp_path / "m.pt"
    torch.save(torch.nn.RNN(2, 3), module)
    bad = tmp_path / "x.pt"
    bad.write_bytes(content)
    result = CliRunner().invoke(main, ["grad", "--torch", str(module), "--input", str(bad), "-o",
                                       str(tmp_path / "r.json")])
    assert result.exit_code == 2 and words in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "r.json").exists()


def test_an_object_array_is_refused_without_unpickling(torch, tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    result = CliRunner().invoke(main, ["grad", "--torch", str(path), "--input", str(path)])
    assert result.exit_code == 2 and "not a NumPy array file" in result.output
