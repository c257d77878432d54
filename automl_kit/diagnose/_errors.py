"""Error analysis (seed 002/003, "Error Analysis and Overgoing Troubles").

The most confidently wrong examples (an image grid), and the deck's table of error categories
(too big, blurry, mislabeled, ... with a "% of total" row): :func:`error_table` writes it as a
CSV a user fills in (1 in a category column), :func:`tally_error_categories` counts it back.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

# The deck's columns; a user may add their own to the CSV.
ERROR_CATEGORIES = (
    "too_big",
    "blurry",
    "mislabeled",
    "data_distribution",
    "weak_class_representation",
)


def confident_errors(
    probabilities: np.ndarray,
    y: Sequence[int] | np.ndarray,
    k: int = 16,
    rows: Sequence[int] | np.ndarray | None = None,
) -> list[dict]:
    """The ``k`` wrongly classified samples the model was most sure of, most confident first.

    Each entry: ``position`` (in the arrays given), ``row`` (``Dataset.index_*``: the source
    row; the position when ``rows`` is None), ``true``, ``predicted``, ``confidence`` (the
    predicted class's probability) and ``true_probability``.

    >>> p = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    >>> [e["position"] for e in confident_errors(p, [1, 1, 1, 0])]
    [0, 3, 2]
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    if probabilities.ndim != 2 or len(probabilities) != len(y):
        raise ValueError(
            f"probabilities must have shape (n, classes) with n = len(y) = {len(y)}, "
            f"got {probabilities.shape}."
        )
    rows = np.arange(len(y)) if rows is None else np.asarray(rows)
    predicted = probabilities.argmax(axis=1)
    confidence = probabilities[np.arange(len(y)), predicted]
    wrong = np.flatnonzero(predicted != y)
    order = wrong[np.argsort(-confidence[wrong], kind="stable")][: max(int(k), 0)]
    return [
        {
            "position": int(i),
            "row": int(rows[i]),
            "true": int(y[i]),
            "predicted": int(predicted[i]),
            "confidence": float(confidence[i]),
            "true_probability": float(probabilities[i, y[i]]),
        }
        for i in order
    ]


def plot_error_grid(
    images: np.ndarray,
    errors: list[dict],
    path: str | os.PathLike,
    class_names: Sequence[str] | None = None,
    columns: int = 8,
) -> Path:
    """An image grid of ``errors`` (from :func:`confident_errors`) titled true -> predicted.

    ``images[i]`` is the image of ``errors[i]`` (shape (H, W) or (H, W, C)).
    """
    from automl_kit.utils.plotting import pyplot

    if len(images) != len(errors):
        raise ValueError(f"{len(images)} images for {len(errors)} errors; pass one per error.")
    if not errors:
        raise ValueError("no errors to plot: the model classified every sample correctly.")
    plt = pyplot()
    names = class_names or [
        str(i) for i in range(1 + max(max(e["true"], e["predicted"]) for e in errors))
    ]
    columns = min(columns, len(errors))
    rows = -(-len(errors) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(1.6 * columns, 1.9 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, image, error in zip(axes.ravel(), images, errors):
        image = np.asarray(image, dtype=np.float32)
        if image.ndim == 3 and image.shape[-1] == 1:
            image = image[..., 0]
        low, high = float(image.min()), float(image.max())
        # rescale for display only: data may be standardised or in [0, 255]
        image = (image - low) / (high - low) if high > low else np.zeros_like(image)
        ax.imshow(image, cmap="gray" if image.ndim == 2 else None)
        ax.set_title(
            f"{names[error['true']]}->{names[error['predicted']]}\n"
            f"{error['confidence']:.2f} row {error['row']}",
            fontsize=7,
        )
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def error_table(
    errors: list[dict],
    path: str | os.PathLike,
    class_names: Sequence[str] | None = None,
    categories: Sequence[str] = ERROR_CATEGORIES,
) -> Path:
    """The deck's error-category table as a CSV to tag: one row per error, one empty column
    per category (write 1 where it applies) and ``comments``."""
    path = Path(path)
    fields = ["row", "true", "predicted", "confidence", *categories, "comments"]
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for e in errors:
            name = (lambda c: class_names[c]) if class_names else str
            writer.writerow(
                {
                    "row": e["row"],
                    "true": name(e["true"]),
                    "predicted": name(e["predicted"]),
                    "confidence": f"{e['confidence']:.4f}",
                    **{c: "" for c in categories},
                    "comments": "",
                }
            )
    return path


def tally_error_categories(path: str | os.PathLike) -> dict[str, float]:
    """The deck's "% of total" row of a tagged :func:`error_table` CSV: for each category, the
    fraction of rows tagged (any of ``1``, ``x``, ``yes``, ``true``)."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        raise ValueError(f"{path} holds no errors to tally.")
    fixed = {"row", "true", "predicted", "confidence", "comments"}
    categories = [c for c in rows[0] if c not in fixed]
    tagged = ("1", "x", "yes", "true", "y", "✓")
    return {
        c: sum(str(r.get(c) or "").strip().lower() in tagged for r in rows) / len(rows)
        for c in categories
    }
