import numpy as np
import pytest

from automl_kit.datasets._splits import balanced_quota, split_pool, stratified_quota


@pytest.mark.parametrize(
    "counts, n, expected",
    [
        ([100, 100, 100], 30, [10, 10, 10]),
        ([5, 100, 100], 55, [5, 25, 25]),
        ([10, 10, 10], 29, [9, 10, 10]),
        ([3, 3], 6, [3, 3]),
    ],
)
def test_balanced_quota(counts, n, expected):
    quota = balanced_quota(np.array(counts), n)
    assert quota.sum() == n
    assert sorted(quota.tolist()) == sorted(expected)
    assert np.all(quota <= counts)


def test_stratified_quota_keeps_proportions():
    quota = stratified_quota(np.array([900, 100]), 50)
    assert quota.tolist() == [45, 5]


def test_split_pool_never_overlaps():
    y = np.repeat(np.arange(4), 50)
    train, val = split_pool(y, n_train=None, n_val=40, seed=0)
    assert len(val) == 40 and len(train) == 160
    assert not set(train) & set(val)


def test_a_training_size_the_validation_split_leaves_no_room_for_names_n_val():
    # issue 23: 300 samples, the default-sized validation split of 200, n_train 200
    y = np.arange(300) % 3
    with pytest.raises(ValueError, match=r"the validation split takes 200 of the 300.*--n-val"):
        split_pool(y, n_train=200, n_val=200, seed=0)
    train, val = split_pool(y, n_train=100, n_val=200, seed=0)
    assert len(train) == 100 and len(val) == 200
