"""Synaptic join against post-hoc rivals on the weakest class of a 3-layer CNN (issue 15).

Per seed: a 3-layer CNN with batch norm is trained on a Fashion-MNIST subset; the target is the
class with the lowest **validation** accuracy. Every method then tweaks the same trained model
with the same data, and its knob is chosen on the validation set by one rule (for the rivals: the
knob value with the best validation target accuracy among those that do not lower overall
validation accuracy; for synaptic join its own rule: ``n`` where target accuracy converges, then
the largest ``scale`` that does not lower overall validation accuracy). Test accuracy (target and
overall) is reported, with paired per-seed differences to the original model and bootstrap 95%
intervals, and each method's whole knob sweep on the test set (the target-vs-overall front).

Methods: synaptic join (Kim, Ch. 3); prior calibration (target probability x mu, others x
(1 - mu), i.e. ``log(mu / (1 - mu))`` added to the target logit); post-hoc logit adjustment
(Menon et al. 2021: logits - tau log prior, prior = training label frequencies);
tau-normalisation (Kang et al. 2020: head weight vectors divided by their norm^tau); weighted-loss
retraining (the whole model fine-tuned with a x2 loss on the target; test per-class accuracy at
every epoch checkpoint, the thesis's Fig. 3.7 point that retraining moves other classes
unpredictably); target oversampling (the same fine-tuning, the target's training images repeated
twice instead of a x2 loss); cRT (Kang et al. 2020: a new linear head re-trained from scratch on
the frozen features with class-balanced sampling, 10 epochs); synaptic retraining (Kim 3.2.4:
only the join's synapse weights trained, from the tables, as many epochs as the fine-tuning).
``max_offtarget_drop``: the largest loss of any off-target class's test accuracy.

    AUTOML_KIT_DATA=../shared/data python -m benchmarks.synaptic_join_quality   # ~6 min, 2 cores
    AUTOML_KIT_DATA=../shared/data python -m benchmarks.synaptic_join_quality --part aan  # AAN vs DA
    AUTOML_KIT_DATA=../shared/data python -m benchmarks.synaptic_join_quality --dataset cifar10
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from benchmarks._common import (
    DIFFERENCE_COLUMNS,
    RESULTS,
    paired_differences,
    parser,
    run_grid,
    table,
)

BUDGETS = {
    "small": {
        "n_train": 12_000,
        "n_val": 2_000,
        "n_test": 10_000,
        "epochs": 4,
        "retrain_epochs": 4,
        "aug_epochs": 3,
        "seeds": [0, 1, 2],
    },
    "full": {
        "n_train": None,
        "n_val": 5_000,
        "n_test": None,
        "epochs": 15,
        "retrain_epochs": 10,
        "aug_epochs": 10,
        "seeds": [0, 1, 2],
    },
}
LAYERS = ["pool1", "pool2", "pool3"]
MU = [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95]
TAU_LA = [0.0, 0.5, 1.0, 1.5, 2.0]
TAU_NORM = [0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0]
N_CANDIDATES = [5, 10, 20, 40, 80, 120]
SCALES = [1, 2, 5, 10, 20, 30, 40, 60, 80]


def cnn(input_shape, classes):
    import keras

    x = inputs = keras.Input(input_shape)
    for i, filters in enumerate((16, 32, 64), start=1):
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{i}")(x)
        x = keras.layers.BatchNormalization(momentum=0.9, name=f"bn{i}")(x)
        x = keras.layers.ReLU(name=f"relu{i}")(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool{i}")(x)
    x = keras.layers.Flatten(name="flat")(x)
    return keras.Model(inputs, keras.layers.Dense(classes, activation="softmax", name="head")(x))


def per_class(logits: np.ndarray, labels: np.ndarray) -> list[float]:
    right = logits.argmax(1) == labels
    return [float(right[labels == k].mean()) for k in range(logits.shape[1])]


def accuracies(logits: np.ndarray, labels: np.ndarray, target: int) -> tuple[float, float]:
    """(overall, target) accuracy of ``logits`` (samples x classes)."""
    right = logits.argmax(1) == labels
    return float(right.mean()), float(right[labels == target].mean())


def choose(points: list[dict], base_overall: float) -> dict:
    """The knob with the best validation target accuracy among those not lowering overall accuracy."""
    ok = [p for p in points if p["val_overall"] >= base_overall - 1e-12] or [points[0]]
    return max(ok, key=lambda p: (p["val_target"], -points.index(p)))


def run_seed(cell: dict, budget: dict) -> dict:
    import keras

    from automl_kit import datasets
    from automl_kit.tweak import SynapticJoin, SynapticRetraining, extract_tables
    from automl_kit.utils.models import classification_head, penultimate_model

    seed = cell["seed"]
    data = datasets.load(
        cell["dataset"],
        n_train=budget["n_train"],
        n_val=budget["n_val"],
        n_test=budget["n_test"],
        seed=seed,
    )
    keras.utils.set_random_seed(seed)
    model = cnn(data.input_shape, data.num_classes)
    model.compile(
        keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    t0 = time.perf_counter()
    model.fit(data.x_train, data.y_train, epochs=budget["epochs"], batch_size=128, verbose=0)
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    train = extract_tables(model, data.x_train, data.y_train, layers=LAYERS)
    val = extract_tables(model, data.x_val, data.y_val, layers=LAYERS)
    test = extract_tables(model, data.x_test, data.y_test, layers=LAYERS)
    tables_s = time.perf_counter() - t0
    target = int(np.nanargmin(val.accuracy()[1]))
    yv, yt = val.labels, test.labels
    zv, zt = val.C.T.astype(np.float64), test.C.T.astype(np.float64)
    base_val = accuracies(zv, yv, target)
    base_test = accuracies(zt, yt, target)
    out = {"target": target, "train_s": train_s, "tables_s": tables_s, "neurons": train.n_neurons}
    results = {
        "original": {
            "overall": base_test[0],
            "target": base_test[1],
            "knob": None,
            "per_class": per_class(zt, yt),
        }
    }
    fronts = {}

    def sweep(name, knobs, transform):
        points = []
        for k in knobs:
            v = accuracies(transform(zv, k), yv, target)
            t = accuracies(transform(zt, k), yt, target)
            points.append(
                {
                    "knob": k,
                    "val_overall": v[0],
                    "val_target": v[1],
                    "overall": t[0],
                    "target": t[1],
                }
            )
        best = choose(points, base_val[0])
        results[name] = {
            "overall": best["overall"],
            "target": best["target"],
            "knob": best["knob"],
            "per_class": per_class(transform(zt, best["knob"]), yt),
        }
        fronts[name] = [
            {"knob": p["knob"], "overall": p["overall"], "target": p["target"]} for p in points
        ]

    # synaptic join: theta on the training tables, n and scale chosen on validation
    t0 = time.perf_counter()
    join = SynapticJoin([target], n_candidates=N_CANDIDATES, scale_candidates=SCALES).fit(
        train, validation_data=val
    )
    join_s = time.perf_counter() - t0
    # synaptic retraining starts from the chosen join (before the sweep below changes n and scale)
    t0 = time.perf_counter()
    sr = SynapticRetraining([target], epochs=budget["retrain_epochs"], seed=seed)
    sr.fit(train, val, join=join)
    out["synaptic_retraining_s"] = time.perf_counter() - t0
    zs = sr.add_to_logits(test).T
    ov, tg = accuracies(zs, yt, target)
    synaptic_retraining = {
        "overall": ov,
        "target": tg,
        "knob": f"n={join.n_}, {budget['retrain_epochs']} epochs",
        "per_class": per_class(zs, yt),
    }
    zj = join.add_to_logits(test).T
    ov, tg = accuracies(zj, yt, target)
    results["synaptic_join"] = {
        "overall": ov,
        "target": tg,
        "knob": f"n={join.n_}, scale={join.scale_:g}",
        "per_class": per_class(zj, yt),
    }
    front = []
    for n in N_CANDIDATES:
        join.n_ = n
        for s in SCALES:
            join.scale_ = s
            join._build_synapses()
            ov, tg = accuracies(join.add_to_logits(test).T, yt, target)
            front.append({"knob": f"n={n}, scale={s}", "overall": ov, "target": tg})
    fronts["synaptic_join"] = front
    out["join_fit_s"] = join_s
    results["synaptic_retraining"] = synaptic_retraining

    def calibrate(z, mu):
        z = z.copy()
        z[:, target] += np.log(mu / (1 - mu))  # p_t * mu, p_other * (1 - mu), renormalised
        return z

    sweep("prior_calibration", MU, calibrate)
    prior = np.bincount(data.y_train, minlength=data.num_classes) / len(data.y_train)
    sweep("logit_adjustment", TAU_LA, lambda z, tau: z - tau * np.log(prior))

    head = classification_head(model)
    w = keras.ops.convert_to_numpy(head.kernel).astype(np.float64)
    b = keras.ops.convert_to_numpy(head.bias).astype(np.float64)
    feats = penultimate_model(model)
    fv = feats.predict(data.x_val, batch_size=512, verbose=0).astype(np.float64)
    ft = feats.predict(data.x_test, batch_size=512, verbose=0).astype(np.float64)
    norms = np.linalg.norm(w, axis=0)

    def tau_norm(z, tau):
        f = fv if z is zv else ft
        return f @ (w / norms**tau) + b

    sweep("tau_normalisation", TAU_NORM, tau_norm)

    # what `automl-kit tweak` returns (issue 25): calibration, join and the calibrated join
    # fitted on the tables, the one with the best validation target accuracy within 0.2 points
    # of overall validation accuracy kept; and the calibrated join on its own
    from automl_kit.tweak import tweak

    for name, method in (("tweak_auto", "auto"), ("calibrated_join", "calibrated_join")):
        t0 = time.perf_counter()
        tweaked = tweak(model, data, [target], method=method, layers=LAYERS, max_drop=0.002)
        out[f"{name}_s"] = time.perf_counter() - t0
        zk = tweaked.model.predict(data.x_test, batch_size=512, verbose=0).astype(np.float64)
        ov, tg = accuracies(zk, yt, target)
        results[name] = {
            "overall": ov,
            "target": tg,
            "knob": f"{tweaked.method}: mu={tweaked.mu:g}, n={tweaked.n}, scale={tweaked.scale:g}",
            "per_class": per_class(zk, yt),
        }

    # cRT: a new linear head from scratch on the frozen features, class-balanced sampling
    ftr = feats.predict(data.x_train, batch_size=512, verbose=0)
    keras.utils.set_random_seed(seed)
    crt = keras.Sequential([keras.Input((ftr.shape[1],)), keras.layers.Dense(data.num_classes)])
    crt.compile(
        keras.optimizers.Adam(1e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    rng = np.random.default_rng(seed)
    by_class = [np.flatnonzero(data.y_train == k) for k in range(data.num_classes)]
    t0 = time.perf_counter()
    for _ in range(10):  # each epoch: as many samples as D, classes drawn uniformly
        cls = rng.integers(0, data.num_classes, len(data.y_train))
        idx = np.array([by_class[c][rng.integers(len(by_class[c]))] for c in cls])
        crt.fit(ftr[idx], data.y_train[idx], epochs=1, batch_size=128, verbose=0)
    out["crt_s"] = time.perf_counter() - t0
    zc = crt.predict(ft.astype(np.float32), batch_size=1024, verbose=0).astype(np.float64)
    ov, tg = accuracies(zc, yt, target)
    results["crt"] = {
        "overall": ov,
        "target": tg,
        "knob": "10 epochs, class-balanced",
        "per_class": per_class(zc, yt),
    }

    # weighted-loss retraining: the whole model fine-tuned with x2 loss on the target, test
    # per-class accuracy recorded at every checkpoint (one per epoch) to show its fluctuation
    retrained = keras.models.clone_model(model)
    retrained.set_weights(model.get_weights())
    retrained.compile(keras.optimizers.Adam(1e-4), "sparse_categorical_crossentropy")
    weights = {k: (2.0 if k == target else 1.0) for k in range(data.num_classes)}
    checkpoints = []
    t0 = time.perf_counter()
    for _ in range(budget["retrain_epochs"]):
        retrained.fit(
            data.x_train, data.y_train, epochs=1, batch_size=128, class_weight=weights, verbose=0
        )
        zr = retrained.predict(data.x_test, batch_size=512, verbose=0)
        checkpoints.append(per_class(zr, yt))
    out["retrain_s"] = time.perf_counter() - t0
    ov, tg = accuracies(zr, yt, target)
    results["weighted_retraining"] = {
        "overall": ov,
        "target": tg,
        "knob": f"x2, {budget['retrain_epochs']} epochs",
        "per_class": checkpoints[-1],
    }
    out["retraining_checkpoints"] = checkpoints

    # target oversampling: the same fine-tuning, the target's images twice in every epoch
    keras.utils.set_random_seed(seed)
    over = keras.models.clone_model(model)
    over.set_weights(model.get_weights())
    over.compile(keras.optimizers.Adam(1e-4), "sparse_categorical_crossentropy")
    idx = np.concatenate([np.arange(len(data.y_train)), np.flatnonzero(data.y_train == target)])
    over_checkpoints = []
    t0 = time.perf_counter()
    for _ in range(budget["retrain_epochs"]):
        over.fit(data.x_train[idx], data.y_train[idx], epochs=1, batch_size=128, verbose=0)
        zo = over.predict(data.x_test, batch_size=512, verbose=0)
        over_checkpoints.append(per_class(zo, yt))
    out["oversampling_s"] = time.perf_counter() - t0
    ov, tg = accuracies(zo, yt, target)
    results["target_oversampling"] = {
        "overall": ov,
        "target": tg,
        "knob": f"x2, {budget['retrain_epochs']} epochs",
        "per_class": over_checkpoints[-1],
    }
    out["oversampling_checkpoints"] = over_checkpoints
    for m in results.values():
        off = [
            b - a
            for k, (a, b) in enumerate(zip(m["per_class"], results["original"]["per_class"]))
            if k != target
        ]
        m["max_offtarget_drop"] = max(off)
    out["methods"] = results
    out["fronts"] = fronts
    return out


def method_rows(rows: list[dict]) -> list[dict]:
    flat = []
    for r in rows:
        for method, m in r["methods"].items():
            flat.append(
                {
                    "dataset": r["dataset"],
                    "seed": r["seed"],
                    "method": method,
                    "target_class": r["target"],
                    "overall": m["overall"],
                    "target": m["target"],
                    "knob": m["knob"],
                    "max_offtarget_drop": m.get("max_offtarget_drop"),
                }
            )
    return flat


def figures(rows: list[dict]) -> dict:
    flat = method_rows(rows)
    summary = []
    for method in dict.fromkeys(r["method"] for r in flat):
        ms = [r for r in flat if r["method"] == method]
        summary.append(
            {
                "method": method,
                "seeds": len(ms),
                "overall": statistics.fmean(r["overall"] for r in ms),
                "target": statistics.fmean(r["target"] for r in ms),
                "max_offtarget_drop": statistics.fmean(r["max_offtarget_drop"] for r in ms),
            }
        )
    diffs = paired_differences(flat, metric="target", baseline="original", scale=100)
    diffs += paired_differences(flat, metric="overall", baseline="original", scale=100)
    return {
        "runs": rows,
        "per_method": flat,
        "summary": summary,
        "differences_points": diffs,
        "front_check": front_check(rows),
    }


def front_check(rows: list[dict], method: str = "tweak_auto") -> list[dict]:
    """Per seed: the test points of the rivals' knob sweeps that beat ``method``'s returned
    point on both overall and target accuracy (issue 25: none may, on any seed)."""
    out = []
    for r in rows:
        point = r["methods"].get(method)
        if point is None:
            continue
        beating = [
            {"rival": rival, **p}
            for rival, front in r.get("fronts", {}).items()
            if rival != "synaptic_join"
            for p in front
            if p["overall"] >= point["overall"] and p["target"] > point["target"]
        ]
        out.append(
            {
                "seed": r["seed"],
                "overall": point["overall"],
                "target": point["target"],
                "kept": point["knob"],
                "beaten_by": len(beating),
                "best_beating": max(beating, key=lambda p: p["target"]) if beating else None,
            }
        )
    return out


def plot_fronts(rows: list[dict], path) -> None:
    from automl_kit.utils.plotting import pyplot

    plt = pyplot()
    fig, axes = plt.subplots(1, len(rows), figsize=(5 * len(rows), 4), squeeze=False)
    for ax, r in zip(axes[0], rows):
        base = r["methods"]["original"]
        for name, points in r["fronts"].items():
            if name == "synaptic_join":
                n_chosen = r["methods"]["synaptic_join"]["knob"].split(",")[0]
                points = [p for p in points if p["knob"].startswith(n_chosen + ",")]
            ax.plot(
                [p["overall"] * 100 for p in points],
                [p["target"] * 100 for p in points],
                "o-",
                ms=3,
                label=name,
            )
        ax.axvline(base["overall"] * 100 - 0.2, color="grey", ls=":", lw=1)
        ax.plot(base["overall"] * 100, base["target"] * 100, "k*", ms=10, label="original")
        ax.set_xlabel("overall test accuracy (%)")
        ax.set_ylabel(f"target (class {r['target']}) test accuracy (%)")
        ax.set_title(f"seed {r['seed']}")
        ax.set_xlim(base["overall"] * 100 - 3, base["overall"] * 100 + 1)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_aan(cell: dict, budget: dict) -> dict:
    """AAN against depth augmentation (DA) on the same trained base: accuracy, parameters, time.

    DA (Wang et al., the thesis's baseline): a new Dense(512, relu) after the last representation
    layer and a new head, the whole model fine-tuned. AAN: a 1-hidden-layer MLP (96 units) on 1,000
    active neurons, trained from the tables. Both train the same number of epochs, batch 150.
    """
    import keras

    from automl_kit import datasets
    from automl_kit.tweak import ActiveNeuronAugmentation, extract_tables
    from automl_kit.utils.models import replace_head

    seed = cell["seed"]
    data = datasets.load(
        cell["dataset"],
        n_train=budget["n_train"],
        n_val=budget["n_val"],
        n_test=budget["n_test"],
        seed=seed,
    )
    keras.utils.set_random_seed(seed)
    model = cnn(data.input_shape, data.num_classes)
    model.compile(
        keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    model.fit(data.x_train, data.y_train, epochs=budget["epochs"], batch_size=128, verbose=0)
    epochs, batch = budget["aug_epochs"], 150
    iterations = epochs * -(-len(data.y_train) // batch)
    base = float(model.evaluate(data.x_test, data.y_test, verbose=0)[1])

    t0 = time.perf_counter()
    train = extract_tables(model, data.x_train, data.y_train, layers=LAYERS)
    tables_s = time.perf_counter() - t0
    val = extract_tables(model, data.x_val, data.y_val, layers=LAYERS)
    test = extract_tables(model, data.x_test, data.y_test, layers=LAYERS)
    t0 = time.perf_counter()
    aan = ActiveNeuronAugmentation(
        n_active=1000, hidden=96, epochs=epochs, batch_size=batch, seed=seed
    )
    aan.fit(train, val)
    aan_s = time.perf_counter() - t0
    aan_acc = float((aan.add_to_logits(test).argmax(0) == test.labels).mean())

    keras.utils.set_random_seed(seed)
    da = replace_head(
        model,
        lambda x: keras.layers.Dense(data.num_classes, activation="softmax")(
            keras.layers.Dense(512, activation="relu")(x)
        ),
    )
    da = keras.models.clone_model(da)  # fine-tuning must not change the base model
    da.set_weights(
        [*[w for w in model.get_weights()][: len(da.get_weights()) - 4], *da.get_weights()[-4:]]
    )
    da.compile(keras.optimizers.Adam(1e-4), "sparse_categorical_crossentropy", metrics=["accuracy"])
    t0 = time.perf_counter()
    da.fit(data.x_train, data.y_train, epochs=epochs, batch_size=batch, verbose=0)
    da_s = time.perf_counter() - t0
    da_acc = float(da.evaluate(data.x_test, data.y_test, verbose=0)[1])
    head_params = model.layers[-1].count_params()

    # WA: a new Dense(512) beside the head on the same features, its (zero-initialised) class
    # scores added to the old head's logits, so it starts as the base model; all fine-tuned
    keras.utils.set_random_seed(seed)
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())

    def wa_head(x):
        old = keras.layers.Dense(data.num_classes, name="wa_old_head")(x)
        hidden = keras.layers.Dense(512, activation="relu", name="wa_hidden")(x)
        new = keras.layers.Dense(data.num_classes, kernel_initializer="zeros", name="wa_out")(
            hidden
        )
        return keras.layers.Activation("softmax")(keras.layers.Add()([old, new]))

    wa = replace_head(clone, wa_head)
    wa.get_layer("wa_old_head").set_weights(model.layers[-1].get_weights())
    wa.compile(keras.optimizers.Adam(1e-4), "sparse_categorical_crossentropy", metrics=["accuracy"])
    wa_start = float(wa.evaluate(data.x_test, data.y_test, verbose=0)[1])
    t0 = time.perf_counter()
    wa.fit(data.x_train, data.y_train, epochs=epochs, batch_size=batch, verbose=0)
    wa_s = time.perf_counter() - t0
    wa_acc = float(wa.evaluate(data.x_test, data.y_test, verbose=0)[1])
    return {
        "base_accuracy": base,
        "aan_accuracy": aan_acc,
        "da_accuracy": da_acc,
        "wa_accuracy": wa_acc,
        "wa_start_accuracy": wa_start,
        "wa_parameters": wa.count_params() - model.count_params(),
        "wa_s_per_1k_iterations": 1000 * wa_s / iterations,
        "aan_parameters": aan.added_parameters,
        "da_parameters": da.count_params() - (model.count_params() - head_params),
        "aan_s_per_1k_iterations": 1000 * aan_s / iterations,
        "aan_tables_s": tables_s,
        "da_s_per_1k_iterations": 1000 * da_s / iterations,
        "iterations": iterations,
    }


def main(argv=None) -> dict:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--resume", action="store_true")
    p.add_argument("--part", choices=("tweak", "aan"), default="tweak", help="aan: AAN against DA")
    p.add_argument("--dataset", choices=("fashion_mnist", "cifar10"), default="fashion_mnist")
    p.add_argument("--seeds", type=int, default=None, help="run only the first N seeds")
    args = p.parse_args(argv)
    budget = dict(BUDGETS[args.budget])
    if args.seeds:
        budget["seeds"] = budget["seeds"][: args.seeds]
    suffix = "" if args.dataset == "fashion_mnist" else f"_{args.dataset}"
    if args.dataset == "cifar10" and args.budget == "small":
        # the stored CIFAR-10 subset has 4,000 training and 1,000 test images: use them all
        budget.update(n_train=None, n_val=1_000, n_test=None, epochs=10)
    if args.part == "aan":
        grid = run_grid(
            "synaptic_join_quality_aan",
            [{"dataset": args.dataset, "seed": s} for s in budget["seeds"]],
            lambda cell: run_aan(cell, budget),
            out=args.out or RESULTS / f"synaptic_join_quality_aan{suffix}-{args.budget}.json",
            resume=args.resume,
            budget=args.budget,
        )
        columns = ["seed", "base_accuracy", "aan_accuracy", "da_accuracy", "wa_accuracy"]
        columns += ["aan_parameters", "da_parameters", "wa_parameters"]
        columns += ["aan_s_per_1k_iterations", "da_s_per_1k_iterations", "wa_s_per_1k_iterations"]
        print(table(grid.rows, columns))
        return {"runs": grid.rows}
    out = args.out or RESULTS / f"synaptic_join_quality{suffix}-{args.budget}.json"
    cells = [{"dataset": args.dataset, "seed": s} for s in budget["seeds"]]
    grid = run_grid(
        "synaptic_join_quality",
        cells,
        lambda cell: run_seed(cell, budget),
        out=out,
        resume=args.resume,
        budget=args.budget,
        figures=figures,
    )
    result = figures(grid.rows)
    print(table(result["summary"], ["method", "seeds", "overall", "target", "max_offtarget_drop"]))
    print(table(result["differences_points"], ["method", "metric", *DIFFERENCE_COLUMNS]))
    print(table(result["front_check"], ["seed", "overall", "target", "kept", "beaten_by"]))
    if grid.rows:
        plot_fronts(grid.rows, RESULTS / f"synaptic_join_quality{suffix}-{args.budget}-fronts.png")
    return result


if __name__ == "__main__":
    main()
