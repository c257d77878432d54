"""Layout makers: where each code sits on the image grid, one file each behind
:class:`~automl_kit.ehr.layouts.base.LayoutMaker` (names in ``automl_kit.registries.LAYOUTS``):
``ga`` (Xiao's permutation GA, Alg. 3), ``random``, ``embedding`` (DeepInsight-style) and
``igtd`` (Zhu et al. 2021)."""
