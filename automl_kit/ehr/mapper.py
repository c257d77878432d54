"""Patients as images (Xiao, thesis Sec. 5.2.1): related codes in neighbouring pixels, time
windows as channels.

``EHRImageMapper.fit`` measures the relations P(rx | dx) (Eq. 5.1), lays the codes out on a
``height x width`` grid with a layout maker (the thesis's GA by default, Alg. 3; or ``random``,
``embedding``, ``igtd``) and learns each code's scale; ``transform`` turns each patient's counts
per code and window into an image ``(height, width, n_windows)``: pixel = ``min(1, count /
scale)``, where ``scale`` is the code's largest count per window in the training patients (one
scale for all windows, so that a rising count stays rising across channels; a count above
the training maximum saturates at 1). Empty cells are 0.

>>> from automl_kit.datasets import ehr_example
>>> mapper = EHRImageMapper(layout="random").fit(ehr_example())
>>> images = mapper.transform(ehr_example())
>>> images.shape, float(images.min()), float(images.max())
((3, 2, 2, 3), 0.0, 1.0)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator

from automl_kit.ehr.fitness import check_layout
from automl_kit.ehr.layouts.base import (
    LayoutMaker,
    LayoutProblem,
    LayoutResult,
    feature_distances,
    grid_shape,
)
from automl_kit.ehr.relations import SCOPES, conditional_probabilities
from automl_kit.utils.io import read_json, write_json
from automl_kit.utils.validation import DataWarning


def counts_to_images(
    counts: np.ndarray, layout: np.ndarray, shape: tuple[int, int], scale: np.ndarray
) -> np.ndarray:
    """``(N, features, windows)`` counts -> ``(N, rows, cols, windows)`` float32 in [0, 1]."""
    counts = np.asarray(counts, dtype=np.float32)
    if counts.ndim != 3:
        raise ValueError(
            f"counts must be (patients, features, windows), got shape {counts.shape}; "
            "EHRTables.counts() gives them."
        )
    n, n_features, windows = counts.shape
    if n_features != len(scale):
        raise ValueError(
            f"counts hold {n_features} features, the layout {len(scale)}; pass the counts of the "
            "codes the mapper was fitted on (tables.counts(codes=mapper.features_))."
        )
    if not np.all(np.isfinite(counts)) or counts.min(initial=0) < 0:
        raise ValueError("counts must be finite and >= 0 (numbers of events).")
    values = np.minimum(1.0, counts / np.asarray(scale, np.float32)[None, :, None])
    cells = shape[0] * shape[1]
    flat = np.zeros((n, cells, windows), dtype=np.float32)
    occupied = np.flatnonzero(layout >= 0)
    flat[:, occupied] = values[:, layout[occupied]]
    return flat.reshape(n, shape[0], shape[1], windows)


class EHRImageMapper(BaseEstimator):
    """Map EHR tables to images: ``fit(tables)``, ``transform(tables) -> (N, H, W, windows)``.

    ``width``/``height``: the grid (default: the smallest square holding every code);
    ``layout``: a name of ``automl_kit.registries.LAYOUTS`` or a :class:`LayoutMaker`;
    ``layout_options``: its settings (e.g. ``{"generations": 2000}`` for the GA); ``scope``:
    the co-occurrence unit of Eq. 5.1; ``n_neighbours``/``penalty``: the fitness's n and the T_i
    of a treatment without an adjacent related diagnosis. Fitted: ``features_`` (codes, in
    feature order), ``shape_``, ``layout_`` (cells: feature index or -1), ``scale_``,
    ``relations_``, ``fitness_`` (the layout's fitness), ``fitness_history_`` (the GA's best
    fitness so far per generation), ``layout_result_``, ``demographic_names_`` (the encoded
    demographic columns of the training tables).

    :meth:`to_X` gives the model input of :class:`CNNBoostedClassifier` (counts of
    ``features_`` feature-major, then the demographics encoded as in training); :meth:`save`
    and :meth:`load` keep a fitted mapper as JSON + ``.npy``. A scikit-learn estimator
    (``clone``, ``get_params``); note that it is label-free, so a mapper fitted on all patients
    and reused inside cross-validation has seen the folds' test patients' codes (a small leak:
    fit it on the training patients, as ``to_X`` of a split does).
    """

    def __init__(
        self,
        width: int | None = None,
        height: int | None = None,
        layout: str | LayoutMaker = "ga",
        *,
        layout_options: dict | None = None,
        scope: str = "window",
        n_neighbours: int = 5,
        penalty: float | None = None,
        seed: int = 0,
        verbose: int = 0,
    ):
        from automl_kit.registries import LAYOUTS

        if scope not in SCOPES:
            raise ValueError(f"unknown scope {scope!r}; choose one of: {', '.join(SCOPES)}.")
        if not isinstance(layout, LayoutMaker):
            LAYOUTS.get(layout)  # an unknown name: the registry's one wording, before any work
        self.width, self.height, self.layout = width, height, layout
        self.layout_options = layout_options  # as given (sklearn's clone checks identity)
        self.scope, self.n_neighbours, self.penalty = scope, int(n_neighbours), penalty
        self.seed, self.verbose = int(seed), int(verbose)
        grid_shape(1, width, height)  # width/height checked now

    def get_config(self) -> dict:
        layout = self.layout if isinstance(self.layout, str) else self.layout.name
        options = dict(self.layout_options or {})
        if isinstance(self.layout, LayoutMaker):
            options = {k: v for k, v in self.layout.get_config().items() if k not in ("seed",)}
        return {
            "width": self.width,
            "height": self.height,
            "layout": layout,
            "layout_options": options,
            "scope": self.scope,
            "n_neighbours": self.n_neighbours,
            "penalty": self.penalty,
            "seed": self.seed,
            "verbose": self.verbose,
        }

    @classmethod
    def from_config(cls, config: dict) -> EHRImageMapper:
        return cls(**config)

    def _maker(self) -> LayoutMaker:
        from automl_kit.registries import LAYOUTS

        if isinstance(self.layout, LayoutMaker):
            return self.layout
        options = {"verbose": self.verbose, **(self.layout_options or {}), "seed": self.seed}
        try:
            return LAYOUTS.create(self.layout, **options)
        except TypeError as error:  # a misspelled option: name the valid ones (its config's keys)
            defaults = LAYOUTS.create(self.layout).get_config()
            valid = sorted(set(defaults) - {"seed", "verbose"})
            raise ValueError(
                f"layout_options {sorted(self.layout_options or {})} do not fit layout "
                f"{self.layout!r} ({error}); its options are {valid}."
            ) from None

    # ---- fitting -------------------------------------------------------------------------
    def fit(
        self,
        tables,
        patients=None,
        *,
        lookback_days: int | None = None,
        n_windows: int = 3,
        run_dir=None,
        resume: bool = False,
    ) -> EHRImageMapper:
        """Measure relations, make the layout and learn the scales on ``tables``.

        ``tables`` is an ``EHRTables``, or an events table (DataFrame or CSV/Parquet path) with
        ``patients`` and ``lookback_days`` (checked by ``check_ehr_tables``). ``run_dir`` and
        ``resume`` go to a resumable layout maker (the GA).
        """
        tables = self._tables(tables, patients, lookback_days, n_windows)
        relations = conditional_probabilities(tables, scope=self.scope)
        codes = tables.codes
        if not len(codes):
            raise ValueError("the tables hold no events: there is nothing to place on a grid.")
        if relations.shape[0] == 0 or relations.shape[1] == 0:
            raise ValueError(
                f"the tables hold {relations.shape[0]} diagnosis and {relations.shape[1]} treatment "
                "codes; the layout fitness needs both (code_type dx and px/rx)."
            )
        problem = LayoutProblem.from_relations(
            relations,
            shape=grid_shape(len(codes), self.width, self.height),
            n_neighbours=self.n_neighbours,
            penalty=self.penalty,
            extra=codes,
        )
        counts, _ = tables.counts(codes=problem.features)
        maker = self._maker()
        if getattr(maker, "needs_distances", False):
            problem.distances = feature_distances(counts.sum(axis=2))
        result = maker.make(problem, run_dir=run_dir, resume=resume)
        self.relations_ = relations
        self.features_ = list(problem.features)
        self.kinds_ = list(problem.kinds)
        self.shape_ = tuple(problem.shape)
        self.n_windows_ = int(counts.shape[2])
        self.layout_result_ = result
        self.layout_ = result.layout
        self.fitness_ = result.fitness
        self.fitness_history_ = [row["best_so_far"] for row in result.history]
        self.scale_ = np.maximum(counts.max(axis=(0, 2)), 1.0).astype(np.float32)
        self._fitness = problem.fitness
        try:
            self.demographic_names_ = tables.demographics()[1]
        except ValueError:  # e.g. missing ages: to_X(demographics=True) names the problem
            self.demographic_names_ = None
        return self

    def set_layout(self, layout: np.ndarray) -> EHRImageMapper:
        """Use another layout (e.g. a rival's) for the fitted codes; its fitness is recomputed."""
        self._check_fitted()
        self.layout_ = check_layout(layout, len(self.features_), self.shape_[0] * self.shape_[1])
        self.fitness_ = float(self._fitness(self.layout_)[0])
        return self

    def _tables(self, tables, patients, lookback_days, n_windows):
        from automl_kit.datasets import EHRTables, check_ehr_tables

        if patients is None:
            if not isinstance(tables, EHRTables):
                raise ValueError(
                    f"fit/transform take an EHRTables, or an events table with patients= and "
                    f"lookback_days=; got {type(tables).__name__} without patients."
                )
            return tables
        if lookback_days is None:
            raise ValueError(
                "an events table with patients= needs lookback_days= (the length of the window "
                "before each index date), e.g. lookback_days=360."
            )
        return check_ehr_tables(tables, patients, lookback_days=lookback_days, n_windows=n_windows)

    # ---- images --------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "layout_"):
            raise ValueError("this EHRImageMapper is not fitted yet: call fit(tables) first.")

    def transform(
        self, tables, patients=None, *, lookback_days: int | None = None, n_windows: int = 3
    ) -> np.ndarray:
        """Images ``(N, height, width, n_windows)`` float32 in [0, 1], in patient-table order.

        ``tables`` may also be the ``(N, features, windows)`` counts of :attr:`features_`.
        Codes unseen in training are not part of the image: their events are not counted, and a
        ``DataWarning`` gives their number.
        """
        self._check_fitted()
        if isinstance(tables, np.ndarray):
            counts = tables
        else:
            tables = self._tables(tables, patients, lookback_days, n_windows)
            counts = self._counts(tables)
        if counts.ndim == 3 and counts.shape[2] != self.n_windows_:
            raise ValueError(
                f"the mapper was fitted on {self.n_windows_} windows, these counts have "
                f"{counts.shape[2]}; build both with the same n_windows."
            )
        return counts_to_images(counts, self.layout_, self.shape_, self.scale_)

    def _counts(self, tables) -> np.ndarray:
        """Counts of ``features_``, warning about events of codes the mapper has not seen."""
        counts, _ = tables.counts(codes=self.features_)
        unseen = ~tables.events["code"].isin(self.features_).to_numpy()
        if unseen.any():
            import warnings

            codes = tables.events["code"][unseen].unique()
            warnings.warn(
                f"{int(unseen.sum())} event(s) of {len(codes)} code(s) not seen when the mapper "
                f"was fitted (e.g. {[str(c) for c in codes[:3]]}) are not part of the images; "
                "fit the mapper on data holding them to use them.",
                DataWarning,
                stacklevel=3,
            )
        return counts

    def to_X(self, tables, *, demographics: bool = True) -> tuple[np.ndarray, list[str]]:
        """The input of :class:`CNNBoostedClassifier`: ``(X float32, column names)``.

        Columns: the counts of :attr:`features_` feature-major (``"<code>@w<window>"``, column
        ``f * n_windows + w``), then (``demographics=True``) the patient table's demographics
        encoded with the training tables' names (a category missing from a split is a zero
        column, one new to it gets none). Pass raw counts: the booster scales them itself.

        >>> from automl_kit.datasets import ehr_example
        >>> mapper = EHRImageMapper(layout="random").fit(ehr_example())
        >>> X, names = mapper.to_X(ehr_example())
        >>> X.shape, names[:2], names[-3:]
        ((3, 12), ['dx:a@w0', 'dx:a@w1'], ['age', 'sex=F', 'sex=M'])
        """
        self._check_fitted()
        tables = self._tables(tables, None, None, self.n_windows_)
        if tables.n_windows != self.n_windows_:
            raise ValueError(
                f"the mapper was fitted on {self.n_windows_} windows, these tables have "
                f"{tables.n_windows}; build both with the same n_windows."
            )
        counts = self._counts(tables)
        names = [f"{c}@w{w}" for c in self.features_ for w in range(self.n_windows_)]
        parts = [counts.reshape(len(counts), -1)]
        if demographics:
            encoded, demo_names = tables.demographics(names=self.demographic_names_)
            if self.demographic_names_ is None and demo_names:
                raise ValueError(
                    "the mapper's training tables had no usable demographics; pass "
                    "demographics=False or refit the mapper."
                )
            parts.append(encoded)
            names += demo_names
        return np.hstack(parts).astype(np.float32), names

    def fit_transform(self, tables, patients=None, **kwargs) -> np.ndarray:
        return self.fit(tables, patients, **kwargs).transform(
            tables,
            patients,
            **{k: v for k, v in kwargs.items() if k in ("lookback_days", "n_windows")},
        )

    # ---- results -------------------------------------------------------------------------
    def summary(self) -> dict:
        self._check_fitted()
        return {
            **self.layout_result_.summary(),
            "fitness": float(self.fitness_),
            "lower_bound": self._fitness.best_possible,
            "n_windows": self.n_windows_,
            "config": self.get_config(),
        }

    def save(self, run_dir) -> None:
        """Write the fitted mapper to ``run_dir`` (JSON and ``.npy``, no pickle).

        ``layout.json`` (cells, codes, grid of code names, summary), ``layout_history.csv``
        (GA), ``image_scale.json`` (codes, scales, config, demographic names) and
        ``relations.npy`` (P(treatment | diagnosis), rows/columns named in ``image_scale.json``);
        :meth:`load` reads them back.
        """
        self._check_fitted()
        root = Path(run_dir)
        result = LayoutResult(
            self.layout_result_.method,
            self.layout_,
            self.shape_,
            self.features_,
            self.fitness_,
            self.layout_result_.history,
            self.layout_result_.seconds,
            self.layout_result_.stop_reason,
        )
        result.save(root)
        np.save(root / "relations.npy", self.relations_.to_numpy(np.float64), allow_pickle=False)
        write_json(
            root / "image_scale.json",
            {
                "features": self.features_,
                "kinds": self.kinds_,
                "scale": self.scale_.tolist(),
                "n_windows": self.n_windows_,
                "demographic_names": self.demographic_names_,
                "relations_rows": [str(c) for c in self.relations_.index],
                "relations_columns": [str(c) for c in self.relations_.columns],
                "config": self.get_config(),
            },
        )

    @classmethod
    def load(cls, run_dir) -> EHRImageMapper:
        """A fitted mapper from the files :meth:`save` wrote (``transform``/``to_X`` ready).

        >>> import tempfile
        >>> from automl_kit.datasets import ehr_example
        >>> mapper = EHRImageMapper(layout="random").fit(ehr_example())
        >>> with tempfile.TemporaryDirectory() as d:
        ...     mapper.save(d)
        ...     again = EHRImageMapper.load(d)
        >>> bool((again.transform(ehr_example()) == mapper.transform(ehr_example())).all())
        True
        """
        import pandas as pd

        root = Path(run_dir)
        missing = [
            n
            for n in ("layout.json", "image_scale.json", "relations.npy")
            if not (root / n).is_file()
        ]
        if missing:
            raise ValueError(
                f"{root} lacks {missing}: it is not a directory written by EHRImageMapper.save "
                "(or an `automl-kit ehr` run directory)."
            )
        info = read_json(root / "image_scale.json")
        layout_json = read_json(root / "layout.json")
        history = []
        if (root / "layout_history.csv").is_file():
            history = pd.read_csv(root / "layout_history.csv").to_dict("records")
        mapper = cls.from_config(info["config"])
        relations = pd.DataFrame(
            np.load(root / "relations.npy", allow_pickle=False),
            index=info["relations_rows"],
            columns=info["relations_columns"],
        )
        problem = LayoutProblem.from_relations(
            relations,
            shape=tuple(layout_json["shape"]),
            n_neighbours=mapper.n_neighbours,
            penalty=mapper.penalty,
            extra=info["features"],
        )
        if list(problem.features) != list(info["features"]):
            raise ValueError(f"{root}: relations.npy and image_scale.json disagree on the codes.")
        result = LayoutResult.from_json(layout_json, history)
        mapper.relations_ = relations
        mapper.features_ = list(info["features"])
        mapper.kinds_ = list(info["kinds"])
        mapper.shape_ = tuple(int(v) for v in layout_json["shape"])
        mapper.n_windows_ = int(info["n_windows"])
        mapper.layout_result_ = result
        mapper.layout_ = check_layout(result.layout, len(mapper.features_), problem.cells)
        mapper.fitness_ = result.fitness
        mapper.fitness_history_ = [row["best_so_far"] for row in history if "best_so_far" in row]
        mapper.scale_ = np.asarray(info["scale"], dtype=np.float32)
        mapper.demographic_names_ = info["demographic_names"]
        mapper._fitness = problem.fitness
        return mapper


__all__ = ["EHRImageMapper", "counts_to_images"]
