"""``--model``: a family name or a user's ``.keras`` file, as a spec.

Example:
    >>> model_spec("VGG19").catalogue["block4_conv4"]
    'ornaments, eyes and object parts'
"""

from __future__ import annotations

import pathlib

from kdream.models.families import family_spec
from kdream.models.spec import ModelError, ModelSpec
from kdream.network import zoo


def model_spec(model: str | ModelSpec | None = None, input_range=None) -> ModelSpec:
    """The spec for ``--model``: a family name (``vgg19``) or a path to a ``.keras`` file.

    ``input_range`` (``(low, high)``) is where an own model's pixels live (default (0, 1));
    keras.applications families use their own preprocessing and refuse it.

    Example:
        >>> model_spec("VGG19").catalogue["block4_conv4"]
        'ornaments, eyes and object parts'
    """
    if isinstance(model, ModelSpec):
        return model
    text = str(model or zoo.DEFAULT_FAMILY).strip()
    try:
        family = zoo.family_named(text)
    except KeyError:
        family = None
    if family is not None:
        if input_range is not None:
            raise ModelError(
                f"--input-range: {family.builder} has its own preprocessing; "
                "the option is for your own models"
            )
        return family_spec(family.name)
    if _looks_like_file(text):
        from kdream.models.own import own_model_spec

        return own_model_spec(pathlib.Path(text).expanduser(), input_range)
    raise ModelError(
        f"unknown model {text!r}; use one of {', '.join(zoo.FAMILIES)} or a path to a .keras file"
    )


def _looks_like_file(text: str) -> bool:
    return text.endswith((".keras", ".h5")) or "/" in text or pathlib.Path(text).exists()
