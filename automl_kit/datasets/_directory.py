"""The user's own images, one folder per class: ``from_directory``."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from automl_kit.datasets._build import TEST_FRACTION, Part, build
from automl_kit.datasets._dataset import Dataset, DatasetNotAvailableError
from automl_kit.utils.validation import check_features

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
SPLIT_FOLDERS = {"train": ("train",), "val": ("val", "validation"), "test": ("test",)}


def _class_folders(folder: Path) -> list[str]:
    return sorted(d.name for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))


def _first_image(folder: Path) -> Path:
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for file in sorted(files):
            if file.lower().endswith(IMAGE_SUFFIXES):
                return Path(root) / file
    raise DatasetNotAvailableError(
        f"{folder} holds no images ({', '.join(IMAGE_SUFFIXES)}); put each class's images in a "
        "folder of its own, e.g. data/cat/1.png, data/dog/2.png."
    )


def _read_folder(
    folder: Path, class_names: list[str], image_size: tuple[int, int], color_mode: str
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Pixels (uint8, as the files hold them), labels indexed by ``class_names``, file paths."""
    import keras

    present = _class_folders(folder)
    unknown = sorted(set(present) - set(class_names))
    if unknown:
        raise ValueError(
            f"{folder} has class folders {unknown} that the training folder lacks; every class "
            "needs training images: add them to the training folder or remove them here."
        )
    dataset = keras.utils.image_dataset_from_directory(
        folder,
        labels="inferred",
        label_mode="int",
        class_names=present,
        color_mode=color_mode,
        batch_size=256,
        image_size=image_size,
        shuffle=False,
        verbose=False,
    )
    xs, ys = [], []
    for x_batch, y_batch in dataset.as_numpy_iterator():
        xs.append(x_batch)
        ys.append(y_batch)
    if not xs:
        raise DatasetNotAvailableError(f"{folder} holds no images in its class folders.")
    # Re-index labels by the training folder's classes (this folder may lack some).
    remap = np.array([class_names.index(c) for c in present], dtype=np.int64)
    pixels = np.clip(np.round(np.concatenate(xs)), 0, 255).astype(np.uint8)
    return pixels, remap[np.concatenate(ys)], [str(p) for p in dataset.file_paths]


def from_directory(
    path: str | os.PathLike,
    *,
    image_size: tuple[int, int] | None = None,
    color_mode: str | None = None,
    n_train: int | None = None,
    n_val: int | None = None,
    n_test: int | None = None,
    seed: int = 0,
    test_fraction: float = TEST_FRACTION,
    name: str | None = None,
) -> Dataset:
    """Images in one folder per class, read through ``keras.utils.image_dataset_from_directory``.

    Layouts: ``path/<class>/*.png`` (validation and test are then drawn from it, as in
    :func:`from_arrays`), or ``path/train/<class>/`` with ``path/test/<class>/`` and/or
    ``path/val/<class>/`` (or ``validation/``) kept as given. Classes are the training class
    folders in sorted order. ``image_size`` ((height, width); default: the first image's size)
    resizes every image; ``color_mode`` ("grayscale", "rgb", "rgba"; default: "grayscale" if
    the first image is single-channel, else "rgb"). Pixels are scaled to [0, 1] (a
    :class:`~automl_kit.utils.validation.DataWarning` says so); ``files[index_<split>]``
    names each sample's file.

    >>> import pathlib, tempfile, warnings
    >>> import numpy as np
    >>> from PIL import Image
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for i in range(20):
    ...     folder = root / ("cat", "dog")[i % 2]
    ...     folder.mkdir(exist_ok=True)
    ...     Image.fromarray(np.full((4, 6), 10 * i, np.uint8)).save(folder / f"{i}.png")
    >>> with warnings.catch_warnings():  # the DataWarning about scaling to [0, 1]
    ...     warnings.simplefilter("ignore")
    ...     data = from_directory(root)
    >>> data.class_names, data.input_shape, len(data.y_test)
    (('cat', 'dog'), (4, 6, 1), 4)
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        raise DatasetNotAvailableError(f"{root} is not a folder; pass a folder of class folders.")
    subfolders = {d.name.lower(): d for d in root.iterdir() if d.is_dir()}
    split_dirs = {
        split: next((subfolders[n] for n in names if n in subfolders), None)
        for split, names in SPLIT_FOLDERS.items()
    }
    if split_dirs["train"] is None:
        if split_dirs["test"] is not None or split_dirs["val"] is not None:
            raise ValueError(
                f"{root} has a test/ or val/ folder but no train/ folder; put the training "
                "images in train/<class>/."
            )
        split_dirs["train"] = root
    class_names = _class_folders(split_dirs["train"])
    if len(class_names) < 2:
        raise ValueError(
            f"{split_dirs['train']} has {len(class_names)} class folder(s) {class_names}; a "
            "classifier needs one folder per class and at least two classes."
        )
    first = _first_image(split_dirs["train"])
    if image_size is None or color_mode is None:
        from PIL import Image

        with Image.open(first) as image:
            width, height = image.size
            mode = image.mode
        image_size = image_size or (height, width)
        color_mode = color_mode or ("grayscale" if mode in ("1", "L", "I", "I;16", "F") else "rgb")
    image_size = tuple(int(s) for s in image_size)
    if len(image_size) != 2 or min(image_size) < 1:
        raise ValueError(
            f"image_size must be (height, width) with positive sizes, got {image_size}."
        )

    parts: dict[str, Part] = {}
    files: list[str] = []
    for split, folder in split_dirs.items():
        if folder is None:
            continue
        x, y, paths = _read_folder(folder, class_names, image_size, color_mode)
        x = check_features(x, name=f"images of {folder}", rank=4)
        parts[split] = Part(x, y, np.arange(len(files), len(files) + len(y), dtype=np.int64))
        files.extend(paths)
    given = [s for s in ("val", "test") if s in parts]
    source = f"{root} ({image_size[0]}x{image_size[1]} {color_mode}"
    source += f"; {', '.join(given)} as given)" if given else ")"
    return build(
        name or root.name,
        parts["train"],
        val=parts.get("val"),
        test=parts.get("test"),
        class_names=tuple(class_names),
        n_train=n_train,
        n_val=n_val,
        n_test=n_test,
        seed=seed,
        source=source,
        files=tuple(files),
        test_fraction=test_fraction,
    )
