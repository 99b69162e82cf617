"""The peers of `symbptt.gradients` in benchmarks/gradients.py, each on the same equations: BPTT written by
hand with NumPy over the batch axis (the floor: one function per cell, in the cell's own equations), the
forward pass in torch (its autograd computes the gradients) and in JAX (jit of grad, lax.scan over t).
Each takes parameters as `random_params` draws them, x of shape (T, m, B) and y of shape (n, B), and the
loss ½‖h_T − y‖² summed over the batch."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def sig(a: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def hand_rnn(p: dict, x: np.ndarray, y: np.ndarray) -> dict:
    """h_t = tanh(W h_{t-1} + U x_t + b), L = ½‖h_T − y‖² summed over the batch."""
    T, B = x.shape[0], x.shape[2]
    hs = [np.repeat(p["h0"][:, None], B, 1)]
    for t in range(T):
        hs.append(np.tanh(p["W"] @ hs[-1] + p["U"] @ x[t] + p["b"][:, None]))
    d = hs[-1] - y
    g = {k: np.zeros_like(v) for k, v in p.items()}
    for t in range(T, 0, -1):
        da = d * (1.0 - hs[t] ** 2)
        g["W"] += da @ hs[t - 1].T
        g["U"] += da @ x[t - 1].T
        g["b"] += da.sum(axis=1)
        d = p["W"].T @ da
    g["h0"] = d.sum(axis=1)
    return g


def hand_lstm(p: dict, x: np.ndarray, y: np.ndarray) -> dict:
    """Gates i, f, o (σ) and g (tanh); c_t = f c_{t-1} + i g, h_t = o tanh(c_t)."""
    T, B = x.shape[0], x.shape[2]
    h, c = [np.repeat(p["h0"][:, None], B, 1)], [np.repeat(p["c0"][:, None], B, 1)]
    gates: list[dict] = [{}]
    for t in range(T):
        a = {k: p[f"W_{k}"] @ h[-1] + p[f"U_{k}"] @ x[t] + p[f"b_{k}"][:, None] for k in "ifgo"}
        v = {k: (np.tanh(a[k]) if k == "g" else sig(a[k])) for k in "ifgo"}
        c.append(v["f"] * c[-1] + v["i"] * v["g"])
        v["tc"] = np.tanh(c[-1])
        h.append(v["o"] * v["tc"])
        gates.append(v)
    dh, dc = h[-1] - y, np.zeros_like(c[0])
    g = {k: np.zeros_like(v) for k, v in p.items()}
    for t in range(T, 0, -1):
        v = gates[t]
        dc = dc + dh * v["o"] * (1 - v["tc"] ** 2)
        da = {"o": dh * v["tc"] * v["o"] * (1 - v["o"]), "i": dc * v["g"] * v["i"] * (1 - v["i"]),
              "f": dc * c[t - 1] * v["f"] * (1 - v["f"]), "g": dc * v["i"] * (1 - v["g"] ** 2)}
        dh = 0
        for k in "ifgo":
            g[f"W_{k}"] += da[k] @ h[t - 1].T
            g[f"U_{k}"] += da[k] @ x[t - 1].T
            g[f"b_{k}"] += da[k].sum(axis=1)
            dh = dh + p[f"W_{k}"].T @ da[k]
        dc = dc * v["f"]
    g["h0"], g["c0"] = dh.sum(axis=1), dc.sum(axis=1)
    return g


def hand_gru(p: dict, x: np.ndarray, y: np.ndarray) -> dict:
    """PyTorch's GRU: r, z = σ(·); n = tanh(U_n x + b_n + r ⊙ (W_n h + b_hn)); h = (1 − z) n + z h_{t-1}."""
    T, B = x.shape[0], x.shape[2]
    h = [np.repeat(p["h0"][:, None], B, 1)]
    keep: list[dict] = [{}]
    for t in range(T):
        r = sig(p["W_r"] @ h[-1] + p["U_r"] @ x[t] + p["b_r"][:, None])
        z = sig(p["W_z"] @ h[-1] + p["U_z"] @ x[t] + p["b_z"][:, None])
        hn = p["W_n"] @ h[-1] + p["b_hn"][:, None]
        n = np.tanh(p["U_n"] @ x[t] + p["b_n"][:, None] + r * hn)
        h.append((1 - z) * n + z * h[-1])
        keep.append({"r": r, "z": z, "n": n, "hn": hn})
    dh = h[-1] - y
    g = {k: np.zeros_like(v) for k, v in p.items()}
    for t in range(T, 0, -1):
        v = keep[t]
        dn = dh * (1 - v["z"]) * (1 - v["n"] ** 2)
        dz = dh * (h[t - 1] - v["n"]) * v["z"] * (1 - v["z"])
        dr = dn * v["hn"] * v["r"] * (1 - v["r"])
        back_r, back_z, back_n = gru_sums(g, p, x[t - 1], h[t - 1], dr, dz, dn, dn * v["r"])
        dh = dh * v["z"] + back_r + back_z + back_n
    g["h0"] = dh.sum(axis=1)
    return g


def gru_sums(g: dict, p: dict, x_t: np.ndarray, h_prev: np.ndarray, dr: np.ndarray, dz: np.ndarray,
             dn: np.ndarray, dhn: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One step of the GRU's weight sums added into ``g``, from ∂L/∂a of r, z and n and ∂L/∂(W_n h + b_hn)
    at that step; returns the three parts of ∂L/∂h_{t-1} that flow back through the weights on h_{t-1}
    (W_rᵀ, W_zᵀ, W_nᵀ), for the caller to add in that order."""
    for k, da in (("r", dr), ("z", dz)):
        g[f"W_{k}"] += da @ h_prev.T
        g[f"U_{k}"] += da @ x_t.T
        g[f"b_{k}"] += da.sum(axis=1)
    g["U_n"] += dn @ x_t.T
    g["b_n"] += dn.sum(axis=1)
    g["W_n"] += dhn @ h_prev.T
    g["b_hn"] += dhn.sum(axis=1)
    return p["W_r"].T @ dr, p["W_z"].T @ dz, p["W_n"].T @ dhn


HAND: dict[str, Callable[[dict, np.ndarray, np.ndarray], dict]] = {"rnn": hand_rnn, "lstm": hand_lstm, "gru": hand_gru}


def random_params(cell: str, n: int, m: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    from symbptt.activations import get_activation
    from symbptt.cells import get_cell

    spec = get_cell(cell, get_activation("tanh"))
    shapes = {"recurrent": (n, n), "input": (n, m)}
    scale = {"recurrent": 1 / np.sqrt(n), "input": 1 / np.sqrt(m)}
    return {p: rng.normal(0, scale.get(spec.kind(p), 0.1), shapes.get(spec.kind(p), (n,))) for p in spec.params}


def torch_loss(cell: str, p: dict, x, y):
    """The same equations in torch (float64 tensors with requires_grad)."""
    import torch

    h = p["h0"][:, None].expand(-1, x.shape[2])
    c = p["c0"][:, None].expand(-1, x.shape[2]) if cell == "lstm" else None
    for t in range(x.shape[0]):
        if cell == "rnn":
            h = torch.tanh(p["W"] @ h + p["U"] @ x[t] + p["b"][:, None])
        elif cell == "lstm":
            a = {k: p[f"W_{k}"] @ h + p[f"U_{k}"] @ x[t] + p[f"b_{k}"][:, None] for k in "ifgo"}
            c = torch.sigmoid(a["f"]) * c + torch.sigmoid(a["i"]) * torch.tanh(a["g"])
            h = torch.sigmoid(a["o"]) * torch.tanh(c)
        else:
            r = torch.sigmoid(p["W_r"] @ h + p["U_r"] @ x[t] + p["b_r"][:, None])
            z = torch.sigmoid(p["W_z"] @ h + p["U_z"] @ x[t] + p["b_z"][:, None])
            n = torch.tanh(p["U_n"] @ x[t] + p["b_n"][:, None] + r * (p["W_n"] @ h + p["b_hn"][:, None]))
            h = (1 - z) * n + z * h
    return 0.5 * ((h - y) ** 2).sum()


def jax_gradient(cell: str):
    """The same equations in JAX (lax.scan over t, float64), jit-compiled: (params, x, y) ↦ gradients.
    None when JAX is not installed."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    sig = jax.nn.sigmoid

    def loss(p: dict, x, y):
        h = jnp.broadcast_to(p["h0"][:, None], (p["h0"].shape[0], x.shape[2]))
        c = jnp.broadcast_to(p["c0"][:, None], h.shape) if cell == "lstm" else h

        def step(carry, xt):
            h, c = carry
            if cell == "rnn":
                return (jnp.tanh(p["W"] @ h + p["U"] @ xt + p["b"][:, None]), c), None
            if cell == "lstm":
                a = {k: p[f"W_{k}"] @ h + p[f"U_{k}"] @ xt + p[f"b_{k}"][:, None] for k in "ifgo"}
                c = sig(a["f"]) * c + sig(a["i"]) * jnp.tanh(a["g"])
                return (sig(a["o"]) * jnp.tanh(c), c), None
            r = sig(p["W_r"] @ h + p["U_r"] @ xt + p["b_r"][:, None])
            z = sig(p["W_z"] @ h + p["U_z"] @ xt + p["b_z"][:, None])
            n = jnp.tanh(p["U_n"] @ xt + p["b_n"][:, None] + r * (p["W_n"] @ h + p["b_hn"][:, None]))
            return ((1 - z) * n + z * h, c), None

        (h, _), _ = jax.lax.scan(step, (h, c), x)
        return 0.5 * ((h - y) ** 2).sum()

    compiled = jax.jit(jax.grad(loss))
    return lambda p, x, y: jax.block_until_ready(compiled(p, x, y))


__all__ = ["HAND", "gru_sums", "hand_gru", "hand_lstm", "hand_rnn", "jax_gradient", "random_params", "sig",
           "torch_loss"]
