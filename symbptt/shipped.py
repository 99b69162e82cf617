"""The parameters files that ship with the tool, usable by name anywhere: ``--params example`` (a scalar
tanh RNN) and ``--params example-lstm``.  docs/example.json and docs/example-lstm.json are the same data
for reading (a test keeps them equal)."""

from __future__ import annotations

from typing import Any

# A scalar tanh RNN just above the bound's boundary (γ|w| = 1.3) over 12 steps, truncated BPTT keeping 2.
EXAMPLE_PARAMS: dict[str, Any] = {
    "activation": "tanh",
    "W": 1.3,
    "U": 0.7,
    "b": 0.1,
    "h0": 0.2,
    "x": [0.5, -0.3, 0.8, 0.1, -0.9, 0.4, 0.2, -0.6, 0.7, -0.1, 0.3, 0.9],
    "y": 0.25,
    "loss": "last",
    "truncate": 2,
}

# A scalar LSTM whose forget bias starts at 1, over 6 steps.
EXAMPLE_LSTM_PARAMS: dict[str, Any] = {
    "cell": "lstm",
    "W_i": 0.5, "W_f": 0.4, "W_g": 0.9, "W_o": 0.3,
    "U_i": 0.7, "U_f": -0.2, "U_g": 1.1, "U_o": 0.6,
    "b_i": 0.0, "b_f": 1.0, "b_g": 0.0, "b_o": 0.0,
    "h0": 0.0, "c0": 0.5,
    "x": [0.5, -0.3, 0.8, 0.1, -0.9, 0.4],
    "y": 0.25,
}

SHIPPED: dict[str, dict[str, Any]] = {"example": EXAMPLE_PARAMS, "example-lstm": EXAMPLE_LSTM_PARAMS}
