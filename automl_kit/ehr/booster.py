"""A CNN on relation-aware patient images that boosts a tree model's ranking (Xiao, thesis
Sec. 5.2.3-5.2.4, Alg. 4, Fig. 5.7).

``CNNBoostedClassifier`` is a binary scikit-learn classifier. ``X`` holds, per patient, the
event counts of the image codes feature-major (column ``f * n_windows + w`` is code ``f`` in
window ``w``, what ``EHRTables.counts(...).reshape(n, -1)`` gives) followed by any other columns
(demographics), which only the base model sees. ``fit``:

1. fits the base model (default: a random forest) on every column;
2. optionally drops the ``n_confusing`` training examples whose out-of-fold base scores are
   furthest from their labels (Alg. 4, step 4);
3. maps the counts to images (the layout of a fitted ``EHRImageMapper`` passed as ``mapper``,
   or an explicit ``layout``; default: codes in column order, row by row), each code scaled
   by its training maximum as in the mapper;
4. balances the CNN's training images with overlay augmentation (Eq. 5.2) up to a
   ``balance`` share of positives;
5. trains a small Keras CNN (seeded with ``keras.utils.set_random_seed(seed)``);
6. combines the two scores: ``combine="rank_average"`` averages each model's percentile rank
   (against its scores on the training patients) with weight ``weight`` on the base model, and
   expresses the result on the base model's probability scale (a monotone map, so the ranking
   is the rank average's); ``combine="stacker"`` fits a logistic regression on the two
   models' logits over an internal validation split (``validation_fraction`` of the training
   data, stratified) that neither model was trained on; ``combine="cnn_feature"`` stacks the
   CNN into the trees: a second copy of the base model is fitted on every column plus the
   CNN's logit, out of fold (3 stratified folds, a CNN each) on the training patients and
   from the CNN trained on all of them at prediction. The test set is never used.

>>> from sklearn.base import clone
>>> clf = CNNBoostedClassifier(cnn_epochs=1, n_windows=3)
>>> clone(clf).get_params()["combine"]
'rank_average'
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, check_non_negative, validate_data

from automl_kit.ehr._booster_cnn import cnn_scores, train_cnn
from automl_kit.ehr._booster_io import load_booster, save_booster
from automl_kit.ehr.augment import drop_confusing
from automl_kit.ehr.fitness import check_layout
from automl_kit.ehr.layouts.base import grid_shape as _grid_shape
from automl_kit.ehr.mapper import counts_to_images
from automl_kit.registries import BOOSTER_COMBINE_NAMES, OPTIMIZER_NAMES

FEATURE_FOLDS = 3  # combine="cnn_feature": CNNs trained for the out-of-fold logits
# sklearn's check_non_negative says "Negative values in data passed to <who>"
_COUNTS_WHO = (
    "CNNBoostedClassifier (the leading columns are event counts: pass raw counts, e.g. "
    "EHRImageMapper.to_X(tables), not scaled or centred ones)"
)


def _percentile(reference: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Percentile rank of ``values`` among the sorted ``reference`` scores, in [0, 1]: the
    mid-rank at each reference value, linear in between (continuous, so that a score that
    moves by float round-off, as a CNN's does between batch compositions, keeps its rank)."""
    knots, counts = np.unique(reference, return_counts=True)
    mid = (np.cumsum(counts) - counts / 2.0) / len(reference)
    return np.interp(values, knots, mid)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


class CNNBoostedClassifier(ClassifierMixin, BaseEstimator):
    """Base model + CNN on EHR images, combined by rank average or a validation-fitted stacker.

    Parameters: ``base_estimator`` (any scikit-learn classifier with ``predict_proba``; default
    ``RandomForestClassifier(200, random_state=seed)``), ``mapper`` (a fitted
    ``EHRImageMapper``: its layout, grid, windows and scales), or ``layout`` + ``grid_shape``
    (cells: code index or -1) and ``n_windows``; ``n_image_features`` (how many codes lead the
    columns; default: every column is a count), ``combine``/``weight``, the CNN's
    ``cnn_epochs``, ``cnn_filters``, ``batch_size``, ``optimizer`` (a name, as in
    ``automl_kit.training.optimizer``), ``learning_rate``; augmentation
    ``balance`` (share of positives after Eq. 5.2; ``None`` for none) and ``overlay_p`` (the
    mask's probability); ``n_confusing`` (Alg. 4); ``validation_fraction`` (the internal
    validation split of the stacker and of early stopping); ``early_stopping``/``patience``
    (stop the CNN when the validation AUPRC has not improved for ``patience`` epochs and keep
    its best epoch, ``cnn_epochs_``; the split is held out from the CNN only, the base model
    trains on every row; skipped, with all ``cnn_epochs``, when the split would hold fewer than
    two patients of a class; with ``combine="stacker"`` the stacker's split serves both);
    ``seed``; ``verbose`` (1: a line per CNN epoch). ``weight="auto"`` holds out the validation
    split from both models (as the stacker does) and keeps the best share of 0, 0.25, 0.5,
    0.75 only if its validation AUPRC beats the base model alone (share 1) by more than one
    bootstrap standard error of the difference (``validation_margin_``), else ``weight_`` is
    1.0, so a CNN that does not help is not averaged in at a fixed 0.5; with
    ``combine="cnn_feature"`` the same rule keeps the stacked trees or the base model alone.
    When the base model alone wins, it is refitted on every training row (the validation split
    included), so the result is the base model a user would train without the CNN.
    ``validation_auprc_by_model_`` then holds both validation AUPRCs ("base"; "combined": the
    best share below 1, or the stacked trees).

    Build ``X`` with ``EHRImageMapper.to_X(tables)`` (counts of the mapper's codes, then the
    demographics): with ``mapper=`` ``X`` must have exactly those columns (or the counts only).
    Without a mapper, the count columns are found from a DataFrame's column names
    (``X, names = mapper.to_X(tables); pd.DataFrame(X, columns=names)``: names
    ``<code>@w<window>``) or
    ``n_image_features``; a plain array with demographics appended and neither would have its
    demographics read as image codes. Pass raw counts,
    not scaled ones (the images scale them). ``predict`` thresholds the combined score at 0.5,
    which a rank average on a rare outcome seldom exceeds: rank patients by
    ``predict_proba(X)[:, 1]`` or ``scores(X)`` instead. ``save(dir)`` / ``load(dir)`` keep a
    fitted model without pickle (see :meth:`save`).
    """

    def __init__(
        self,
        base_estimator=None,
        *,
        mapper=None,
        layout=None,
        grid_shape=None,
        n_windows: int = 3,
        n_image_features: int | None = None,
        combine: str = "rank_average",
        weight: float = 0.5,
        cnn_epochs: int = 10,
        cnn_filters: int = 32,
        batch_size: int = 64,
        optimizer: str = "adam",
        learning_rate: float = 1e-3,
        balance: float | None = 0.5,
        overlay_p: float = 0.5,
        n_confusing: int = 0,
        validation_fraction: float = 0.2,
        early_stopping: bool = True,
        patience: int = 3,
        seed: int = 0,
        verbose: int = 0,
    ):
        self.base_estimator = base_estimator
        self.mapper = mapper
        self.layout = layout
        self.grid_shape = grid_shape
        self.n_windows = n_windows
        self.n_image_features = n_image_features
        self.combine = combine
        self.weight = weight
        self.cnn_epochs = cnn_epochs
        self.cnn_filters = cnn_filters
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.balance = balance
        self.overlay_p = overlay_p
        self.n_confusing = n_confusing
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.patience = patience
        self.seed = seed
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True  # the image columns are event counts
        tags.classifier_tags.multi_class = False
        return tags

    # ---- checks --------------------------------------------------------------------------
    def _check_params(self) -> None:
        if self.combine not in BOOSTER_COMBINE_NAMES:
            raise ValueError(
                f"unknown combine {self.combine!r}; choose one of: {', '.join(BOOSTER_COMBINE_NAMES)}."
            )
        if isinstance(self.weight, str):
            if self.weight != "auto":
                raise ValueError(
                    f"weight is the base model's share in [0, 1] or 'auto', got {self.weight!r}."
                )
        elif not 0.0 <= self.weight <= 1.0:
            raise ValueError(
                f"weight (the base model's share) must be in [0, 1], got {self.weight}."
            )
        for name in ("cnn_epochs", "cnn_filters", "batch_size", "n_windows", "patience"):
            value = getattr(self, name)
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise ValueError(f"{name} must be a whole number >= 1, got {value!r}.")
        if self.balance is not None and not 0.0 < self.balance < 1.0:
            raise ValueError(
                f"balance is the share of positives after augmentation in (0, 1), or None for "
                f"no augmentation; got {self.balance}."
            )
        if not 0.0 <= self.overlay_p <= 1.0:
            raise ValueError(f"overlay_p is a probability in [0, 1], got {self.overlay_p}.")
        if not 0.0 < self.validation_fraction < 1.0:
            raise ValueError(
                f"validation_fraction must be in (0, 1), got {self.validation_fraction}."
            )
        if self.n_confusing < 0:
            raise ValueError(f"n_confusing must be >= 0, got {self.n_confusing}.")
        if str(self.optimizer).lower() not in OPTIMIZER_NAMES:
            raise ValueError(
                f"unknown optimizer {self.optimizer!r}; choose one of: {', '.join(OPTIMIZER_NAMES)}."
            )
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}.")
        if self.base_estimator is not None and not hasattr(self.base_estimator, "predict_proba"):
            raise ValueError(
                f"base_estimator {type(self.base_estimator).__name__} has no predict_proba; pass a "
                "probabilistic classifier (e.g. RandomForestClassifier, XGBClassifier)."
            )

    def _image_spec(self, n_columns: int):
        """(n_codes, n_windows, layout, shape, scale or None) for ``n_columns`` columns of X."""
        if self.mapper is not None:
            if not hasattr(self.mapper, "layout_"):
                raise ValueError("mapper must be a fitted EHRImageMapper: call mapper.fit first.")
            n_codes, windows = len(self.mapper.features_), self.mapper.n_windows_
            layout, shape = self.mapper.layout_, tuple(self.mapper.shape_)
            scale = self.mapper.scale_
        else:
            windows = int(self.n_windows)
            if self.layout is not None:
                layout = np.asarray(self.layout)
                n_codes = int(layout.max()) + 1 if layout.size else 0
                if self.grid_shape is None:
                    raise ValueError("a layout needs grid_shape=(rows, cols) as well.")
                shape = tuple(int(s) for s in self.grid_shape)
                layout = check_layout(layout, n_codes, shape[0] * shape[1])
            else:
                named = _count_columns(getattr(self, "feature_names_in_", None))
                if self.n_image_features is not None:
                    n_codes = int(self.n_image_features)
                elif named:  # a DataFrame with EHRImageMapper.to_X's names: counts lead
                    n_codes = named // windows
                elif n_columns % windows:
                    raise ValueError(
                        f"X has {n_columns} columns, not a multiple of n_windows={windows}; pass "
                        "n_image_features= (the codes leading the columns) or the right n_windows."
                    )
                else:
                    n_codes = n_columns // windows
                shape = (
                    tuple(self.grid_shape)
                    if self.grid_shape is not None
                    else _grid_shape(max(n_codes, 1))
                )
                layout = np.full(shape[0] * shape[1], -1, dtype=np.int64)
                layout[:n_codes] = np.arange(n_codes)
            scale = None
        if self.n_image_features is not None and int(self.n_image_features) != n_codes:
            raise ValueError(
                f"n_image_features={self.n_image_features} but the layout places {n_codes} codes."
            )
        names = getattr(self.mapper, "demographic_names_", None) if self.mapper else None
        if self.mapper is not None and names is not None:
            allowed = {n_codes * windows, n_codes * windows + len(names)}
            if n_columns not in allowed:
                raise ValueError(
                    f"X has {n_columns} columns, but the mapper's tables give {n_codes} codes x "
                    f"{windows} windows = {n_codes * windows} count columns plus {len(names)} "
                    f"demographic columns; build X with mapper.to_X(tables) (counts only: "
                    "to_X(tables, demographics=False))."
                )
        if n_codes * windows > n_columns:
            raise ValueError(
                f"X has {n_columns} columns but the images need {n_codes} codes x {windows} "
                f"windows = {n_codes * windows}; put the counts first (column f * n_windows + w)."
            )
        return n_codes, windows, layout, shape, scale

    def _images(self, X: np.ndarray) -> np.ndarray:
        n_codes, windows = self.n_codes_, self.n_windows_
        counts = X[:, : n_codes * windows].reshape(len(X), n_codes, windows)
        return counts_to_images(counts, self.layout_, self.grid_shape_, self.scale_)

    # ---- fitting -------------------------------------------------------------------------
    def __sklearn_clone__(self) -> CNNBoostedClassifier:
        """``sklearn.base.clone``: every parameter cloned but ``mapper``, which stays the fitted
        mapper (fitted preprocessing that ``fit`` reads and never refits, as with
        ``sklearn.frozen.FrozenEstimator``); a clone of an unfitted mapper could not map X."""
        params = {
            k: v if k == "mapper" else clone(v, safe=False)
            for k, v in self.get_params(deep=False).items()
        }
        return type(self)(**params)

    def fit(self, X, y) -> CNNBoostedClassifier:
        """Fit the base model and the CNN (and the stacker) on ``X``, ``y`` (two classes)."""
        self._check_params()
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        classes = np.unique(y)
        if len(classes) != 2:
            which = "one class" if len(classes) == 1 else f"{len(classes)} classes"
            raise ValueError(
                f"Only binary classification is supported. y holds {which} "
                f"({classes.tolist()[:5]}); pass labels of exactly two classes (e.g. 0/1)."
            )
        self.classes_ = classes
        n_codes, windows, layout, shape, scale = self._image_spec(X.shape[1])
        check_non_negative(X[:, : n_codes * windows], _COUNTS_WHO)
        self.n_codes_, self.n_windows_, self.layout_, self.grid_shape_ = (
            n_codes,
            windows,
            layout,
            shape,
        )
        counts = X[:, : n_codes * windows].reshape(len(X), n_codes, windows)
        self.scale_ = (
            np.asarray(scale, np.float32)
            if scale is not None
            else np.maximum(counts.max(axis=(0, 2)) if len(X) else 1.0, 1.0).astype(np.float32)
        )
        target = (y == self.classes_[1]).astype(np.int64)
        train = np.arange(len(X))
        held_out = self.combine == "stacker" or self.weight == "auto"
        valid = None
        if held_out:
            train, valid = self._split(target)
        base = (
            clone(self.base_estimator)
            if self.base_estimator is not None
            else _default_base(self.seed)
        )
        self.base_estimator_ = base.fit(X[train], target[train])
        cnn_rows = train
        if self.n_confusing:
            cnn_rows = train[self._keep_unconfusing(base, X[train], target[train])]
        images = self._images(X)
        monitor = None
        if self.early_stopping:
            if held_out:
                monitor = valid
            else:
                cnn_rows, monitor = self._early_split(cnn_rows, target)
        self.cnn_, self.cnn_epochs_ = self._train_cnn(
            images[cnn_rows],
            target[cnn_rows],
            None if monitor is None else (images[monitor], target[monitor]),
        )
        base_scores = self._base_scores(X[train])
        cnn_scores = self._cnn_scores(images[train])
        self.base_reference_ = np.sort(base_scores)
        self.cnn_reference_ = np.sort(cnn_scores)
        self.stacker_ = self.stacked_estimator_ = None
        self.weight_ = self.weight
        if self.combine == "cnn_feature":
            self.stacked_estimator_ = self._fit_stacked(base, X, images, target, train, cnn_rows)
            self.weight_ = None
            if self.weight == "auto":
                self.weight_ = self._choose_stacked(X[valid], images[valid], target[valid])
        if self.weight == "auto" and self.combine == "rank_average":
            self.weight_ = self._choose_weight(X[valid], images[valid], target[valid])
        if self.weight == "auto" and self.weight_ == 1.0:
            # the base model alone won: refit it on the validation rows too, so that the user
            # gets the model they would have trained without the CNN, not one on 80 % of the data
            self.base_estimator_ = clone(base).fit(X, target)
            self.base_reference_ = np.sort(self._base_scores(X))
        if self.combine == "stacker":
            from sklearn.linear_model import LogisticRegression

            features = np.column_stack(
                [_logit(self._base_scores(X[valid])), _logit(self._cnn_scores(images[valid]))]
            )
            self.stacker_ = LogisticRegression().fit(features, target[valid])
        return self

    def _choose_weight(self, X: np.ndarray, images: np.ndarray, target: np.ndarray) -> float:
        """The base model's share: the best of 0.75, 0.5, 0.25, 0 by validation AUPRC (ties to
        the larger share) if it beats the base model alone (1.0) there by more than one standard
        error of the difference (``validation_margin_``), else 1.0."""
        from sklearn.metrics import average_precision_score

        base = _percentile(self.base_reference_, self._base_scores(X))
        cnn = _percentile(self.cnn_reference_, self._cnn_scores(images))
        shares = (1.0, 0.75, 0.5, 0.25, 0.0)
        scores = {w: w * base + (1 - w) * cnn for w in shares}
        by_weight = {w: float(average_precision_score(target, scores[w])) for w in shares}
        self.validation_auprc_by_weight_ = by_weight
        boosted = max(shares[1:], key=by_weight.get)  # the first maximum: the larger share
        kept = self._combination_wins(target, scores[1.0], scores[boosted], by_weight[boosted])
        best = boosted if kept else 1.0
        self.validation_auprc_ = by_weight[best]
        if self.verbose:
            print(
                f"cnn boost: weight {best} on the base model (validation AUPRC "
                f"{by_weight[best]:.3f}; best share below 1: {boosted}, {by_weight[boosted]:.3f}, "
                f"margin {self.validation_margin_:.4f})"
            )
        return best

    def _combination_wins(self, target, base, combined, combined_auprc: float) -> bool:
        """Whether the combination beats the base model alone on validation AUPRC by more
        than one bootstrap standard error of the paired difference (``validation_margin_``)."""
        from sklearn.metrics import average_precision_score

        base_auprc = float(average_precision_score(target, base))
        self.validation_margin_ = _difference_se(target, base, combined, self.seed)
        self.validation_auprc_by_model_ = {"base": base_auprc, "combined": float(combined_auprc)}
        return combined_auprc - base_auprc > self.validation_margin_

    def _fit_stacked(self, base, X, images, target, train, cnn_rows):
        """The base model refitted on ``X`` plus the CNN's out-of-fold logit (training rows)."""
        from sklearn.model_selection import StratifiedKFold

        folds = min(FEATURE_FOLDS, int(np.bincount(target[cnn_rows], minlength=2).min()))
        if folds < 2:
            raise ValueError(
                "combine='cnn_feature' scores the training patients out of fold, which needs at "
                "least two patients of each class; use combine='rank_average' or more data."
            )
        logit = np.zeros(len(X))
        cv = StratifiedKFold(folds, shuffle=True, random_state=self.seed)
        for fold, (inner, outer) in enumerate(cv.split(cnn_rows, target[cnn_rows])):
            if self.verbose:
                print(f"cnn_feature: out-of-fold CNN {fold + 1}/{folds}", flush=True)
            rows, monitor = cnn_rows[inner], None
            if self.early_stopping:
                rows, monitor = self._early_split(rows, target)
            cnn, _ = self._train_cnn(
                images[rows],
                target[rows],
                None if monitor is None else (images[monitor], target[monitor]),
            )
            logit[cnn_rows[outer]] = _logit(cnn_scores(cnn, images[cnn_rows[outer]]))
        # rows left out of the CNN (n_confusing) get the final CNN's logit, as new patients do
        others = np.setdiff1d(train, cnn_rows)
        logit[others] = _logit(self._cnn_scores(images[others]))
        stacked = clone(base)
        return stacked.fit(np.column_stack([X[train], logit[train]]), target[train])

    def _stacked_scores(self, X: np.ndarray, cnn: np.ndarray) -> np.ndarray:
        proba = self.stacked_estimator_.predict_proba(np.column_stack([X, _logit(cnn)]))
        return np.asarray(proba, dtype=np.float64)[:, -1]

    def _choose_stacked(self, X: np.ndarray, images: np.ndarray, target: np.ndarray):
        """None (keep the stacked trees) if they beat the base model alone on validation AUPRC
        by more than one standard error of the difference, else 1.0 (the base model alone)."""
        from sklearn.metrics import average_precision_score

        base = self._base_scores(X)
        stacked = self._stacked_scores(X, self._cnn_scores(images))
        wins = self._combination_wins(
            target, base, stacked, average_precision_score(target, stacked)
        )
        if self.verbose:
            auprc = self.validation_auprc_by_model_
            print(
                f"cnn_feature: validation AUPRC {auprc['combined']:.3f} stacked vs "
                f"{auprc['base']:.3f} base alone (margin {self.validation_margin_:.4f}): "
                + ("stacked trees kept" if wins else "base model kept")
            )
        return None if wins else 1.0

    def _split(self, target: np.ndarray):
        from sklearn.model_selection import train_test_split

        counts = np.bincount(target, minlength=2)
        n_valid = int(round(self.validation_fraction * len(target)))
        if counts.min() < 4 or n_valid < 2 or len(target) - n_valid < 2:
            raise ValueError(
                f"combine='stacker' holds out a stratified validation split, but the data has only "
                f"{counts.min()} example(s) of one class; use combine='rank_average' or more data."
            )
        idx = np.arange(len(target))
        train, valid = train_test_split(
            idx, test_size=self.validation_fraction, random_state=self.seed, stratify=target
        )
        return np.sort(train), np.sort(valid)

    def _early_split(self, rows: np.ndarray, target: np.ndarray):
        """(CNN training rows, validation rows or None): a stratified split of ``rows``."""
        from sklearn.model_selection import train_test_split

        n_valid = int(round(self.validation_fraction * len(rows)))
        per_class = np.bincount(target[rows], minlength=2)
        if n_valid < 4 or (per_class * self.validation_fraction).min() < 2:
            return rows, None  # too small to tell epochs apart: train all cnn_epochs
        train, valid = train_test_split(
            rows, test_size=n_valid, random_state=self.seed, stratify=target[rows]
        )
        return np.sort(train), np.sort(valid)

    def _keep_unconfusing(self, base, X: np.ndarray, target: np.ndarray) -> np.ndarray:
        from sklearn.model_selection import StratifiedKFold, cross_val_predict

        folds = min(3, int(np.bincount(target, minlength=2).min()))
        if folds < 2:
            raise ValueError(
                "n_confusing scores the training examples out of fold, which needs at least two "
                "examples of each class; set n_confusing=0 or pass more data."
            )
        cv = StratifiedKFold(folds, shuffle=True, random_state=self.seed)
        oof = cross_val_predict(clone(base), X, target, cv=cv, method="predict_proba")[:, 1]
        return drop_confusing(target, oof, min(int(self.n_confusing), len(target) - 2))

    def _train_cnn(self, images: np.ndarray, target: np.ndarray, validation=None):
        """The trained CNN and the number of epochs it kept (the best on ``validation``)."""
        return train_cnn(
            images,
            target,
            validation,
            seed=int(self.seed),
            balance=self.balance,
            overlay_p=self.overlay_p,
            filters=int(self.cnn_filters),
            optimizer=self.optimizer,
            learning_rate=self.learning_rate,
            epochs=int(self.cnn_epochs),
            batch_size=int(self.batch_size),
            patience=int(self.patience),
            verbose=self.verbose,
        )

    def _base_scores(self, X: np.ndarray) -> np.ndarray:
        proba = self.base_estimator_.predict_proba(X)
        return np.asarray(proba, dtype=np.float64)[:, -1]

    def _cnn_scores(self, images: np.ndarray) -> np.ndarray:
        return cnn_scores(self.cnn_, images)

    # ---- prediction ----------------------------------------------------------------------
    def scores(self, X) -> dict[str, np.ndarray]:
        """The positive-class scores of the base model, the CNN and their combination."""
        check_is_fitted(self, "cnn_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        check_non_negative(X[:, : self.n_codes_ * self.n_windows_], _COUNTS_WHO)
        base, cnn = self._base_scores(X), self._cnn_scores(self._images(X))
        if self.stacker_ is not None:
            combined = self.stacker_.predict_proba(np.column_stack([_logit(base), _logit(cnn)]))[
                :, 1
            ]
        elif self.stacked_estimator_ is not None:
            combined = base if self.weight_ == 1.0 else self._stacked_scores(X, cnn)
        else:
            rank = self.weight_ * _percentile(self.base_reference_, base) + (
                1 - self.weight_
            ) * _percentile(self.cnn_reference_, cnn)
            combined = np.quantile(self.base_reference_, np.clip(rank, 0.0, 1.0))
        return {"base": base, "cnn": cnn, "combined": combined}

    def predict_proba(self, X) -> np.ndarray:
        """``(n, 2)``: the combined score of the positive class (``classes_[1]``) and 1 - it."""
        s = self.scores(X)["combined"]
        return np.column_stack([1.0 - s, s])

    def predict(self, X) -> np.ndarray:
        """``classes_[1]`` where the combined score exceeds 0.5 (few patients for a rare
        outcome: to rank patients use ``predict_proba(X)[:, 1]`` or :meth:`scores`)."""
        check_is_fitted(self, "cnn_")
        return self.classes_[(self.predict_proba(X)[:, 1] > 0.5).astype(int)]

    # ---- saving --------------------------------------------------------------------------
    def save(self, directory) -> list[str]:
        """Write the fitted model to ``directory`` without pickle; returns the files written.

        ``cnn.keras`` (the CNN), ``booster.json`` (parameters, layout, scales, reference scores,
        stacker coefficients), ``mapper/`` (the ``mapper=`` it was built with, so that
        ``get_params`` of the loaded model gives it back), and the base model (and the stacked
        trees of ``combine="cnn_feature"``, ``stacked_model.*``) in its library's own format
        where it has one: ``base_model.json`` (XGBoost), ``base_model.cbm`` (CatBoost).
        scikit-learn models (the default random forest) have no format but pickle, so they are
        NOT saved: ``booster.json`` says so and :meth:`load` then needs the fitted models as
        ``base_estimator=`` (and ``stacked_estimator=``).
        """
        check_is_fitted(self, "cnn_")
        return save_booster(self, directory)

    @classmethod
    def load(cls, directory, base_estimator=None, stacked_estimator=None) -> CNNBoostedClassifier:
        """A fitted model from :meth:`save`'s files; ``base_estimator`` (and, with
        ``combine="cnn_feature"``, ``stacked_estimator``): the fitted tree models when they were
        not saved (scikit-learn) or to use instead of the saved ones."""
        return load_booster(cls, directory, base_estimator, stacked_estimator)


def _count_columns(names) -> int:
    """How many leading columns are named ``<code>@w<window>`` (as ``to_X`` names counts)."""
    import re

    n = 0
    for name in [] if names is None else names:
        if not re.fullmatch(r".+@w\d+", str(name)):
            break
        n += 1
    return n


def _difference_se(target, base, combined, seed: int, resamples: int = 200) -> float:
    """Bootstrap standard error of AUPRC(combined) - AUPRC(base) over the same patients."""
    from sklearn.metrics import average_precision_score

    rng = np.random.default_rng(seed)
    differences = []
    for _ in range(resamples):
        rows = rng.integers(0, len(target), len(target))
        if target[rows].min() == target[rows].max():  # a resample without one of the classes
            continue
        differences.append(
            average_precision_score(target[rows], combined[rows])
            - average_precision_score(target[rows], base[rows])
        )
    return float(np.std(differences)) if len(differences) > 1 else 0.0


def _default_base(seed: int):
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=200, random_state=seed, n_jobs=1)


__all__ = ["CNNBoostedClassifier"]
