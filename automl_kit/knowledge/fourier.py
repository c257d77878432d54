"""Fourier-descriptor shape signatures and class templates for knowledge masks (Xiao, Part 4.2.1-4.2.2).

The descriptor of an image: threshold it, take the largest contour (``contourpy``, the contour
finder matplotlib uses; the contour of the grey image at the threshold level is the boundary of
the binarised image, located to sub-pixel precision), resample the boundary evenly by arc length,
read the points as complex numbers ``x + iy``, take the DFT, and keep magnitudes only:

* dropping the DC term removes translation;
* dividing by ``|F_1|`` removes scale;
* magnitudes ignore rotation and the starting point (both only change phases); the boundary is
  always traversed counter-clockwise so that ``F_k`` and ``F_-k`` keep their roles.

>>> import numpy as np
>>> yy, xx = np.mgrid[:28, :28]
>>> disc = ((yy - 14) ** 2 + (xx - 12) ** 2 < 64).astype(float)
>>> fourier_descriptor(disc, n_coefficients=4).round(2)      # a circle: all energy in F_1
array([0., 0., 0., 0.])
"""

from __future__ import annotations

import numpy as np

METHODS = ("medoids", "random")
DIGIT_FONTS = ("DejaVu Sans", "DejaVu Serif", "DejaVu Sans Mono")


def _as_image(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image, dtype=np.float64)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim != 2:
        raise ValueError(
            f"fourier_descriptor takes one grey image (H, W) or (H, W, 1), got shape "
            f"{image.shape}; convert colour images to grey first."
        )
    return image


def largest_contour(image: np.ndarray, threshold: float | None = None) -> np.ndarray:
    """(M, 2) boundary points (x, y) of the largest region above ``threshold`` (default: mid-grey)."""
    import contourpy

    image = _as_image(image)
    if not np.all(np.isfinite(image)):
        raise ValueError(
            "the image holds NaN or inf pixels; clean or drop it before computing Fourier "
            "descriptors."
        )
    low, high = float(image.min()), float(image.max())
    if not high > low:
        raise ValueError(
            "the image is blank (one grey level): there is no shape whose contour could be "
            "described; drop blank images before computing Fourier descriptors."
        )
    level = (low + high) / 2.0 if threshold is None else float(threshold)
    # a background border closes shapes that touch the image edge
    padded = np.pad(image, 1, constant_values=low)
    lines = contourpy.contour_generator(z=padded).lines(level)
    if not lines:
        raise ValueError(
            f"no contour at threshold {level:g} (image range {low:g}..{high:g}); pass a "
            "threshold inside the image's range."
        )
    areas = [abs(_signed_area(line)) for line in lines]
    return np.asarray(lines[int(np.argmax(areas))]) - 1.0


def _signed_area(points: np.ndarray) -> float:
    x, y = points[:, 0], points[:, 1]
    return 0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))


def _resample(points: np.ndarray, n_points: int) -> np.ndarray:
    """``n_points`` points evenly spaced along the closed polygon ``points``."""
    closed = np.vstack([points, points[:1]]) if not np.allclose(points[0], points[-1]) else points
    steps = np.sqrt((np.diff(closed, axis=0) ** 2).sum(axis=1))
    position = np.concatenate([[0.0], np.cumsum(steps)])
    targets = np.linspace(0.0, position[-1], n_points, endpoint=False)
    return np.column_stack([np.interp(targets, position, closed[:, i]) for i in (0, 1)])


def fourier_descriptor(
    image: np.ndarray,
    n_coefficients: int = 16,
    *,
    threshold: float | None = None,
    n_points: int = 128,
) -> np.ndarray:
    """Translation-, rotation- and scale-invariant shape signature of ``image`` (Part 4.2.1).

    Returns ``n_coefficients`` values: ``|F_k| / |F_1|`` for ``k = 2 .. n/2 + 1`` and
    ``k = -1 .. -n/2`` of the DFT of the counter-clockwise boundary (``n_points`` samples).
    """
    if not isinstance(n_coefficients, int) or n_coefficients < 2 or n_coefficients % 2:
        raise ValueError(
            f"n_coefficients must be an even integer >= 2 (half positive, half negative "
            f"frequencies), got {n_coefficients!r}."
        )
    if n_points < n_coefficients + 4:
        raise ValueError(
            f"n_points={n_points} is too few for {n_coefficients} coefficients; pass n_points >= "
            f"{n_coefficients + 4}."
        )
    points = largest_contour(image, threshold)
    if _signed_area(points) < 0:
        points = points[::-1]
    points = _resample(points, n_points)
    spectrum = np.fft.fft(points[:, 0] + 1j * points[:, 1])
    half = n_coefficients // 2
    scale = abs(spectrum[1])
    if scale == 0:
        raise ValueError(
            "the contour is degenerate (a point or a line); it has no shape to describe."
        )
    magnitudes = np.abs(spectrum[np.r_[2 : half + 2, -half:0]]) / scale
    # order: F_2..F_{h+1}, then F_-1..F_-h
    return np.concatenate([magnitudes[:half], magnitudes[half:][::-1]])


def fourier_descriptors(images: np.ndarray, n_coefficients: int = 16, **kwargs) -> np.ndarray:
    """(N, n_coefficients): :func:`fourier_descriptor` of every image (N, H, W[, 1])."""
    images = np.asarray(images)
    rows = []
    for index, image in enumerate(images):
        try:
            rows.append(fourier_descriptor(image, n_coefficients, **kwargs))
        except ValueError as exc:
            raise ValueError(f"image {index}: {exc}") from None
    return np.asarray(rows).reshape(len(images), n_coefficients)


def class_templates(
    x: np.ndarray,
    y: np.ndarray,
    *,
    per_class: int = 3,
    method: str = "medoids",
    seed: int = 0,
    n_coefficients: int = 16,
) -> np.ndarray:
    """(K, per_class, n_coefficients) template descriptors per class (Part 4.2.2).

    ``"medoids"`` clusters each class's descriptors (k-means, ``per_class`` clusters) and keeps
    the member nearest each centre, the thesis's "representative images found by clustering";
    ``"random"`` picks ``per_class`` members at random.
    """
    if method not in METHODS:
        raise ValueError(
            f"unknown template method {method!r}; choose one of: {', '.join(METHODS)}."
        )
    if not isinstance(per_class, int) or per_class < 1:
        raise ValueError(f"per_class must be an integer >= 1, got {per_class!r}.")
    y = np.asarray(y).reshape(-1).astype(np.int64)
    if len(y) != len(x):
        raise ValueError(f"x has {len(x)} images but y {len(y)} labels; pass matching arrays.")
    if y.min() < 0:
        raise ValueError("labels must be 0..K-1; relabel the data.")
    descriptors = fourier_descriptors(x, n_coefficients)
    rng = np.random.default_rng(seed)
    templates = []
    for label in range(int(y.max()) + 1):
        members = descriptors[y == label]
        if len(members) < per_class:
            raise ValueError(
                f"class {label} has {len(members)} images, fewer than per_class={per_class}; "
                "lower per_class or pass more images of every class."
            )
        if method == "random":
            templates.append(members[rng.choice(len(members), per_class, replace=False)])
            continue
        from sklearn.cluster import KMeans

        kmeans = KMeans(per_class, n_init=4, random_state=seed).fit(members)
        nearest = [
            int(np.argmin(((members - centre) ** 2).sum(axis=1)))
            for centre in kmeans.cluster_centers_
        ]
        templates.append(members[nearest])
    return np.stack(templates)


def template_distances(
    x: np.ndarray, templates: np.ndarray, *, num_classes: int | None = None
) -> np.ndarray:
    """(N, K): Euclidean distance of each image's descriptor to its nearest class-``k`` template.

    ``templates`` is (K, per_class, n_coefficients), class first, as :func:`class_templates` and
    :func:`printed_digit_templates` return; pass ``num_classes`` to have a swapped layout refused
    (the shape alone cannot tell (K, per_class) from (per_class, K)).
    """
    templates = np.asarray(templates, dtype=np.float64)
    if templates.ndim == 2:
        templates = templates[:, None, :]
    if templates.ndim != 3:
        raise ValueError(
            f"templates must have shape (K, per_class, n_coefficients), got {templates.shape}; "
            "build them with class_templates(x, y) or printed_digit_templates()."
        )
    if num_classes is not None and templates.shape[0] != num_classes:
        hint = (
            "the first two axes look swapped: pass templates.transpose(1, 0, 2)"
            if templates.shape[1] == num_classes
            else "build one group of templates per class"
        )
        raise ValueError(
            f"templates has {templates.shape[0]} classes on its first axis (shape "
            f"{templates.shape}) but num_classes={num_classes}; the layout is (K, per_class, "
            f"n_coefficients): {hint}."
        )
    descriptors = fourier_descriptors(x, templates.shape[-1])
    gaps = descriptors[:, None, None, :] - templates[None]
    return np.sqrt((gaps**2).sum(axis=-1)).min(axis=-1)


def printed_digits(
    size: int = 28, *, fonts: tuple[str, ...] = DIGIT_FONTS, thickness: str = "bold"
) -> np.ndarray:
    """(len(fonts), 10, size, size) grey images of the printed digits 0-9 (the thesis's first
    templates, Part 4.2.2), rendered with matplotlib's bundled fonts, white on black like MNIST."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # no pyplot, no backend switch
    from matplotlib.figure import Figure

    images = np.zeros((len(fonts), 10, size, size))
    for f, font in enumerate(fonts):
        for digit in range(10):
            figure = Figure(figsize=(1, 1), dpi=size, facecolor="black")
            canvas = FigureCanvasAgg(figure)
            figure.text(
                0.5,
                0.5,
                str(digit),
                color="white",
                ha="center",
                va="center",
                fontsize=0.95 * 72,
                family=font,
                weight=thickness,
            )
            canvas.draw()
            rgba = np.asarray(canvas.buffer_rgba(), dtype=np.float64)
            images[f, digit] = rgba[:size, :size, 0] / 255.0
    return images


def printed_digit_templates(
    n_coefficients: int = 16, *, size: int = 28, fonts: tuple[str, ...] = DIGIT_FONTS
) -> np.ndarray:
    """(10, len(fonts), n_coefficients): descriptors of :func:`printed_digits`, class first, ready
    for :func:`template_distances` (the thesis's printed-digit templates, Part 4.2.2).

    >>> printed_digit_templates(8, fonts=("DejaVu Sans",)).shape     # doctest: +SKIP
    (10, 1, 8)
    """
    images = printed_digits(size, fonts=fonts)  # (fonts, 10, size, size)
    descriptors = fourier_descriptors(images.reshape(-1, size, size), n_coefficients)
    return descriptors.reshape(len(fonts), 10, n_coefficients).transpose(1, 0, 2)


def template_quality(distances: np.ndarray, y: np.ndarray, k: int) -> float:
    """Fraction of samples whose true class is among their ``k`` nearest templates (Table 4.1)."""
    distances = np.asarray(distances, dtype=np.float64)
    y = np.asarray(y).reshape(-1).astype(np.int64)
    if distances.ndim != 2 or len(distances) != len(y):
        raise ValueError(
            f"distances must be (N, K) with one row per label, got {distances.shape} for {len(y)} "
            "labels; pass template_distances(x, templates) and the labels of x."
        )
    if not 1 <= k <= distances.shape[1]:
        raise ValueError(f"k must be in 1..{distances.shape[1]}, got {k}.")
    own = distances[np.arange(len(y)), y]
    closer = (distances < own[:, None]).sum(axis=1)  # ties count in the sample's favour
    return float(np.mean(closer < k))
