"""The tables of synaptic join (Kim's thesis, Section 3.2.1): one forward pass of the data.

* ``V`` (hidden neurons x samples): the activations of the chosen hidden layers, every unit of a
  feature map counting as one neuron (outputs are flattened in Keras's channels-last order).
* ``C`` (classes x samples): the **pre-softmax logits**, from
  :func:`automl_kit.utils.models.logits_model` (the values new synapses are added to).
* ``L`` (labels), ``MaxL`` (predicted labels, ``argmax C``), ``MaxV`` (``max C`` per sample).

``V`` may be far larger than memory (the thesis's SVHN case is 13 GB in float32). With
``directory=`` it is written to disk as row chunks of neurons, each a ``.npy`` file opened as a
memory map, and :meth:`SynapticTables.iter_chunks` streams it chunk by chunk; it is never held
whole. Without ``directory`` the same chunks are kept in memory (for small problems and tests).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from automl_kit.utils.interrupt import raise_if_stop_requested
from automl_kit.utils.validation import check_features

__all__ = ["SynapticTables", "extract_tables"]

META = "tables.json"


class SynapticTables:
    """``V`` in row chunks plus ``C``, ``L``, ``MaxL``, ``MaxV`` and per-neuron ``max |V|``."""

    def __init__(
        self,
        chunks: Sequence[np.ndarray],
        C: np.ndarray,
        labels: np.ndarray,
        layers: Sequence[tuple[str, int]],
        *,
        neuron_absmax: np.ndarray | None = None,
        directory: str | Path | None = None,
    ):
        self._chunks = list(chunks)
        self.C = np.asarray(C)
        self.labels = np.asarray(labels, dtype=np.int64)
        self.layers = [(str(n), int(s)) for n, s in layers]
        self.predicted = self.C.argmax(axis=0)
        self.max_values = self.C.max(axis=0)
        self.directory = None if directory is None else Path(directory)
        n = self.C.shape[1]
        rows = sum(c.shape[0] for c in self._chunks)
        if rows != self.n_neurons or any(c.shape[1] != n for c in self._chunks):
            raise ValueError(
                f"V has {rows} neurons in chunks of {[c.shape for c in self._chunks][:3]}... but "
                f"the layers name {self.n_neurons} and C has {n} samples; rebuild the tables "
                "with extract_tables"
            )
        if self.labels.shape != (n,):
            raise ValueError(f"L has shape {self.labels.shape}, expected ({n},) to match C")
        if neuron_absmax is None:
            neuron_absmax = np.concatenate(
                [np.abs(c).max(axis=1) if n else np.zeros(len(c)) for c in self._chunks]
            )
        self.neuron_absmax = np.asarray(neuron_absmax, dtype=np.float64)

    # -- shape -----------------------------------------------------------------------------
    @property
    def n_neurons(self) -> int:
        return sum(s for _, s in self.layers)

    @property
    def n_samples(self) -> int:
        return int(self.C.shape[1])

    @property
    def n_classes(self) -> int:
        return int(self.C.shape[0])

    @property
    def chunk_sizes(self) -> list[int]:
        return [c.shape[0] for c in self._chunks]

    def neuron(self, index: int) -> tuple[str, int]:
        """``(layer name, flat unit index)`` of global neuron ``index``."""
        return self.neuron_of(self.layers, index)

    @staticmethod
    def neuron_of(layers, index: int) -> tuple[str, int]:
        """``(layer name, flat unit index)`` of global neuron ``index`` among ``layers``."""
        for name, size in layers:
            if index < size:
                return name, int(index)
            index -= size
        raise IndexError("neuron index out of range")

    # -- reading ---------------------------------------------------------------------------
    def iter_chunks(self) -> Iterator[np.ndarray]:
        """The rows of ``V`` in order, one stored chunk at a time (memory maps when on disk)."""
        yield from self._chunks

    def rows(self, indices) -> np.ndarray:
        """``V[indices]`` as a float32 ``(len(indices), n_samples)`` array (reads only those rows)."""
        indices = np.asarray(indices, dtype=np.int64)
        out = np.empty((len(indices), self.n_samples), dtype=np.float32)
        starts = np.cumsum([0, *self.chunk_sizes])
        which = np.searchsorted(starts, indices, side="right") - 1
        for c in np.unique(which):
            sel = np.flatnonzero(which == c)
            out[sel] = self._chunks[c][indices[sel] - starts[c]]
        return out

    def with_logits(self, C: np.ndarray) -> SynapticTables:
        """The same tables with other logits ``C`` (e.g. a calibrated model's); ``V`` is shared."""
        return SynapticTables(
            self._chunks,
            C,
            self.labels,
            self.layers,
            neuron_absmax=self.neuron_absmax,
            directory=self.directory,
        )

    def accuracy(self, logits: np.ndarray | None = None) -> tuple[float, np.ndarray]:
        """Overall and per-class accuracy of ``logits`` (default ``C``) against ``L``."""
        pred = (self.C if logits is None else logits).argmax(axis=0)
        right = pred == self.labels
        per_class = np.array(
            [
                right[self.labels == k].mean() if (self.labels == k).any() else np.nan
                for k in range(self.n_classes)
            ]
        )
        return float(right.mean()), per_class

    def check_model(self, model) -> None:
        """Raise ``ValueError`` unless ``model`` has these tables' layers, sizes and classes."""
        self.check_layers(model, self.layers, self.n_classes)

    @staticmethod
    def check_layers(model, layers, num_classes: int) -> None:
        """Raise ``ValueError`` unless ``model`` has ``layers`` (name, size) and ``num_classes``."""
        from automl_kit.utils.models import logits_model

        for name, size in layers:
            layer = find_layer(model, name)
            units = math.prod(d for d in layer.output.shape[1:])
            if units != size:
                raise ValueError(
                    f"layer '{name}' of model '{model.name}' has {units} units but the tables hold "
                    f"{size}; the tables were built from another model: rebuild them with "
                    "extract_tables(model, ...)"
                )
        classes = int(logits_model(model).output.shape[-1])
        if classes != num_classes:
            raise ValueError(
                f"model '{model.name}' has {classes} classes but the tables hold {num_classes}; "
                "rebuild the tables with extract_tables(model, ...)"
            )

    # -- files -----------------------------------------------------------------------------
    @classmethod
    def load(cls, directory: str | Path) -> SynapticTables:
        """Open tables written by :func:`extract_tables` (``V`` as read-only memory maps)."""
        directory = Path(directory)
        meta_path = directory / META
        if not meta_path.is_file():
            raise ValueError(
                f"{directory} holds no {META}; build the tables with "
                "extract_tables(model, x, y, directory=...)"
            )
        meta = json.loads(meta_path.read_text())
        chunks = [np.load(directory / f, mmap_mode="r") for f in meta["chunks"]]
        return cls(
            chunks,
            np.load(directory / "C.npy"),
            np.load(directory / "L.npy"),
            [tuple(x) for x in meta["layers"]],
            neuron_absmax=np.load(directory / "absmax.npy"),
            directory=directory,
        )


def find_layer(model, name: str):
    try:
        return model.get_layer(name)
    except ValueError:
        names = [layer.name for layer in model.layers]
        raise ValueError(
            f"unknown layer '{name}' in model '{model.name}'; choose among: {', '.join(names)}"
        ) from None


def default_layers(model) -> list[str]:
    """The layer feeding the classification head (the penultimate features)."""
    from automl_kit._compat import producing_layer
    from automl_kit.utils.models import classification_head

    layer = producing_layer(classification_head(model).input)
    if layer is None:
        raise ValueError("the head is fed by the model's input; pass layers=[...] explicitly")
    return [layer.name]


def extract_tables(
    model,
    x,
    y,
    *,
    layers: Sequence[str] | None = None,
    directory: str | Path | None = None,
    batch_size: int = 256,
    chunk_size: int = 4096,
    overwrite: bool = False,
) -> SynapticTables:
    """One forward pass of ``x`` through ``model``: the tables ``V``, ``C``, ``L``, ``MaxL``, ``MaxV``.

    ``layers``: names of hidden layers whose flattened outputs form ``V`` (default: the layer
    feeding the classification head). ``directory``: where ``V`` is written as ``.npy`` chunks of
    ``chunk_size`` neurons (memory-mapped, streamed); ``None`` keeps the chunks in memory.

    >>> import keras
    >>> m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(6, activation="relu", name="h"),
    ...                       keras.layers.Dense(3, activation="softmax")])
    >>> t = extract_tables(m, np.ones((5, 4), "float32"), [0, 1, 2, 0, 1], layers=["h"])
    >>> t.n_neurons, t.n_samples, t.n_classes
    (6, 5, 3)
    """
    import keras

    from automl_kit.utils.models import logits_model

    if batch_size < 1 or chunk_size < 1:
        raise ValueError("batch_size and chunk_size must be positive integers")
    # finite and non-empty, values as given (the model was trained on them as they are)
    x = check_features(x, scale=False)
    y = np.asarray(y)
    if y.ndim == 2:
        y = y.argmax(axis=1)
    if y.ndim != 1 or len(y) != len(x):
        raise ValueError(
            f"y must hold one integer label per sample of x ({len(x)}), got shape {y.shape}"
        )
    layers = list(layers) if layers is not None else default_layers(model)
    if not layers:
        raise ValueError("layers is empty; name at least one hidden layer")
    outputs = [find_layer(model, name).output for name in layers]
    logits = logits_model(model)
    n_classes = int(logits.output.shape[-1])
    if len(y) and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"y holds labels outside 0..{n_classes - 1}, the model's classes")
    inputs = logits.inputs[0] if len(logits.inputs) == 1 else logits.inputs
    extractor = keras.Model(inputs, [*outputs, logits.output])
    sizes = [math.prod(o.shape[1:]) for o in outputs]
    n_neurons, n = sum(sizes), len(x)
    bounds = list(range(0, n_neurons, chunk_size)) + [n_neurons]

    files = []
    if directory is not None:
        directory = Path(directory)
        if (directory / META).exists() and not overwrite:
            raise ValueError(
                f"{directory} already holds tables; pass overwrite=True or another directory"
            )
        directory.mkdir(parents=True, exist_ok=True)
        chunks = []
        for c in range(len(bounds) - 1):
            files.append(f"V_{c:04d}.npy")
            chunks.append(
                np.lib.format.open_memmap(
                    directory / files[-1],
                    mode="w+",
                    dtype=np.float32,
                    shape=(bounds[c + 1] - bounds[c], n),
                )
            )
    else:
        chunks = [
            np.empty((bounds[c + 1] - bounds[c], n), np.float32) for c in range(len(bounds) - 1)
        ]
    C = np.empty((n_classes, n), np.float32)
    absmax = np.zeros(n_neurons, np.float64)
    for start in range(0, n, batch_size):
        raise_if_stop_requested("while extracting the tables")  # Ctrl-C: between batches
        out = extractor(x[start : start + batch_size], training=False)
        out = [np.asarray(keras.ops.convert_to_numpy(o)) for o in out]
        feats = np.concatenate([o.reshape(len(o), -1) for o in out[:-1]], axis=1).astype(np.float32)
        absmax = np.maximum(absmax, np.abs(feats).max(axis=0))
        for c, chunk in enumerate(chunks):
            chunk[:, start : start + len(feats)] = feats[:, bounds[c] : bounds[c + 1]].T
        C[:, start : start + len(feats)] = out[-1].T
    tables_layers = list(zip(layers, sizes))
    if directory is None:
        return SynapticTables(chunks, C, y, tables_layers, neuron_absmax=absmax)
    for chunk in chunks:
        chunk.flush()
    del chunks
    np.save(directory / "C.npy", C)
    np.save(directory / "L.npy", y.astype(np.int64))
    np.save(directory / "absmax.npy", absmax)
    meta = {
        "layers": tables_layers,
        "chunks": files,
        "n_samples": n,
        "n_classes": n_classes,
        "C": "logits",
    }
    (directory / META).write_text(json.dumps(meta, indent=1))
    return SynapticTables.load(directory)
