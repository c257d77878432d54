"""``Capacity``: the widths of a model's partial layers, and one compiled train step per configuration."""

from __future__ import annotations

from collections.abc import Iterable

import keras

from automl_kit._compat import producing_layer
from automl_kit.capacity._partial import PartialMixin, check_widths
from automl_kit.training import TrainSteps


def partial_layers(model: keras.Model) -> list:
    """The model's :class:`PartialDense`/:class:`PartialConv2D` layers, in the model's layer order."""
    return [layer for layer in model.layers if isinstance(layer, PartialMixin)]


class _JoinError(ValueError):
    """A layer other than ``Add`` joins partial layers' outputs."""


def _producers(layer) -> list:
    """The partial layers whose outputs reach ``layer``'s input through non-partial layers.

    Pooling, activations and the like pass widths through; an ``Add`` sums its inputs, so its
    producers' widths must agree (a residual block's branch and its shortcut). Any other layer
    with several inputs (a concatenation) would shift channel positions: refused.
    """
    out, stack, seen = [], [layer.input], set()
    while stack:
        tensor = stack.pop()
        source = producing_layer(tensor)
        if source is None or id(source) in seen:
            continue
        seen.add(id(source))
        if isinstance(source, PartialMixin):
            out.append(source)
            continue
        inputs = source.input if isinstance(source.input, (list, tuple)) else [source.input]
        if len(inputs) > 1 and not isinstance(source, keras.layers.Add):
            raise _JoinError(
                f"layer {source.name!r} ({type(source).__name__}) joins several inputs between "
                "partial layers; only Add (residual sums) keeps channel positions: build the "
                "model with Add, or without partial layers before the join."
            )
        stack.extend(inputs)
    return out


def model_flops(model: keras.Model, reads: dict | None = None) -> dict:
    """Floating-point operations per example (a multiply-add counts 2) of a conv/dense net.

    Partial layers count their active inputs (the producers' active units) and active outputs;
    plain ``Conv2D``/``Dense`` layers their full widths. ``forward``: the matmuls and
    convolutions; ``train``: forward + the gradient with respect to each layer's input (as
    costly as its forward; none for a layer reading the model's input) + the gradient with
    respect to the trainable weights only (frozen chunks need none: the saving freezing buys).
    Pooling, adds and activations are left out (a few percent of a conv net).

    >>> from automl_kit.capacity import partial_mlp
    >>> model_flops(partial_mlp(3, 1, hidden=(10,), chunks=5, active=1))  # 3->2->1: 2*(6+2)
    {'forward': 16.0, 'train': 36.0}
    """
    if reads is None:
        reads = {l.name: _producers(l) for l in partial_layers(model)}
    forward = backward = 0.0
    for layer in model.layers:
        if isinstance(layer, PartialMixin):
            producers = reads[layer.name]
            inputs = producers[0].active_units if producers else layer.input_width
            outputs, trainable = layer.active_units, layer.active_units - layer.frozen_units
            positions = getattr(layer, "positions", 1)
            first = not producers
        elif isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            inputs, outputs = int(layer.input.shape[-1]), int(layer.output.shape[-1])
            trainable = outputs if layer.trainable else 0
            positions = 1
            first = producing_layer(layer.input) is None
        else:
            continue
        per_output = 2.0 * inputs * positions
        if len(layer.output.shape) == 4:  # a convolution: per output position, per tap
            height, width = layer.output.shape[1:3]
            per_output *= layer.kernel_size[0] * layer.kernel_size[1] * height * width
        forward += per_output * outputs
        backward += per_output * trainable + (0.0 if first else per_output * outputs)
    return {"forward": forward, "train": forward + backward}


class Capacity:
    """Width state of a compiled model built from partial layers, for ``fit`` and custom loops.

    Who reads whom comes from the functional graph: a partial layer's *consumers* are the partial
    layers its output reaches through non-partial layers (pooling, activations, ``Add``), and
    they read only its active channels; layers summed by an ``Add`` (a residual branch and its
    shortcut) are *tied*: they share widths and grow together, so the sum stays well-defined
    (a model without a functional graph is read as a chain in ``model.layers`` order). Changing widths
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
        self._graph()
        self.steps = TrainSteps(model)  # builds the optimizer over all chunks
        partial = {id(v) for layer in self.layers for v in layer.trainable_variables}
        self._shared = [v for v in model.trainable_variables if id(v) not in partial]
        self._functions: dict[tuple, object] = {}
        self.compilations = 0
        self.activate()

    def _graph(self) -> None:
        """Who reads whom: producers per layer (from the functional graph, else the layer
        order) and tied groups (layers summed by an ``Add`` share their widths)."""
        try:
            reads = {layer.name: _producers(layer) for layer in self.layers}
        except _JoinError:
            raise
        except (AttributeError, ValueError):
            # no functional graph (a subclassed model): each partial layer feeds the next
            reads = {b.name: [a] for a, b in zip(self.layers, self.layers[1:])}
            reads[self.layers[0].name] = []
        order = {layer.name: i for i, layer in enumerate(self.layers)}
        self._reads = {n: sorted(p, key=lambda l: order[l.name]) for n, p in reads.items()}
        self._ties = {layer.name: [layer] for layer in self.layers}
        for producers in self._reads.values():
            if len(producers) < 2:
                continue
            first = producers[0]
            for other in producers[1:]:
                if other.chunk_sizes != first.chunk_sizes:
                    raise ValueError(
                        f"{first.name} and {other.name} are summed (a residual Add) but have "
                        f"chunks {first.chunk_sizes} and {other.chunk_sizes}; give both the "
                        "same width and number of chunks."
                    )
            group = []
            for layer in producers:
                for member in self._ties[layer.name]:
                    if member not in group:
                        group.append(member)
            group.sort(key=lambda l: order[l.name])
            for member in group:
                self._ties[member.name] = group
        for group in self._ties.values():
            widths = {(l.active, l.frozen) for l in group}
            if len(widths) > 1:
                raise ValueError(
                    f"layers {[l.name for l in group]} are summed by a residual Add but have "
                    f"different (active, frozen) widths {sorted(widths)}; give them equal widths."
                )

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

    def consumers(self, layer) -> list:
        """The partial layers that read ``layer``'s output (through pooling, ``Add`` and the like)."""
        layer = self.layer(layer)
        return [c for c in self.layers if any(p is layer for p in self._reads[c.name])]

    def consumer(self, layer) -> PartialMixin | None:
        """The one partial layer that reads ``layer``'s output, or None for the last.

        ``ValueError`` when several do (a residual stream): use :meth:`consumers`.
        """
        found = self.consumers(layer)
        if len(found) > 1:
            raise ValueError(
                f"{self.layer(layer).name} feeds {[c.name for c in found]}; use consumers()."
            )
        return found[0] if found else None

    def producers(self, layer) -> list:
        """The partial layers whose outputs ``layer`` reads (several behind a residual ``Add``)."""
        return list(self._reads[self.layer(layer).name])

    def tied(self, layer) -> list:
        """``layer`` and the layers summed with it by a residual ``Add``: they share widths."""
        return list(self._ties[self.layer(layer).name])

    def frozen_after(self, layer) -> int:
        """``layer``'s frozen width (chunks) once the growth under way is done (for starts)."""
        layer = self.layer(layer)
        return getattr(self, "_pending", {}).get(layer.name, layer.frozen)

    def input_units(self, layer) -> int:
        """How many input channels ``layer`` reads now (its producers' active units)."""
        producers = self._reads[self.layer(layer).name]
        return producers[0].active_units if producers else self.layer(layer).input_width

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
        """Set ``layer``'s widths and those of the layers tied to it (a residual sum)."""
        active = layer.active if active is None else active
        frozen = layer.frozen if frozen is None else frozen
        check_widths(layer.chunks, active, frozen, layer.name)  # before touching any weight
        for member in self.tied(layer):
            if active > member.active:
                self._clear_frozen_rows(member, member.active_units, member.bounds[active])
            member.set_widths(active, frozen)

    def set_widths(self, widths: dict) -> None:
        """Set several layers at once: ``{name: (active, frozen)}``; one step installed at the end."""
        for name, (active, frozen) in widths.items():
            self._change(self.layer(name), active, frozen)
        self.activate()

    def restore_widths(self, widths: dict) -> None:
        """Put back saved widths ``{name: (active, frozen)}`` as they are: no weight is touched
        (a resumed run's weights already hold what each growth did to them)."""
        for name, (active, frozen) in widths.items():
            layer = self.layer(name)
            check_widths(layer.chunks, int(active), int(frozen), layer.name)
        for name, (active, frozen) in widths.items():
            self.layer(name).set_widths(int(active), int(frozen))
        self.activate()

    def freeze_all(self, frozen: bool = True) -> None:
        """Freeze every active chunk (``frozen=True``) or unfreeze everything (``False``)."""
        for layer in self.layers:
            layer.set_widths(frozen=layer.active if frozen else 0)
        self.activate()

    def flops(self) -> dict:
        """Training cost per example at the current widths: see :func:`model_flops`."""
        return model_flops(self.model, self._reads)

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
        :class:`~automl_kit.capacity.starts.GrowthStart` or its name, default zero outgoing weights) sets the
        new units' weights before they join; ``data`` is a probe batch ``(x, y)`` for starts that
        need one (GradMax). Returns ``{name: (old_active, new_active)}`` of the layers that grew.
        """
        from automl_kit.capacity.starts import get_start

        if not isinstance(step, int) or step < 1:
            raise ValueError(f"growth step is a whole number of chunks >= 1, got {step!r}.")
        start = get_start("zero_outgoing" if start is None else start)
        chosen = self.growable() if layers is None else [self.layer(l) for l in layers]
        # a layer summed with others (a residual branch and its shortcut) grows with them
        chosen = [m for l in chosen for m in self.tied(l)]
        chosen = [l for l in self.layers if any(l is c for c in chosen)]
        if not start.supports_normalization and any(getattr(l, "normalize", False) for l in chosen):
            raise ValueError(
                f"the {start.name!r} start does not support batch-normalised partial layers "
                "(normalize=True); use 'zero_outgoing', 'keep_init' or 'net2net'."
            )
        plan = {}
        for layer in chosen:
            new = min(layer.chunks, layer.active + step)
            if new > layer.active:
                plan[layer.name] = (layer.active, new)
        # every start sees the network as it is now (GradMax measures gradients first), and
        # may ask which chunks will be frozen after the growth (frozen_after)
        self._pending = {
            name: old if freeze else self.layer(name).frozen for name, (old, _) in plan.items()
        }
        try:
            for name, (old, new) in plan.items():
                layer = self.layer(name)
                start.initialize(self, layer, layer.bounds[old], layer.bounds[new], data)
        finally:
            self._pending = {}
        for name, (old, new) in plan.items():
            layer = self.layer(name)
            layer.set_widths(active=new, frozen=old if freeze else layer.frozen)
        # then the units frozen now (some just frozen) ignore every new input
        for name, (old, new) in plan.items():
            layer = self.layer(name)
            self._clear_frozen_rows(layer, layer.bounds[old], layer.bounds[new])
        if plan:
            self.activate()
        return plan

    def _clear_frozen_rows(self, layer, start: int, stop: int) -> None:
        """Frozen units of the consumer read new inputs ``[start, stop)`` with zero weights.

        A frozen unit cannot learn what to do with a new input, so it ignores it: its output
        stays exactly what it was when it froze.
        """
        for consumer in self.consumers(layer):
            for chunk in range(consumer.frozen):
                rows = consumer.input_rows(chunk, start, stop)
                consumer.set_input_rows(chunk, start, stop, rows * 0)
