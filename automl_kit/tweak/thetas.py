"""Algorithm theta (Kim's thesis, Algorithm 1, Eqs. 3.1-3.2), for every synapse (neuron i -> class j).

For a candidate synapse from hidden neuron ``V[i]`` to output neuron ``C[j]``:

* ``D_w`` = samples of class ``j`` the model misclassifies; ``D_c`` = samples of other classes it
  classifies correctly;
* ``E[k] = (MaxV[k] - C[j][k]) / (V[i][k] + eps1)``, the weight at which the synapse flips sample
  ``k`` (Eq. 3.1 for ``D_w``, Eq. 3.2 for ``D_c``);
* ``threshold = min |E_c| - eps2`` (the largest weight harmless to every sample of ``D_c``) and
  ``count = #{k in D_w : |E_w[k]| <= threshold}`` (the corrections it makes).

Conventions this module defines (the thesis leaves them open):

* **Zero activations.** Where ``V[i][k] + eps1 == 0`` the synapse cannot change sample ``k`` at
  any weight, so ``|E[k]| = +inf``: it puts no bound on ``threshold`` and is never counted. With
  ``eps1 = 0`` (the default, as in the thesis's example) this replaces the division by zero the
  thesis's ``eps1`` exists to avoid; a non-zero ``eps1`` is still honoured.
* **Empty ``D_c``** (no off-target sample classified correctly, or a neuron silent on all of them):
  ``threshold = +inf``. **Empty ``D_w``**: ``count = 0``. ``count`` counts finite ``|E_w|`` only.
* ``threshold`` may be negative (``min |E_c| < eps2``); such a synapse has ``count = 0``.

:func:`theta` evaluates all neurons and all target classes at once, streaming ``V`` in chunks of
neurons. It is exact (the per-pair :func:`theta_reference` gives identical values), and fast
because of a bound: for class ``j`` the samples of ``D_c`` are ordered by ``|MaxV - C[j]|``; the
``block_size`` smallest are evaluated for every neuron, and the rest can only give
``|E| >= m_B / max_k |V[i][k] + eps1|`` (``m_B`` the smallest numerator left out). Only the
neurons whose block minimum exceeds that bound are evaluated on the remaining samples. Counting
touches only the columns of ``D_w`` (the misclassified samples).

``backend="tensorflow"`` runs the same computation as TensorFlow ops (on a GPU when TensorFlow
sees one): per chunk, the block of ``D_c`` and the columns of ``D_w`` of all target classes are
gathered at once, padded to a ``(neurons, classes, samples)`` tensor, and reduced for all neurons
and all classes in one go; only the (rare) neurons whose bound fails read the rest of ``D_c``.
It computes in float64 with the same operations, so its values equal the NumPy path's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from automl_kit.utils.interrupt import raise_if_stop_requested

__all__ = ["ThetaResult", "theta", "theta_reference"]


@dataclass
class ThetaResult:
    """``thresholds[i, t]`` and ``counts[i, t]`` of the synapse (neuron ``i`` -> ``targets[t]``)."""

    thresholds: np.ndarray  # (n_neurons, n_targets) float64
    counts: np.ndarray  # (n_neurons, n_targets) int64
    targets: list[int]


def _check_outputs(C, labels, predicted, max_values, targets):
    C = np.asarray(C)
    if C.ndim != 2:
        raise ValueError(
            f"C must be a 2-D table (classes x samples), got shape {C.shape}; "
            "pass the logits transposed to one row per output neuron"
        )
    n_classes, n = C.shape
    arrays = {}
    for name, a in (("L", labels), ("MaxL", predicted), ("MaxV", max_values)):
        a = np.asarray(a)
        if a.shape != (n,):
            raise ValueError(
                f"{name} has shape {a.shape} but C has {n} samples (columns); "
                "build L, MaxL and MaxV from the same samples as C"
            )
        arrays[name] = a
    for name in ("L", "MaxL"):
        a = arrays[name]
        if n and (a.min() < 0 or a.max() >= n_classes):
            raise ValueError(
                f"{name} holds labels outside 0..{n_classes - 1} (C has {n_classes} rows); "
                "labels must index C's rows"
            )
    if targets is None:
        targets = list(range(n_classes))
    targets = [int(t) for t in np.atleast_1d(targets)]
    bad = [t for t in targets if not 0 <= t < n_classes]
    if bad or not targets:
        raise ValueError(
            f"targets {bad or targets} out of range: the model has {n_classes} classes "
            f"(0..{n_classes - 1}); pass class indices in that range"
        )
    return C, arrays["L"].astype(np.int64), arrays["MaxL"].astype(np.int64), arrays["MaxV"], targets


def _denominator(X: np.ndarray, cols: np.ndarray, eps1: float) -> np.ndarray:
    """``|X[:, cols] + eps1|`` (float32 data stays float32 when ``eps1 == 0``: it is exact)."""
    g = np.take(X, cols, axis=1)  # faster than X[:, cols] for a row-major chunk
    if eps1:
        g = g.astype(np.float64) + eps1
    return np.abs(g, out=g)


def _abs_ratio(num_abs: np.ndarray, den_abs: np.ndarray) -> np.ndarray:
    """``|num| / |den|`` in float64, ``+inf`` where ``den == 0`` (the zero-activation convention).

    ``num > 0`` over ``0`` is already ``+inf``; only ``0 / 0`` (rare) needs fixing.
    """
    e = np.divide(num_abs, den_abs, dtype=np.float64)
    zero = np.flatnonzero(num_abs == 0)
    if zero.size and e.ndim == 2:
        e[:, zero] = np.where(den_abs[:, zero] == 0, np.inf, 0.0)
    elif zero.size:
        e[zero] = np.where(den_abs[zero] == 0, np.inf, 0.0)
    return e


def _iter_chunks(V, chunk_size: int) -> Iterable[np.ndarray]:
    if isinstance(V, np.ndarray):
        if V.ndim != 2:
            raise ValueError(f"V must be 2-D (neurons x samples), got shape {V.shape}")
        for start in range(0, V.shape[0], chunk_size):
            raise_if_stop_requested("between table chunks")  # Ctrl-C: a safe point
            yield V[start : start + chunk_size]
    else:
        for chunk in V:
            raise_if_stop_requested("between table chunks")
            yield chunk


def theta(
    V,
    C,
    labels,
    predicted,
    max_values,
    *,
    targets: Iterable[int] | None = None,
    eps1: float = 0.0,
    eps2: float = 1e-6,
    chunk_size: int = 1024,
    block_size: int = 512,
    neuron_absmax: np.ndarray | None = None,
    backend: str = "numpy",
) -> ThetaResult:
    """Algorithm theta for every (neuron, target class) pair, chunked over neurons.

    ``V``: ``(n_neurons, n_samples)`` array or memmap, or an iterable of such row chunks in order;
    ``C``: ``(n_classes, n_samples)`` logits; ``labels`` (L), ``predicted`` (MaxL) and
    ``max_values`` (MaxV): ``(n_samples,)``. ``neuron_absmax`` (optional, e.g. stored with the
    tables) is ``max_k |V[i][k]|`` per neuron and spares one pass over ``V``. ``backend``:
    ``"numpy"`` or ``"tensorflow"`` (the same values; TensorFlow uses a GPU where there is one).

    The thesis's worked example (Fig. 3.2, ``eps1 = 0``, ``eps2 = 0.01``) gives ``<1.39, 1>``:

    >>> V = np.array([[0.3, 0.1, 0.2, 0.5]])
    >>> C = np.array([[0.3, 0.8, 0.6, 0.2], [0.6, 0.1, 0.4, 0.9]])
    >>> r = theta(V, C, [0, 0, 1, 1], [1, 0, 0, 1], C.max(0), targets=[0], eps2=0.01)
    >>> round(float(r.thresholds[0, 0]), 6), int(r.counts[0, 0])
    (1.39, 1)
    """
    C, L, MaxL, MaxV, targets = _check_outputs(C, labels, predicted, max_values, targets)
    if chunk_size < 1 or block_size < 1:
        raise ValueError("chunk_size and block_size must be positive integers")
    if backend not in ("numpy", "tensorflow"):
        raise ValueError(f"backend must be 'numpy' or 'tensorflow', got {backend!r}")
    n = C.shape[1]
    eps1 = float(eps1)
    eps2 = float(eps2)
    correct = L == MaxL
    plans = []
    for j in targets:
        num = np.abs(MaxV.astype(np.float64) - C[j].astype(np.float64))
        d_w = np.flatnonzero((L == j) & ~correct)
        d_c = np.flatnonzero((L != j) & correct)
        order = np.argsort(num[d_c], kind="stable")
        block, rest = np.sort(d_c[order[:block_size]]), np.sort(d_c[order[block_size:]])
        m_b = num[d_c[order[block_size]]] if rest.size else np.inf
        # one gather per class: the block of D_c, then D_w
        cols = np.concatenate([block, d_w])
        plans.append((cols, block.size, num[cols], rest, num[rest], m_b))
    # all classes' columns, gathered once per chunk: a chunk is read once, not once per class
    all_cols = np.concatenate([p[0] for p in plans])
    offsets = np.cumsum([0, *(p[0].size for p in plans)])
    tf_chunk = _TensorFlowChunk(plans, n, eps1, eps2) if backend == "tensorflow" else None

    thresholds, counts = [], []
    seen = 0
    with np.errstate(divide="ignore", invalid="ignore"):
        for X in _iter_chunks(V, chunk_size):
            X = np.asarray(X)
            if X.ndim != 2 or X.shape[1] != n:
                raise ValueError(
                    f"a chunk of V has shape {X.shape}, expected (neurons, {n}): V and C must "
                    "have the same samples (columns)"
                )
            rows = X.shape[0]
            if neuron_absmax is not None:
                absmax = np.asarray(neuron_absmax[seen : seen + rows], dtype=np.float64)
            elif rows and n:
                absmax = np.maximum(X.max(axis=1), -X.min(axis=1)).astype(np.float64)
            else:
                absmax = np.zeros(rows)
            seen += rows
            # |V + eps1| <= |V| + |eps1|, so this bounds every denominator from above.
            den_max = absmax + abs(eps1)
            if tf_chunk is not None:
                thr, cnt = tf_chunk(X, den_max)
                thresholds.append(thr)
                counts.append(cnt)
                continue
            thr = np.empty((rows, len(targets)))
            cnt = np.empty((rows, len(targets)), dtype=np.int64)
            gathered = _denominator(X, all_cols, eps1)
            for t, (_cols, nb, num, rest, num_rest, m_b) in enumerate(plans):
                e = _abs_ratio(num, gathered[:, offsets[t] : offsets[t + 1]])
                best = e[:, :nb].min(axis=1) if nb else np.full(rows, np.inf)
                if rest.size:
                    bound = _abs_ratio(np.full(1, m_b), den_max[:, None])[:, 0]
                    # Rounding is monotonic, so every left-out |E| >= bound: exact where best <= bound.
                    todo = np.flatnonzero(best > bound)
                    if todo.size:
                        er = _abs_ratio(num_rest, _denominator(X[todo], rest, eps1))
                        best[todo] = np.minimum(best[todo], er.min(axis=1))
                thr[:, t] = best - eps2
                e_w = e[:, nb:]
                cnt[:, t] = (e_w <= thr[:, t, None]).sum(axis=1)
                unbounded = np.flatnonzero(np.isinf(thr[:, t]))
                if unbounded.size:  # inf <= inf: count finite |E_w| only
                    cnt[unbounded, t] = np.isfinite(e_w[unbounded]).sum(axis=1)
            thresholds.append(thr)
            counts.append(cnt)
    if neuron_absmax is not None and len(neuron_absmax) != seen:
        raise ValueError(
            f"neuron_absmax has {len(neuron_absmax)} entries but V has {seen} neurons; "
            "pass the statistics stored with the same tables"
        )
    k = len(targets)
    return ThetaResult(
        thresholds=np.concatenate(thresholds) if thresholds else np.empty((0, k)),
        counts=np.concatenate(counts) if counts else np.empty((0, k), dtype=np.int64),
        targets=targets,
    )


class _TensorFlowChunk:
    """Theta on one chunk of ``V`` as TensorFlow ops, all neurons x all target classes at once.

    The per-class column plans of :func:`theta` are padded to common widths (padding reads column
    0 with numerator ``+inf``, so it gives ``|E| = +inf``: never a minimum, never counted).
    """

    def __init__(self, plans, n: int, eps1: float, eps2: float):
        import tensorflow as tf

        self.tf = tf
        self.eps1, self.eps2 = eps1, eps2
        k = len(plans)
        nb = [p[1] for p in plans]
        nw = [p[0].size - p[1] for p in plans]
        self.B, self.W = max(nb), max(nw)
        cols_b = np.zeros((k, self.B), dtype=np.int64)
        num_b = np.full((k, self.B), np.inf)
        cols_w = np.zeros((k, self.W), dtype=np.int64)
        num_w = np.full((k, self.W), np.inf)
        for t, (cols, b, num, *_rest) in enumerate(plans):
            cols_b[t, :b], num_b[t, :b] = cols[:b], num[:b]
            cols_w[t, : nw[t]], num_w[t, : nw[t]] = cols[b:], num[b:]
        self.k = k
        self.cols = tf.constant(np.concatenate([cols_b.ravel(), cols_w.ravel()]))
        self.num_b = tf.constant(num_b[None])
        self.num_w = tf.constant(num_w[None])
        # classes whose D_c is larger than the block: (t, rest columns, their numerators, m_B)
        self.rests = [
            (t, tf.constant(rest), tf.constant(num_rest), m_b)
            for t, (_c, _b, _n, rest, num_rest, m_b) in enumerate(plans)
            if rest.size
        ]
        self.m_b = tf.constant(np.array([p[5] for p in plans], dtype=np.float64))

    def _ratio(self, num, den):
        # |num| / |den| with +inf where den == 0, as _abs_ratio (0/0 included)
        tf = self.tf
        return tf.where(den == 0, tf.constant(np.inf, tf.float64), num / den)

    def _den(self, X, cols):
        tf = self.tf
        return tf.abs(tf.cast(tf.gather(X, cols, axis=1), tf.float64) + self.eps1)

    def __call__(self, X: np.ndarray, den_max: np.ndarray):
        tf = self.tf
        rows, k, B, W = X.shape[0], self.k, self.B, self.W
        Xt = tf.convert_to_tensor(X)
        den = self._den(Xt, self.cols)
        e_b = self._ratio(self.num_b, tf.reshape(den[:, : k * B], (rows, k, B)))
        e_w = self._ratio(self.num_w, tf.reshape(den[:, k * B :], (rows, k, W)))
        if B:
            best = tf.reduce_min(e_b, axis=2)
        else:
            best = tf.fill((rows, k), tf.constant(np.inf, tf.float64))
        if self.rests:
            dm = tf.constant(den_max, tf.float64)[:, None]
            # every left-out |E| >= m_B / max|V[i] + eps1|: exact where best <= bound
            bound = self._ratio(self.m_b[None], dm)
            todo = best > bound
            for t, rest, num_rest, _m_b in self.rests:
                idx = tf.where(todo[:, t])[:, 0]
                if int(tf.size(idx)):
                    er = self._ratio(num_rest[None], self._den(tf.gather(Xt, idx), rest))
                    where = tf.stack([idx, tf.fill(tf.shape(idx), tf.constant(t, tf.int64))], 1)
                    best = tf.tensor_scatter_nd_min(best, where, tf.reduce_min(er, axis=1))
        thr = best - self.eps2
        # inf <= inf would count a padded or silent sample under an unbounded threshold
        hit = (e_w <= thr[:, :, None]) & tf.math.is_finite(e_w)
        cnt = tf.reduce_sum(tf.cast(hit, tf.int64), axis=2)
        return thr.numpy(), cnt.numpy()


def theta_reference(V, C, labels, predicted, max_values, i: int, j: int, *, eps1=0.0, eps2=1e-6):
    """Algorithm 1 line by line for one synapse (neuron ``i`` -> class ``j``): ``(threshold, count)``.

    Slow on purpose (a Python loop over samples); for tests and the speed benchmark only.
    """
    n = len(labels)
    d_w = [k for k in range(n) if labels[k] == j and labels[k] != predicted[k]]
    d_c = [k for k in range(n) if labels[k] != j and labels[k] == predicted[k]]

    def e(k):
        num = float(max_values[k]) - float(C[j][k])
        den = float(V[i][k]) + float(eps1)
        return float("inf") if den == 0 else abs(num / den)

    e_w = [e(k) for k in d_w]
    e_c = [e(k) for k in d_c]
    threshold = min(e_c, default=float("inf")) - float(eps2)
    count = sum(1 for w in e_w if w != float("inf") and w <= threshold)
    return threshold, count
