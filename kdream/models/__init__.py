"""Model specs: any Keras network as data (:mod:`~kdream.models.spec`), the built-in
families (:mod:`~kdream.models.families`), users' own ``.keras`` files
(:mod:`~kdream.models.own`), ``--model`` (:mod:`~kdream.models.factory`) and the feature
extractor a dream differentiates (:mod:`~kdream.models.extractor`).

Example:
    >>> from kdream.models import model_spec
    >>> model_spec("inceptionv3").default_layers
    {'mixed3': 1.0, 'mixed5': 1.5}
"""

from __future__ import annotations

from kdream.models.extractor import FeatureExtractor
from kdream.models.factory import model_spec
from kdream.models.spec import ModelError, ModelSpec

__all__ = ["FeatureExtractor", "ModelError", "ModelSpec", "model_spec"]
