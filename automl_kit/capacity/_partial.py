"""What PartialDense and PartialConv2D share: chunked width, active/frozen bookkeeping, row access.

The full output width is kept as ``chunks`` separate variables (one kernel and one bias per chunk),
so that (thesis Listing 4.1, rebuilt for speed and exactness):

* only the *active* chunks ``[0, active)`` are computed; chunks beyond ``active`` cost nothing,
  and the layer's output has the active width only. The frozen chunks' kernels are concatenated
  into one matmul/conv and the trainable chunks' into another (one matmul per chunk measured
  1.4-2x a plain Dense at full width on 2 CPU cores: many small matmuls are slower than one);
* the *frozen* chunks ``[0, frozen)`` are read through ``stop_gradient`` and are left out of the
  optimizer's variable list (:class:`~automl_kit.capacity.Capacity` selects the variables), so
  momentum, Adam's moments or weight decay cannot move them: a sliced single variable did move
  (measured in the issue: 6e-3 under SGD+momentum, 3e-6 under AdamW);
* the next partial layer reads only the active inputs: it sees a narrower tensor and slices the
  input rows of its own kernels to match (the input's active width is the tensor's static width,
  so no shared state is needed: each distinct width configuration is one traced step).

Widths are counted in chunks. The symbolic (functional-API) shape of the output is the full
width, so that the next layer builds its kernels over the full input width.
"""

from __future__ import annotations

import numpy as np
from keras import ops


def check_widths(chunks: int, active: int, frozen: int, name: str = "layer") -> None:
    """Raise ``ValueError`` unless ``0 <= frozen <= active`` and ``1 <= active <= chunks``."""
    for label, value in (("active", active), ("frozen", frozen)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
            raise ValueError(
                f"{name}: {label} width is a whole number of chunks, got {value!r}; "
                f"pass an int between 0 and {chunks}."
            )
    if not 1 <= active <= chunks:
        raise ValueError(
            f"{name}: active width {active} chunks is outside 1..{chunks} (the full width); "
            f"pass 1 <= active <= chunks={chunks}."
        )
    if not 0 <= frozen <= active:
        raise ValueError(
            f"{name}: frozen width {frozen} chunks must be between 0 and the active width {active}; "
            "freeze only units that are active (frozen <= active)."
        )


def check_chunks(width: int, chunks: int, what: str = "units") -> list[int]:
    """Chunk sizes: ``width`` split into ``chunks`` near-equal parts, larger ones first.

    ``1024`` in tenths is ``[103] * 4 + [102] * 6`` (the thesis's MNIST net grows in tenths of
    widths that ten does not divide). ``ValueError`` unless ``1 <= chunks <= width``.

    >>> check_chunks(500, 5)
    [100, 100, 100, 100, 100]
    >>> check_chunks(32, 10)
    [4, 4, 3, 3, 3, 3, 3, 3, 3, 3]
    """
    if not isinstance(width, (int, np.integer)) or isinstance(width, bool) or width < 1:
        raise ValueError(f"{what} must be a whole number >= 1, got {width!r}.")
    if not isinstance(chunks, (int, np.integer)) or isinstance(chunks, bool) or chunks < 1:
        raise ValueError(
            f"chunks must be a whole number >= 1 (e.g. 5 for fifths, 10 for tenths), got {chunks!r}."
        )
    if chunks > width:
        raise ValueError(
            f"chunks={chunks} is more than {what}={width}: every chunk needs at least one unit; "
            f"use at most {width} chunks."
        )
    base, extra = divmod(int(width), int(chunks))
    return [base + (1 if k < extra else 0) for k in range(chunks)]


class PartialMixin:
    """Width bookkeeping for a layer whose output width is ``chunks`` equal chunk variables.

    Subclasses set ``self.chunks``, ``self.chunk_sizes``, ``self._active``, ``self._frozen`` and
    keep ``self.kernels``/``self.biases`` (lists, one per chunk) and ``self.input_width`` (the
    full input channel width, known once built).
    """

    chunks: int
    chunk_sizes: list[int]
    kernels: list
    biases: list
    # Eager only: when True, ``call`` stores its input and pre-activation in ``recorded``
    # (used by GradMax and the per-layer standard deviation of Section 4.3).
    recording: bool = False

    # ---------------------------------------------------------------- widths
    @property
    def active(self) -> int:
        """Active width in chunks: chunks ``[0, active)`` are computed."""
        return self._active

    @property
    def frozen(self) -> int:
        """Frozen width in chunks: chunks ``[0, frozen)`` pass through ``stop_gradient``."""
        return self._frozen

    def set_widths(self, active: int | None = None, frozen: int | None = None) -> None:
        """Set the active and/or frozen width (in chunks); weights are kept.

        A compiled step captured the old widths: change widths of a model being trained through
        :meth:`automl_kit.capacity.Capacity.set`, which swaps in the step for the new widths.
        """
        active = self._active if active is None else int(active)
        frozen = self._frozen if frozen is None else int(frozen)
        check_widths(self.chunks, active, frozen, self.name)
        self._active, self._frozen = active, frozen

    @property
    def bounds(self) -> list[int]:
        """Unit offsets of the chunks: chunk ``k`` holds units ``[bounds[k], bounds[k + 1])``."""
        return [0, *np.cumsum(self.chunk_sizes).tolist()]

    @property
    def full_width(self) -> int:
        return sum(self.chunk_sizes)

    @property
    def active_units(self) -> int:
        return self.bounds[self._active]

    @property
    def frozen_units(self) -> int:
        return self.bounds[self._frozen]

    def _groups(self) -> list[list[int]]:
        """The active chunks as computed: ``[frozen chunks], [trainable chunks]`` (empty ones left out)."""
        groups = [list(range(self._frozen)), list(range(self._frozen, self._active))]
        return [g for g in groups if g]

    def chunk_variables(self, chunk: int) -> list:
        """The kernel (and bias) variables of output chunk ``chunk``."""
        out = [self.kernels[chunk]]
        if self.biases:
            out.append(self.biases[chunk])
        return out

    def trainable_chunk_variables(self) -> list:
        """Variables of the chunks that train now: ``[frozen, active)``."""
        return [v for k in range(self._frozen, self._active) for v in self.chunk_variables(k)]

    def frozen_chunk_variables(self) -> list:
        return [v for k in range(self._frozen) for v in self.chunk_variables(k)]

    def widths(self) -> dict:
        """``{"active", "frozen"}`` in chunks and ``{"active_units", "frozen_units"}``."""
        return {
            "active": self._active,
            "frozen": self._frozen,
            "active_units": self.active_units,
            "frozen_units": self.frozen_units,
            "full_units": self.full_width,
        }

    # ---------------------------------------------------------------- weights by unit
    def unit_slice(self, start: int, stop: int) -> list[tuple[int, slice]]:
        """``[(chunk, slice within the chunk)]`` covering output units ``[start, stop)``."""
        out, bounds = [], self.bounds
        for k in range(self.chunks):
            lo, hi = max(start, bounds[k]), min(stop, bounds[k + 1])
            if lo < hi:
                out.append((k, slice(lo - bounds[k], hi - bounds[k])))
        return out

    def incoming(self, unit: int) -> tuple[np.ndarray, float]:
        """The incoming weights (kernel slice over the full input width) and bias of one unit."""
        ((k, s),) = self.unit_slice(unit, unit + 1)
        kernel = self.kernels[k].numpy()[..., s.start]
        bias = float(self.biases[k].numpy()[s.start]) if self.biases else 0.0
        return kernel, bias

    def set_incoming(self, unit: int, kernel: np.ndarray, bias: float | None = None) -> None:
        """Assign the incoming weights (and bias) of one output unit."""
        ((k, s),) = self.unit_slice(unit, unit + 1)
        values = self.kernels[k].numpy()
        values[..., s.start] = kernel
        self.kernels[k].assign(values)
        if bias is not None and self.biases:
            b = self.biases[k].numpy()
            b[s.start] = bias
            self.biases[k].assign(b)

    def input_rows(self, chunk: int, start: int, stop: int) -> np.ndarray:
        """Weights of output chunk ``chunk`` that read input channels ``[start, stop)``."""
        return self._rows(self.kernels[chunk].numpy(), start, stop)

    def set_input_rows(self, chunk: int, start: int, stop: int, values) -> None:
        """Assign the weights of output chunk ``chunk`` that read input channels ``[start, stop)``."""
        kernel = self.kernels[chunk].numpy()
        self._set_rows(kernel, start, stop, np.asarray(values, kernel.dtype))
        self.kernels[chunk].assign(kernel)

    # subclasses: how a kernel's input-channel axis is laid out
    def _rows(self, kernel: np.ndarray, start: int, stop: int) -> np.ndarray:
        raise NotImplementedError

    def _set_rows(self, kernel: np.ndarray, start: int, stop: int, values: np.ndarray) -> None:
        raise NotImplementedError

    def _width_config(self) -> dict:
        return {"chunks": self.chunks, "active": self._active, "frozen": self._frozen}

    def _add_bias(self, z, group: list[int]):
        """``z`` plus the group's biases (under ``stop_gradient`` when the group is frozen)."""
        if not self.use_bias:
            return z
        biases = [self.biases[k] for k in group]
        b = biases[0] if len(biases) == 1 else ops.concatenate(biases, axis=0)
        return z + (ops.stop_gradient(b) if group[0] < self._frozen else b)

    def _finish(self, parts: list, inputs):
        """Join the groups' outputs, record them when asked, and apply the activation."""
        z = parts[0] if len(parts) == 1 else ops.concatenate(parts, axis=-1)
        if self.recording:
            self.recorded = {"inputs": inputs, "preactivation": z}
        return self.activation(z) if self.activation is not None else z
