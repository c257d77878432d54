"""Knowledge masks: drop unlikely classes from the softmax during training (Xiao, Part 4.2.3).

Given each sample's distances to the class templates (small = similar), a 0/1 mask ``M`` keeps a
subset of the classes and the output is renormalised over it (Eq. 4.2):
``K = O * M / sum_i(O_i M_i)``. Two masks, the target class always kept:

* deterministic: the ``k`` classes nearest the sample (the target counts as one of them);
* stochastic: class ``i`` is excluded with probability ``lam * d_i / max(d)`` (Eq. 4.3), drawn
  afresh at every training step (like dropout).

The mask acts only when ``training=True``; at inference the layer returns its input unchanged.

>>> import numpy as np
>>> mask = KnowledgeMask("deterministic", k=2)
>>> probabilities = np.full((1, 4), 0.25, "float32")
>>> distances = np.array([[0.1, 0.9, 0.2, 0.5]], "float32")
>>> np.asarray(mask([probabilities, distances, np.array([3])], training=True)).round(2).tolist()
[[0.5, 0.0, 0.0, 0.5]]
>>> np.asarray(mask([probabilities, distances, np.array([3])], training=False)).tolist()
[[0.25, 0.25, 0.25, 0.25]]
"""

from __future__ import annotations

import keras

MODES = ("deterministic", "stochastic")


@keras.saving.register_keras_serializable(package="automl_kit")
class KnowledgeMask(keras.layers.Layer):
    """Training-only class mask after the softmax (Eq. 4.2, 4.3).

    Call with ``[probabilities (N, K), distances (N, K), y_true]`` (integer labels (N,) or one-hot
    (N, K)); returns the renormalised masked probabilities while training, ``probabilities``
    otherwise. ``mode="deterministic"`` needs ``k`` (1..K classes kept); ``mode="stochastic"``
    needs ``lam`` in [0, 1] and draws from ``seed``. :func:`masked_training_model` wires it
    behind a classifier for ``fit``.
    """

    def __init__(
        self,
        mode: str = "stochastic",
        *,
        k: int | None = None,
        lam: float | None = None,
        seed: int | None = None,
        epsilon: float = 1e-12,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ValueError(f"unknown mask mode {mode!r}; choose one of: {', '.join(MODES)}.")
        if mode == "deterministic" and (not isinstance(k, int) or isinstance(k, bool) or k < 1):
            raise ValueError(
                f"the deterministic mask keeps the k nearest classes: pass k as an integer >= 1, "
                f"got {k!r}."
            )
        if mode == "stochastic" and (lam is None or not 0.0 <= float(lam) <= 1.0):
            raise ValueError(
                f"the stochastic mask excludes class i with probability lam * d_i / max(d) "
                f"(Eq. 4.3): pass lam in [0, 1], got {lam!r}."
            )
        if (mode == "stochastic" and k is not None) or (
            mode == "deterministic" and lam is not None
        ):
            unused = "k" if mode == "stochastic" else "lam"
            raise ValueError(
                f"{unused} does not apply to the {mode} mask (k: deterministic, lam: stochastic); "
                f"drop {unused} or change mode."
            )
        self.mode = mode
        self.k = k
        self.lam = None if lam is None else float(lam)
        self.seed = seed
        self.epsilon = float(epsilon)
        self.seed_generator = keras.random.SeedGenerator(seed) if mode == "stochastic" else None

    def knowledge_mask(self, distances, y_true):
        """The 0/1 mask (N, K) for one training step (a fresh draw in stochastic mode)."""
        ops = keras.ops
        distances = ops.convert_to_tensor(distances)
        n_classes = distances.shape[-1]
        _check_label_range(y_true, n_classes)
        target = self._one_hot(y_true, n_classes, distances.dtype)
        if self.mode == "deterministic":
            if self.k > n_classes:
                raise ValueError(
                    f"k={self.k} exceeds the {n_classes} classes; pass k <= {n_classes}."
                )
            # the target ranks first whatever its distance, so it is always among the k kept
            ranked = ops.where(target > 0, -float("inf"), distances)
            _, nearest = ops.top_k(-ranked, k=self.k)
            return ops.minimum(
                ops.sum(ops.one_hot(nearest, n_classes, dtype=distances.dtype), 1), 1
            )
        largest = ops.max(distances, axis=-1, keepdims=True)
        scaled = distances / ops.maximum(largest, self.epsilon)
        exclusion = self.lam * scaled * (1.0 - target)  # Eq. 4.3: the target's probability is 0
        draw = keras.random.uniform(ops.shape(distances), seed=self.seed_generator)
        return ops.cast(draw >= exclusion, distances.dtype)

    def call(self, inputs, training=None):
        probabilities, distances, y_true = inputs
        if not training:
            return probabilities
        ops = keras.ops
        mask = ops.cast(
            self.knowledge_mask(ops.cast(distances, probabilities.dtype), y_true),
            probabilities.dtype,
        )
        kept = probabilities * mask
        return kept / ops.maximum(ops.sum(kept, axis=-1, keepdims=True), self.epsilon)  # Eq. 4.2

    @staticmethod
    def _one_hot(y_true, n_classes: int, dtype):
        ops = keras.ops
        y_true = ops.convert_to_tensor(y_true)
        if len(y_true.shape) == 2 and y_true.shape[-1] == n_classes and n_classes > 1:
            return ops.cast(y_true, dtype)
        return ops.one_hot(ops.cast(ops.reshape(y_true, (-1,)), "int32"), n_classes, dtype=dtype)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(mode=self.mode, k=self.k, lam=self.lam, seed=self.seed, epsilon=self.epsilon)
        return config


def _check_label_range(y_true, n_classes: int) -> None:
    """Refuse labels outside 0..K-1 (their one-hot row is empty, so no target would be kept).

    Checked when the labels are concrete values; inside a traced ``fit`` step they are symbolic,
    and there the loss (sparse cross-entropy) refuses out-of-range labels itself.
    """
    import numpy as np

    try:
        labels = np.asarray(keras.ops.convert_to_numpy(y_true))
    except Exception:  # symbolic (traced) tensor: no values to check here
        return
    if labels.ndim == 2 and labels.shape[-1] == n_classes and n_classes > 1:
        return  # one-hot rows
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(
            f"y_true holds labels outside 0..{n_classes - 1} (found {labels.min()}..{labels.max()}) "
            f"for {n_classes} distance columns; relabel the data as 0..{n_classes - 1} or pass one "
            "distance column per class."
        )


def masked_training_model(model: keras.Model, mask: KnowledgeMask) -> keras.Model:
    """``[x, distances, y] -> mask(model(x))`` for ``fit`` (Algorithm 2); predict with ``model``.

    Shares all weights with ``model``; compile it with a probability loss (e.g.
    ``sparse_categorical_crossentropy``) and fit on ``([x, distances, y], y)``.
    """
    from automl_kit.utils.models import classification_head, outputs_probabilities

    n_classes = classification_head(model).units
    if not outputs_probabilities(model):
        raise ValueError(
            "the knowledge mask acts on softmax probabilities (Eq. 4.2) but the model outputs "
            "logits; end it with a softmax (Dense(K, activation='softmax'))."
        )
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    distances = keras.Input((n_classes,), name="template_distances")
    labels = keras.Input((), dtype="int32", name="labels")
    outputs = mask([model(inputs), distances, labels])
    flat = list(model.inputs)
    return keras.Model([*flat, distances, labels], outputs, name=f"{model.name}_masked")
