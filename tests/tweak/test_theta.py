import numpy as np
import pytest

from automl_kit.tweak.thetas import theta, theta_reference


def random_tables(seed, neurons=23, classes=4, n=120, density=0.4, negative=False):
    rng = np.random.default_rng(seed)
    V = rng.gamma(1.5, 1.0, size=(neurons, n)).astype(np.float32)
    V[rng.random(V.shape) > density] = 0.0  # ReLU-like sparsity
    if negative:
        V -= 0.5
    L = rng.integers(0, classes, n)
    C = rng.normal(0, 1, size=(classes, n)).astype(np.float32)
    C[L, np.arange(n)] += 1.5  # a model right most of the time
    return V, C, L, C.argmax(0), C.max(0)


def reference(V, C, L, MaxL, MaxV, targets, **kw):
    thr = np.empty((V.shape[0], len(targets)))
    cnt = np.empty((V.shape[0], len(targets)), dtype=np.int64)
    for i in range(V.shape[0]):
        for t, j in enumerate(targets):
            thr[i, t], cnt[i, t] = theta_reference(V, C, L, MaxL, MaxV, i, j, **kw)
    return thr, cnt


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("block_size", [1, 7, 1000])
def test_equals_per_pair_reference(seed, block_size):
    V, C, L, MaxL, MaxV = random_tables(seed, negative=seed == 2)
    targets = [0, 1, 2, 3]
    r = theta(V, C, L, MaxL, MaxV, chunk_size=5, block_size=block_size, eps2=1e-4)
    thr, cnt = reference(V, C, L, MaxL, MaxV, targets, eps2=1e-4)
    assert r.targets == targets
    finite = np.isfinite(thr)
    assert np.array_equal(finite, np.isfinite(r.thresholds))
    np.testing.assert_allclose(r.thresholds[finite], thr[finite], rtol=1e-6)
    np.testing.assert_array_equal(r.counts, cnt)
    assert cnt.sum() > 0  # the tables do exercise counting


def test_eps1_and_target_subset_and_chunks_iterable():
    V, C, L, MaxL, MaxV = random_tables(5, negative=True)
    chunks = [V[:10], V[10:11], V[11:]]
    r = theta(iter(chunks), C, L, MaxL, MaxV, targets=[3, 1], eps1=0.25, block_size=3)
    thr, cnt = reference(V, C, L, MaxL, MaxV, [3, 1], eps1=0.25)
    np.testing.assert_allclose(r.thresholds, thr, rtol=1e-6)
    np.testing.assert_array_equal(r.counts, cnt)
    absmax = np.abs(V).max(1)
    r2 = theta(V, C, L, MaxL, MaxV, targets=[3, 1], eps1=0.25, block_size=3, neuron_absmax=absmax)
    np.testing.assert_array_equal(r2.thresholds, r.thresholds)


def thesis_example():
    # Fig. 3.2: three hidden neurons, two classes, |D| = 4. The text fixes V[0][0] = 0.3,
    # V[0][3] = 0.5, C[0][0] = 0.3, C[1][0] = 0.6, C[0][3] = 0.2, MaxV[3] = 0.9, L[0] = 0,
    # MaxL[0] = 1, D_w = {0} and D_c = {3} for target 0; the other entries are filled in to agree.
    V = np.array([[0.3, 0.1, 0.2, 0.5], [0.5, 0.4, 0.0, 0.2], [0.4, 0.3, 0.6, 0.1]])
    C = np.array([[0.3, 0.8, 0.6, 0.2], [0.6, 0.1, 0.4, 0.9]])
    L = np.array([0, 0, 1, 1])
    return V, C, L, C.argmax(0), C.max(0)


def test_thesis_worked_example():
    V, C, L, MaxL, MaxV = thesis_example()
    assert list(MaxL) == [1, 0, 0, 1]
    r = theta(V, C, L, MaxL, MaxV, targets=[0], eps1=0.0, eps2=0.01)
    assert r.thresholds[0, 0] == pytest.approx(1.39)
    assert r.counts[0, 0] == 1
    assert theta_reference(V, C, L, MaxL, MaxV, 0, 0, eps2=0.01) == (pytest.approx(1.39), 1)
    # neuron 1: E_w = 0.3/0.5 = 0.6, E_c = 0.7/0.2 = 3.5 -> <3.49, 1>
    assert r.thresholds[1, 0] == pytest.approx(3.49)
    assert r.counts[1, 0] == 1


def test_empty_dw_and_dc():
    V, C, L, MaxL, MaxV = thesis_example()
    # Every sample right: D_w empty for all classes, so count = 0 everywhere.
    r = theta(V, C, MaxL, MaxL, MaxV)
    assert (r.counts == 0).all() and np.isfinite(r.thresholds).all()
    # Every sample of class 1 wrong and class 0's right ones are target: D_c of target 0 empty.
    L = np.array([0, 0, 1, 1])
    MaxL = np.array([1, 0, 0, 0])
    r = theta(V, C, L, MaxL, MaxV, targets=[0])
    assert np.isinf(r.thresholds).all()
    # count then counts every finite |E_w| (here D_w = {0}, V > 0 for all neurons)
    assert list(r.counts[:, 0]) == [1, 1, 1]


def test_zero_activations():
    V, C, L, MaxL, MaxV = thesis_example()
    V = V.copy()
    V[0, 3] = 0.0  # silent on the only D_c sample: no bound on the weight
    V[1, 0] = 0.0  # silent on the only D_w sample: cannot correct it
    V[2] = 0.0  # a dead neuron
    r = theta(V, C, L, MaxL, MaxV, targets=[0], eps2=0.01)
    assert np.isinf(r.thresholds[0, 0]) and r.counts[0, 0] == 1
    assert r.counts[1, 0] == 0 and r.thresholds[1, 0] == pytest.approx(3.49)
    assert np.isinf(r.thresholds[2, 0]) and r.counts[2, 0] == 0
    for i in range(3):
        t, c = theta_reference(V, C, L, MaxL, MaxV, i, 0, eps2=0.01)
        assert c == r.counts[i, 0] and (
            t == r.thresholds[i, 0] or t == pytest.approx(r.thresholds[i, 0])
        )


def test_bad_input():
    V, C, L, MaxL, MaxV = thesis_example()
    with pytest.raises(ValueError, match="out of range"):
        theta(V, C, L, MaxL, MaxV, targets=[2])
    with pytest.raises(ValueError, match="same samples"):
        theta(V[:, :3], C, L, MaxL, MaxV)
    with pytest.raises(ValueError, match="MaxV"):
        theta(V, C, L, MaxL, MaxV[:3])
    with pytest.raises(ValueError, match="outside"):
        theta(V, C, L + 5, MaxL, MaxV)


def tf_cases():
    V, C, L, MaxL, MaxV = thesis_example()
    Vz = V.copy()
    Vz[0, 3] = Vz[1, 0] = 0.0
    Vz[2] = 0.0
    yield "thesis", (V, C, L, MaxL, MaxV), {"targets": [0, 1], "eps2": 0.01}
    yield "zero activations", (Vz, C, L, MaxL, MaxV), {"targets": [0], "eps2": 0.01}
    yield "empty D_w", (V, C, MaxL, MaxL, MaxV), {}
    yield "empty D_c", (V, C, L, np.array([1, 0, 0, 0]), MaxV), {"targets": [0]}
    for seed in range(3):
        # block_size 3 < |D_c|: the bound and the rest of D_c are exercised
        yield f"random {seed}", random_tables(seed, negative=seed == 2), {"block_size": 3}
    yield "eps1", random_tables(5, negative=True), {"targets": [3, 1], "eps1": 0.25}


@pytest.mark.parametrize("case", list(tf_cases()), ids=lambda c: c[0])
def test_tensorflow_backend_equals_numpy(case):
    _name, (V, C, L, MaxL, MaxV), kw = case
    r_np = theta(V, C, L, MaxL, MaxV, chunk_size=7, **kw)
    r_tf = theta(V, C, L, MaxL, MaxV, chunk_size=7, backend="tensorflow", **kw)
    finite = np.isfinite(r_np.thresholds)
    assert np.array_equal(finite, np.isfinite(r_tf.thresholds))
    np.testing.assert_allclose(r_tf.thresholds[finite], r_np.thresholds[finite], rtol=1e-6)
    np.testing.assert_array_equal(r_tf.counts, r_np.counts)
    assert r_tf.counts.dtype == np.int64 and r_tf.targets == r_np.targets
    targets = r_np.targets
    thr, cnt = reference(
        V, C, L, MaxL, MaxV, targets, **{k: v for k, v in kw.items() if k in ("eps1", "eps2")}
    )
    np.testing.assert_array_equal(r_tf.counts, cnt)


def test_tensorflow_thesis_values_and_bad_backend():
    V, C, L, MaxL, MaxV = thesis_example()
    r = theta(V, C, L, MaxL, MaxV, targets=[0], eps2=0.01, backend="tensorflow")
    assert r.thresholds[0, 0] == pytest.approx(1.39) and r.counts[0, 0] == 1
    with pytest.raises(ValueError, match="backend"):
        theta(V, C, L, MaxL, MaxV, backend="torch")


def test_module_does_not_shadow_function():
    import automl_kit.tweak as tweak
    from automl_kit.tweak import thetas

    assert callable(tweak.theta) and tweak.theta is thetas.theta
