"""One compiled visualisation step: the gradient of the objective with respect to the
image parameters (through the parameterisation and the transforms), Adam, and the map to
pictures.

Most renders differentiate the parameters in one piece. A render that also needs the
gradient on the *pixels* (MACO's importance map, or the pull toward a photo of feature
accentuation) splits the chain: the network's gradient on the pixels first, then that
gradient, changed as needed, pulled back through the parameterisation
(:func:`kdream.backend.vector_jacobian`).

Example:
    >>> step = VisualizeStep(dreamer, objective, settings)             # doctest: +SKIP
    >>> values, gradient = step.gradient(parameters, matrices, *fixed_data)  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np

from kdream import backend
from kdream.ascent.adam import adam_ascent
from kdream.ascent.dreamer import Dreamer
from kdream.models.families import check_channel_count
from kdream.objectives.core import Objective
from kdream.objectives.visual import (
    CHANNEL_SELECTION,
    ChannelBatchTerm,
    ClassTerm,
    NeuronTerm,
    channel_selection,
)
from kdream.techniques.visualize.settings import VisualizeSettings


class VisualizeStep:
    """The gradient of the objective with respect to the image parameters (through the
    parameterisation and the transforms), Adam, and the map to pictures; with ``split``,
    also :meth:`split_gradient`."""

    def __init__(
        self,
        dreamer: Dreamer,
        objective: Objective,
        settings: VisualizeSettings,
        split: bool = False,
    ):
        self.spec = dreamer.spec
        # A prepared extractor when the cache has one: the network is then neither built
        # nor loaded (kdream.models.prepared); checks read the extractor, not the network.
        self.extractor = dreamer.extractor_for(objective.layer_names, settings.pre_activation)
        param, transforms = settings.image_param(dreamer.spec.channels), settings.transforms
        self.base_count = len(param.bases())
        self.data_keys = objective.data_keys
        names, base_count = self.extractor.layer_names, self.base_count

        def prepare(parameters, matrices, *data):
            pixels = param.to_unit_rgb(parameters, *data[:base_count])
            return transforms.apply(pixels, matrices) * 2.0 - 1.0

        def objective_of_outputs(outputs, matrices, *data):
            outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
            named = dict(zip(self.data_keys, data[base_count:]))
            return objective(dict(zip(names, outputs)), named)

        self.gradient = backend.input_gradient(
            self.extractor.model, objective_of_outputs, prepare=prepare
        )
        self.adam = backend.compile_function(adam_ascent)
        self.pictures = backend.compile_function(param.to_unit_rgb)
        self.split = split
        if split:

            def seen(pixels, matrices, *data):
                return transforms.apply(pixels, matrices) * 2.0 - 1.0

            self.pixel_gradient = backend.input_gradient(
                self.extractor.model, objective_of_outputs, prepare=seen
            )
            self.pull_back = backend.vector_jacobian(param.to_unit_rgb)
            self.toward = backend.compile_function(_toward_photo)

    def split_gradient(self, parameters, matrices, fixed_data, photo=None, closeness=None):
        """(values, gradient on the parameters, gradient of the objective on the pixels).

        With ``photo`` ((N, H, W, C) in [0, 1]) the ascent also lowers ``closeness`` times
        the mean squared difference of the pixels with it (feature accentuation).
        """
        bases = fixed_data[: self.base_count]
        pixels = self.pictures(parameters, *bases)
        values, pixel_gradient = self.pixel_gradient(pixels, matrices, *fixed_data)
        ascent = pixel_gradient
        if photo is not None:
            ascent = self.toward(pixel_gradient, pixels, photo, closeness)
        return values, self.pull_back(parameters, ascent, *bases), pixel_gradient

    def objective_data(self, objective: Objective, count: int) -> list[np.ndarray]:
        """The data tensors the objective reads, in ``objective.data_keys`` order."""
        data = []
        for key in self.data_keys:
            if key != CHANNEL_SELECTION:
                raise ValueError(f"visualize: no data for objective input {key!r}")
            (term,) = [t for t in objective.terms if isinstance(t, ChannelBatchTerm)]
            channels = self.extractor.channel_counts()[term.layer]
            rows = term.channels if len(term.channels) == count else term.channels * count
            data.append(channel_selection(rows, channels))
        return data

    def check(self, objective: Objective, input_hw, size: int) -> None:
        """One clear error for a channel, unit or position the model lacks, or an image
        too small for its layers (a layer it lacks was named when the step was built)."""
        if self.spec.fixed_hw is not None and tuple(input_hw) != tuple(self.spec.fixed_hw):
            fitting = self.spec.fixed_hw[0] - (int(input_hw[0]) - size)
            raise ValueError(
                f"size: {self.spec.display_name} takes {self.spec.fixed_hw[0]} px inputs only; "
                f"with these transforms that is --size {fitting}"
            )
        # A classifier's head has no positions: only spatial outputs bound the size.
        spatial = all(len(output.shape) == 4 for output in self.extractor.model.outputs)
        minimum = self.extractor.min_side() if spatial else self.spec.min_input_side
        if min(input_hw) < minimum:
            raise ValueError(f"size: these layers need images of at least {minimum} px")
        for term in objective.terms:
            indices = list(getattr(term, "channels", None) or ())
            indices += [term.channel] if isinstance(term, NeuronTerm) else []
            indices += [term.unit] if isinstance(term, ClassTerm) else []
            check_channel_count(term.layer, self.extractor.channel_counts()[term.layer], indices)
            if isinstance(term, NeuronTerm):
                self._check_position(term, input_hw)

    def _check_position(self, term: NeuronTerm, input_hw) -> None:
        height, width = self.extractor.spatial_size(input_hw)[term.layer]
        if term.x >= width or term.y >= height:
            raise ValueError(
                f"neuron: {term.layer} is {width}x{height} positions at this size; "
                f"x must be below {width} and y below {height} (got {term.x},{term.y})"
            )


def _toward_photo(pixel_gradient, pixels, photo, closeness):
    """The objective's pixel gradient plus that of ``-closeness * mean((pixels - photo)^2)``
    per picture."""
    count = float(np.prod(pixels.shape[1:]))
    return pixel_gradient - (2.0 * closeness / count) * (pixels - photo)
