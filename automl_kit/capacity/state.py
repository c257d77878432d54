"""``Capacity``: the widths of a model's partial layers, and one compiled train step per configuration."""

from __future__ import annotations

from collections.abc import Iterable

import keras

from automl_kit.capacity._partial import PartialMixin, check_widths
from automl_kit.training import TrainSteps


def partial_layers(model: keras.Model) -> list:
    """The model's :class:`PartialDense`/:class:`PartialConv2D` layers, in the model's layer order."""
    return [layer for layer in model.layers if isinstance(layer, PartialMixin)]


class Capacity:
    """Width state of a compiled model built from partial layers, for ``fit`` and custom loops.

    The chain of partial layers is read in ``model.layers`` order: each partial layer feeds the
    next (its *consumer*), which reads only the producer's active channels. Changing widths
    through :meth:`set`/:meth:`grow` installs the compiled train step of the new configuration
    (one per distinct tuple of ``(active, frozen)`` widths, cached; built with
    :meth:`automl_kit.training.TrainSteps.make_step`, the optimizer built over every chunk up
    front so slots survive), and clears the predict/evaluate functions, which captured the old
    widths. The step trains the non-partial variables and the chunks ``[frozen, active)`` only:
    frozen and inactive chunks are not in its variable list.

    >>> cap = Capacity(model)                                   # doctest: +SKIP
    >>> cap.set("hidden", active=1); model.fit(x, y)            # doctest: +SKIP
    >>> cap.grow("hidden", freeze=True)  # 2 chunks, the first frozen  # doctest: +SKIP
    """

    def __init__(self, model: keras.Model):
        if getattr(model, "optimizer", None) is None:
            raise ValueError("compile the model (optimizer and loss) before building Capacity.")
        self.model = model
        self.layers = partial_layers(model)
        if not self.layers:
            raise ValueError(
                f"model {model.name!r} has no PartialDense/PartialConv2D layer; build it with "
                "automl_kit.capacity layers (e.g. partial_mlp)."
            )
        if not model.built:
            raise ValueError("build the model (call it once or give it an Input) before Capacity.")
        self.steps = TrainSteps(model)  # builds the optimizer over all chunks
        partial = {id(v) for layer in self.layers for v in layer.trainable_variables}
        self._shared = [v for v in model.trainable_variables if id(v) not in partial]
        self._functions: dict[tuple, object] = {}
        self.compilations = 0
        self.activate()

    # ---------------------------------------------------------------- lookups
    def layer(self, layer) -> PartialMixin:
        """A partial layer given itself or its name."""
        if isinstance(layer, PartialMixin):
            return layer
        for candidate in self.layers:
            if candidate.name == layer:
                return candidate
        raise ValueError(
            f"no partial layer named {layer!r}; choose one of: "
            f"{', '.join(repr(l.name) for l in self.layers)}."
        )

    def consumer(self, layer) -> PartialMixin | None:
        """The partial layer that reads ``layer``'s output (the next one), or None for the last."""
        index = self.layers.index(self.layer(layer))
        return self.layers[index + 1] if index + 1 < len(self.layers) else None

    def growable(self) -> list:
        """Partial layers with more than one chunk (the head, one chunk, never grows)."""
        return [layer for layer in self.layers if layer.chunks > 1]

    def config(self) -> tuple:
        """``((active, frozen), ...)`` per partial layer: the cache key of the compiled step."""
        return tuple((layer.active, layer.frozen) for layer in self.layers)

    def widths(self) -> dict:
        """``{layer name: {"active", "frozen", "active_units", "frozen_units", "full_units"}}``."""
        return {layer.name: layer.widths() for layer in self.layers}

    def trainable_variables(self) -> list:
        """What the current step trains: non-partial variables and every layer's ``[frozen, active)``."""
        out = list(self._shared)
        for layer in self.layers:
            out += layer.trainable_chunk_variables()
        return out

    def at_full_width(self) -> bool:
        return all(layer.active == layer.chunks for layer in self.growable())

    # ---------------------------------------------------------------- changing widths
    def activate(self) -> None:
        """Install the compiled step of the current widths; forget traced predict/evaluate steps."""
        key = self.config()
        if key not in self._functions:
            model = self.model
            # make_train_function compiles whatever `train_step` is; shadow it for this build only
            model.train_step = self.steps.make_step(self.trainable_variables())
            try:
                model.make_train_function(force=True)
                self._functions[key] = model.train_function
                self.compilations += 1
            finally:
                del model.train_step
        self.model.train_function = self._functions[key]
        self.model.predict_function = None
        self.model.test_function = None

    def set(self, layer, active: int | None = None, frozen: int | None = None) -> None:
        """Set one layer's widths (chunks) and install the matching step."""
        layer = self.layer(layer)
        self._change(layer, active, frozen)
        self.activate()

    def _change(self, layer, active, frozen) -> None:
        active = layer.active if active is None else active
        frozen = layer.frozen if frozen is None else frozen
        check_widths(layer.chunks, active, frozen, layer.name)  # before touching any weight
        if active > layer.active:
            self._clear_frozen_rows(layer, layer.active_units, layer.bounds[active])
        layer.set_widths(active, frozen)

    def set_widths(self, widths: dict) -> None:
        """Set several layers at once: ``{name: (active, frozen)}``; one step installed at the end."""
        for name, (active, frozen) in widths.items():
            self._change(self.layer(name), active, frozen)
        self.activate()

    def freeze_all(self, frozen: bool = True) -> None:
        """Freeze every active chunk (``frozen=True``) or unfreeze everything (``False``)."""
        for layer in self.layers:
            layer.set_widths(frozen=layer.active if frozen else 0)
        self.activate()

    def grow(
        self,
        layers: Iterable | None = None,
        *,
        step: int = 1,
        freeze: bool = True,
        start=None,
        data=None,
    ) -> dict:
        """Grow ``layers`` (default: every growable layer) by ``step`` chunks.

        ``freeze`` freezes what was active (the thesis's adaptive net); ``start`` (a
        :class:`~automl_kit.capacity.starts.GrowthStart`, default zero outgoing weights) sets the
        new units' weights before they join; ``data`` is a probe batch ``(x, y)`` for starts that
        need one (GradMax). Returns ``{name: (old_active, new_active)}`` of the layers that grew.
        """
        from automl_kit.capacity.starts import ZeroOutgoing

        if not isinstance(step, int) or step < 1:
            raise ValueError(f"growth step is a whole number of chunks >= 1, got {step!r}.")
        start = ZeroOutgoing() if start is None else start
        chosen = self.growable() if layers is None else [self.layer(l) for l in layers]
        plan = {}
        for layer in chosen:
            new = min(layer.chunks, layer.active + step)
            if new > layer.active:
                plan[layer.name] = (layer.active, new)
        # every start sees the network as it is now (GradMax measures gradients first)
        for name, (old, new) in plan.items():
            layer = self.layer(name)
            start.initialize(self, layer, layer.bounds[old], layer.bounds[new], data)
        for name, (old, new) in plan.items():
            layer = self.layer(name)
            self._clear_frozen_rows(layer, layer.bounds[old], layer.bounds[new])
            layer.set_widths(active=new, frozen=old if freeze else layer.frozen)
        if plan:
            self.activate()
        return plan

    def _clear_frozen_rows(self, layer, start: int, stop: int) -> None:
        """Frozen units of the consumer read new inputs ``[start, stop)`` with zero weights.

        A frozen unit cannot learn what to do with a new input, so it ignores it: its output
        stays exactly what it was when it froze.
        """
        consumer = self.consumer(layer)
        if consumer is None:
            return
        for chunk in range(consumer.frozen):
            rows = consumer.input_rows(chunk, start, stop)
            consumer.set_input_rows(chunk, start, stop, rows * 0)
