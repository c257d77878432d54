"""Fourier descriptors: invariant to rotation, translation and scale; templates and distances."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.path import Path

from automl_kit.knowledge import (
    class_templates,
    fourier_descriptor,
    fourier_descriptors,
    printed_digit_templates,
    printed_digits,
    template_distances,
    template_quality,
)

L_SHAPE = np.array([[0, 0], [3, 0], [3, 1], [1, 1], [1, 4], [0, 4]], float) - [1.2, 1.6]
T_SHAPE = np.array([[0, 0], [4, 0], [4, 1], [2.5, 1], [2.5, 4], [1.5, 4], [1.5, 1], [0, 1]]) - [
    2,
    1,
]


def render(polygon, angle=0.0, scale=1.0, shift=(0.0, 0.0), size=64, supersample=4):
    """A grey image of ``polygon`` rotated, scaled and moved (anti-aliased by supersampling)."""
    c, s = np.cos(angle), np.sin(angle)
    points = polygon @ np.array([[c, s], [-s, c]]) * scale * 6 + size / 2 + np.asarray(shift)
    grid = (np.arange(size * supersample) + 0.5) / supersample
    xx, yy = np.meshgrid(grid, grid)
    inside = Path(points).contains_points(np.column_stack([xx.ravel(), yy.ravel()]))
    return inside.reshape(size, supersample, size, supersample).mean(axis=(1, 3))


@pytest.mark.parametrize(
    "change",
    [
        {"angle": 0.7},
        {"angle": 2.0},
        {"scale": 1.6},
        {"scale": 0.7},
        {"shift": (9, -7)},
        {"angle": 1.0, "scale": 1.3, "shift": (3, 4)},
    ],
)
def test_descriptor_is_invariant_to_rotation_translation_and_scale(change):
    reference = fourier_descriptor(render(L_SHAPE))
    moved = fourier_descriptor(render(L_SHAPE, **change))
    other = fourier_descriptor(render(T_SHAPE))
    gap = np.linalg.norm(moved - reference)
    assert gap < 0.05
    # and it still tells shapes apart, by far more than the invariance error
    assert np.linalg.norm(other - reference) > 10 * max(gap, 0.01)


def test_descriptor_shape_and_bad_input():
    assert fourier_descriptor(render(L_SHAPE), n_coefficients=8).shape == (8,)
    assert fourier_descriptor(render(L_SHAPE)[..., None]).shape == (16,)
    with pytest.raises(ValueError, match="blank"):
        fourier_descriptor(np.zeros((8, 8)))
    with pytest.raises(ValueError, match="even integer"):
        fourier_descriptor(render(L_SHAPE), n_coefficients=5)
    with pytest.raises(ValueError, match="grey image"):
        fourier_descriptor(np.zeros((4, 4, 3)))


def test_templates_and_distances_rank_the_own_class_first():
    rng = np.random.default_rng(0)
    images, labels = [], []
    for label, shape in enumerate([L_SHAPE, T_SHAPE]):
        for _ in range(6):
            images.append(
                render(shape, angle=rng.uniform(0, 6), scale=rng.uniform(0.8, 1.2), size=48)
            )
            labels.append(label)
    images, labels = np.stack(images), np.array(labels)
    for method in ("medoids", "random"):
        templates = class_templates(images, labels, per_class=2, method=method, n_coefficients=8)
        assert templates.shape == (2, 2, 8)
        distances = template_distances(images, templates)
        assert distances.shape == (12, 2) and np.all(distances >= 0)
        assert np.all(distances.argmin(axis=1) == labels)
    with pytest.raises(ValueError, match="fewer than per_class"):
        class_templates(images, labels, per_class=7)


def test_printed_digit_templates_recognise_their_own_renderings():
    images = printed_digits(28, fonts=("DejaVu Sans", "DejaVu Serif"))
    assert images.shape == (2, 10, 28, 28) and images.max() == 1.0 and images.min() == 0.0
    templates = fourier_descriptors(images[0])[:, None, :]  # one sans template per digit
    distances = template_distances(images[0], templates)
    np.testing.assert_allclose(np.diag(distances), 0, atol=1e-9)
    assert template_quality(distances, np.arange(10), k=1) == 1.0
    # serif digits against sans templates: the target is rarely the nearest, more often in the top 5
    serif = template_distances(images[1], templates)
    assert template_quality(serif, np.arange(10), 5) >= template_quality(serif, np.arange(10), 1)
    assert template_quality(serif, np.arange(10), 10) == 1.0


def test_template_quality_counts_targets_within_the_k_nearest():
    distances = np.array([[0.1, 0.5, 0.3], [0.9, 0.2, 0.4], [0.2, 0.1, 0.3]])
    y = np.array([0, 2, 2])  # nearest: 0 (own), 2nd (own), 3rd (own)
    assert [template_quality(distances, y, k) for k in (1, 2, 3)] == [1 / 3, 2 / 3, 1.0]
    with pytest.raises(ValueError, match="k must be in 1..3"):
        template_quality(distances, y, 4)


def test_printed_digit_templates_are_class_first_and_swapped_layouts_are_refused():
    fonts = ("DejaVu Sans", "DejaVu Serif")
    templates = printed_digit_templates(8, fonts=fonts)
    assert templates.shape == (10, 2, 8)
    images = printed_digits(28, fonts=fonts)
    np.testing.assert_allclose(templates[3, 1], fourier_descriptors(images[1, 3:4], 8)[0])
    distances = template_distances(images[0], templates, num_classes=10)
    np.testing.assert_allclose(np.diag(distances), 0, atol=1e-9)
    with pytest.raises(ValueError, match=r"axes look swapped: pass templates.transpose\(1, 0, 2\)"):
        template_distances(images[0], templates.transpose(1, 0, 2), num_classes=10)


def test_nan_images_are_not_called_blank():
    image = np.zeros((12, 12))
    image[3:8, 3:8] = 1.0
    image[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or inf pixels"):
        fourier_descriptor(image)
