"""Every name the CLI, the benchmarks and configs accept, in one place, without importing TensorFlow.

Entries are lazy (``"module:Class"``), so ``automl-kit --help`` and argument checks stay instant;
the class is imported on first ``get``. Adding an algorithm means adding its file and one line here.
Data sets keep their own registry in :mod:`automl_kit.datasets` (they need no TensorFlow either).

>>> from automl_kit.registries import SEARCHERS
>>> "vlga" in SEARCHERS and "optuna_tpe" in SEARCHERS
True
"""

from __future__ import annotations

from automl_kit.utils.registry import Registry

SEARCHERS = Registry("search algorithm")
for _name, _target in {
    "vlga": "automl_kit.search.vlga:VariableLengthGA",
    "random_search": "automl_kit.search.random_search:RandomSearch",
    "classical_ga": "automl_kit.search.classical_ga:ClassicalGA",
    "large_scale_evolution": "automl_kit.search.large_scale_evolution:LargeScaleEvolution",
    # peers need the ``benchmarks`` extra (KerasTuner, Optuna)
    "keras_tuner_random": "automl_kit.search.peers.keras_tuner:KerasTunerRandom",
    "keras_tuner_bayesian": "automl_kit.search.peers.keras_tuner:KerasTunerBayesian",
    "keras_tuner_hyperband": "automl_kit.search.peers.keras_tuner:KerasTunerHyperband",
    "optuna_tpe": "automl_kit.search.peers.optuna_tpe:OptunaTPE",
}.items():
    SEARCHERS.register(_name, _target)

# Names only, for argument choices without TensorFlow; automl_kit.training.optimizers builds them.
OPTIMIZER_NAMES = (
    "sgd",
    "momentum",
    "nesterov",
    "rmsprop",
    "adam",
    "adamw",
    "adagrad",
    "adadelta",
    "adamax",
    "nadam",
)
# training-time augmentation of automl_kit.training.Recipe (names only, for argument choices)
# pkgcn's optimizers: the shared recipe, or the thesis's by name (knowledge.experiments)
TWO_STAGE_OPTIMIZER_NAMES = ("recipe", "adadelta", "adam", "sgd")
AUGMENTATION_NAMES = ("auto", "none", "flip_translate", "translate")
RECIPE_SCHEDULE_NAMES = ("cosine", "onecycle", "step", "constant")  # Recipe(schedule=...)
RECIPE_KEEP_NAMES = ("best", "ema", "last")  # Recipe(keep=...)
# search.evolve(rival=...): the no-search rival; "auto" is the textbook CNN for images
SEARCH_RIVAL_NAMES = ("auto", "textbook", "none")
# diagnose.find_label_issues(model=...): "auto" is the textbook CNN for images, else logistic
LABEL_MODEL_NAMES = ("auto", "logistic", "cnn")
# CNNBoostedClassifier(combine=...): how the CNN joins the tree model (automl_kit.ehr)
BOOSTER_COMBINE_NAMES = ("rank_average", "stacker", "cnn_feature")
# automl_kit.capacity.grow: task -> (epochs, chunks, n_train, n_test) when not given
GROWTH_TASK_DEFAULTS = {
    "sine": (60, 5, 2048, None),
    "mnist": (5, 10, 6000, 2000),
    "cifar10": (10, 4, None, None),
}
SCHEDULE_NAMES = ("constant", "inverse_time", "exponential", "inverse_sqrt", "staircase")
# the decks' activations (seed 003) plus Keras's other common ones
ACTIVATION_NAMES = (
    "relu",
    "leaky_relu",
    "elu",
    "selu",
    "gelu",
    "swish",
    "softplus",
    "tanh",
    "sigmoid",
    "softmax",
    "linear",
)

SPACES = Registry("search space")
SPACES.register("cnn", "automl_kit.search.spaces.cnn:CNNSpace")
SPACES.register("dense", "automl_kit.search.spaces.dense:DenseSpace")
SPACES.register("stages", "automl_kit.search.spaces.stages:StageSpace")

POLICIES = Registry("freezing policy")
for _name, _target in {
    "none": "automl_kit.freezing.policies.no_freezing:NoFreezing",
    "intelligent": "automl_kit.freezing.policies.intelligent:IntelligentFreezing",
    "freezeout": "automl_kit.freezing.policies.freezeout:FreezeOut",
    "autofreeze": "automl_kit.freezing.policies.autofreeze:AutoFreeze",
}.items():
    POLICIES.register(_name, _target)

EXECUTORS = Registry("executor")
for _name in ("serial", "process", "ray"):
    EXECUTORS.register(_name, f"automl_kit.utils.executor:{_name.capitalize()}Executor")

MODELS = Registry("model")


def _zoo(name: str):
    """A builder that imports the zoo (and TensorFlow) only when a model is built."""

    def build(input_shape: tuple[int, ...], num_classes: int, *, width: float = 1.0):
        from automl_kit.zoo import build_model

        return build_model(name, input_shape, num_classes, width=width)

    build.__name__ = name
    return build


for _name in (
    "vgg11",
    "vgg19",
    "resnet18",
    "resnet20",
    "resnet50",
    "densenet40",
    "densenet121",
    "textbook_cnn",
):
    MODELS.register(_name, _zoo(_name))

GROWTH_STARTS = Registry("growth start")  # how new units start when a partial layer grows
for _name, _target in {
    "zero_outgoing": "automl_kit.capacity.starts.zero_outgoing:ZeroOutgoing",
    "keep_init": "automl_kit.capacity.starts.keep_init:KeepInit",
    "net2net": "automl_kit.capacity.starts.net2net:Net2Net",
    "gradmax": "automl_kit.capacity.starts.gradmax:GradMax",
}.items():
    GROWTH_STARTS.register(_name, _target)

LAYOUTS = Registry("layout")  # where an EHR image puts each code (automl_kit.ehr)
for _name, _target in {
    "ga": "automl_kit.ehr.layouts.ga:PermutationGA",
    "random": "automl_kit.ehr.layouts.random:RandomLayout",
    "embedding": "automl_kit.ehr.layouts.embedding:EmbeddingLayout",
    "igtd": "automl_kit.ehr.layouts.igtd:IGTDLayout",
}.items():
    LAYOUTS.register(_name, _target)

__all__ = ["EXECUTORS", "GROWTH_STARTS", "LAYOUTS", "MODELS", "POLICIES", "SEARCHERS", "SPACES"]
