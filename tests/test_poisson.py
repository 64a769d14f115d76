"""The CG Poisson solver against a direct sparse solve of the same equations."""

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spl

from jaxpaint.ops.poisson import harmonic_fill, solve_poisson


def direct_solve(f, g, hole):
    """Builds Pérez et al.'s 5-point system for one channel by loops and solves it with spsolve."""
    h, w = hole.shape
    pts = np.argwhere(hole)
    index = -np.ones((h, w), int)
    index[hole] = np.arange(len(pts))
    a = sp.lil_matrix((len(pts), len(pts)))
    b = np.zeros(len(pts))
    for k, (i, j) in enumerate(pts):
        for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            y, x = i + di, j + dj
            if not (0 <= y < h and 0 <= x < w):
                continue  # image edge: no flux
            a[k, k] += 1
            b[k] += g[i, j] - g[y, x]
            if hole[y, x]:
                a[k, index[y, x]] -= 1
            else:
                b[k] += f[y, x]
    u = f.astype(np.float64).copy()
    u[hole] = spl.spsolve(a.tocsr(), b)
    return u


@pytest.fixture(scope="session")
def problem():
    rng = np.random.default_rng(0)
    target = rng.uniform(-1, 1, (2, 14, 17, 3)).astype(np.float32)
    source = rng.uniform(-1, 1, (2, 14, 17, 3)).astype(np.float32)
    hole = np.zeros((2, 14, 17), bool)
    hole[0, 3:9, 4:12] = True
    hole[0, 0:3, 0:2] = True  # touches the image corner
    hole[1, 5:14, 2:6] = True  # touches the bottom edge
    return target, source, hole


@pytest.mark.parametrize("blend", [False, True])
def test_matches_direct_sparse_solve(problem, blend):
    target, source, hole = problem
    out, info = solve_poisson(target, hole, source if blend else None, tol=1e-6)
    out = np.asarray(out)
    assert np.all(np.asarray(info["residual"]) <= 1e-6)
    for b in range(2):
        for c in range(3):
            want = direct_solve(target[b, ..., c], source[b, ..., c] if blend else np.zeros_like(source[b, ..., c]), hole[b])
            np.testing.assert_allclose(out[b, ..., c], want, atol=1e-4)
    assert np.array_equal(out[~hole], target[~hole])  # known pixels untouched, bit for bit


def test_harmonic_fill_reproduces_a_linear_ramp():
    # A plane is harmonic, so filling any interior hole of a ramp gives the ramp back.
    rows, cols = np.mgrid[0:24, 0:24].astype(np.float32)
    ramp = np.stack([rows / 23, cols / 23, (rows - cols) / 46], -1)[None] * 2 - 1
    hole = np.zeros((1, 24, 24), bool)
    hole[0, 5:19, 7:16] = True
    filled = np.asarray(harmonic_fill(np.where(hole[..., None], 0.0, ramp), hole))
    np.testing.assert_allclose(filled, ramp, atol=1e-4)
