"""Harmonic inpainting and Poisson blending: one batched conjugate-gradient solver.

Inside the hole the solver finds u with the discrete 5-point equation of
Pérez et al. (2003), for every pixel p of the hole:

    |N_p| u_p - sum_{q in N_p, q in hole} u_q
        = sum_{q in N_p, q known} f_q + sum_{q in N_p} (g_p - g_q)

N_p are p's neighbours inside the image (a missing neighbour at the image edge
is a zero-flux boundary), f the known pixels (the Dirichlet boundary) and g the
guidance image: g = 0 gives Laplace's equation (harmonic fill), g = a source
image gives Poisson blending (Δu = Δg inside the hole). Every channel of every
image is its own system; CG runs them all at once with per-system step sizes,
matrix-free, and stops when every relative residual is below `tol` or after
`max_iters` iterations. Known pixels are returned exactly as given.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

DEFAULT_MAX_ITERS = 2000
DEFAULT_TOL = 1e-5


def _neighbour_sum(a: jnp.ndarray) -> jnp.ndarray:
    """Sum of the 4 neighbours of every pixel of (N, H, W), zero outside the image."""
    padded = jnp.pad(a, ((0, 0), (1, 1), (1, 1)))
    return padded[:, :-2, 1:-1] + padded[:, 2:, 1:-1] + padded[:, 1:-1, :-2] + padded[:, 1:-1, 2:]


def _degree(shape) -> jnp.ndarray:
    """|N_p|: the number of in-image neighbours of each pixel (2 at corners, 3 on edges, 4 inside)."""
    return _neighbour_sum(jnp.ones(shape, jnp.float32))


def _system(values, guidance, hole):
    """Operator and right-hand side on the full grid: the hole rows above, identity on known pixels.

    values, guidance: (N, H, W); hole: bool (N, H, W). The operator is
    symmetric positive definite whenever every connected part of the hole
    touches a known pixel.
    """
    degree = _degree(values.shape)
    inside = hole.astype(values.dtype)

    def apply(u):
        laplace = degree * u - _neighbour_sum(u * inside)
        return jnp.where(hole, laplace, u)

    known = values * (1.0 - inside)
    guidance_term = degree * guidance - _neighbour_sum(guidance)
    rhs = jnp.where(hole, _neighbour_sum(known) + guidance_term, values)
    return apply, rhs


def _batched_cg(apply, rhs, x0, max_iters: int, tol: float):
    """Conjugate gradients on N independent systems of shape (H, W) at once."""
    dot = lambda a, b: jnp.sum(a * b, axis=(1, 2))
    r = rhs - apply(x0)
    rr = dot(r, r)
    limit = (tol**2) * jnp.maximum(dot(rhs, rhs), 1e-30)

    def cond(carry):
        i, _, _, _, rr = carry
        return (i < max_iters) & jnp.any(rr > limit)

    def body(carry):
        i, x, r, p, rr = carry
        ap = apply(p)
        pap = dot(p, ap)
        active = rr > limit  # converged systems stop moving
        alpha = jnp.where(active & (pap > 0), rr / jnp.where(pap > 0, pap, 1.0), 0.0)[:, None, None]
        x = x + alpha * p
        r = r - alpha * ap
        rr_new = dot(r, r)
        beta = jnp.where(active, rr_new / jnp.where(rr > 0, rr, 1.0), 0.0)[:, None, None]
        p = r + beta * p
        return i + 1, x, r, p, rr_new

    iterations, x, _, _, rr = jax.lax.while_loop(cond, body, (0, x0, r, r, rr))
    return x, iterations, jnp.sqrt(rr / jnp.maximum(dot(rhs, rhs), 1e-30))


def _to_systems(a):
    """(B, H, W, C) -> (B*C, H, W): one system per channel."""
    b, h, w, c = a.shape
    return jnp.moveaxis(a, 3, 1).reshape(b * c, h, w)


def _from_systems(a, channels):
    n, h, w = a.shape
    return jnp.moveaxis(a.reshape(n // channels, channels, h, w), 1, 3)


@functools.partial(jax.jit, static_argnames=("max_iters", "tol"))
def solve_poisson(target, hole, guidance=None, *, max_iters: int = DEFAULT_MAX_ITERS, tol: float = DEFAULT_TOL):
    """Fills the hole of `target` by solving the Poisson equation; returns (result, info).

    target: float (B, H, W, C), the known pixels (hole values are ignored);
    hole: bool (B, H, W), True = to be solved; guidance: float (B, H, W, C)
    whose Laplacian the fill reproduces (None = harmonic fill). Returns the
    float32 result (known pixels exactly `target`) and {"iterations": int,
    "residual": (B, C) relative residual norms}.
    """
    target = jnp.asarray(target, jnp.float32)
    channels = target.shape[-1]
    hole_c = jnp.repeat(hole[:, None], channels, axis=1).reshape((-1,) + hole.shape[1:])
    values = _to_systems(target)
    if guidance is None:
        guide = jnp.zeros_like(values)
    else:
        guide = _to_systems(jnp.asarray(guidance, jnp.float32))
    apply, rhs = _system(values, guide, hole_c)
    # Start from the guidance shifted to the known pixels' mean offset: close for both uses.
    known = (~hole_c).astype(jnp.float32)
    offset = ((values - guide) * known).sum(axis=(1, 2)) / jnp.maximum(known.sum(axis=(1, 2)), 1.0)
    x0 = jnp.where(hole_c, guide + offset[:, None, None], values)
    solution, iterations, residual = _batched_cg(apply, rhs, x0, max_iters, tol)
    solution = jnp.where(hole_c, solution, values)
    info = {"iterations": iterations, "residual": residual.reshape(-1, channels)}
    return _from_systems(solution, channels), info


def harmonic_fill(image, hole, *, max_iters: int = DEFAULT_MAX_ITERS, tol: float = DEFAULT_TOL):
    """Laplace inpainting: the smoothest fill that meets the known pixels. float (B, H, W, C) -> float32."""
    return solve_poisson(image, hole, None, max_iters=max_iters, tol=tol)[0]


def poisson_blend(target, source, hole, *, max_iters: int = DEFAULT_MAX_ITERS, tol: float = DEFAULT_TOL):
    """Pastes `source` into the hole of `target` with seamless edges (Δu = Δsource). float (B, H, W, C) -> float32."""
    return solve_poisson(target, hole, source, max_iters=max_iters, tol=tol)[0]
