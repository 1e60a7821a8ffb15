"""Reference images and the data an objective reads from them, octave by octave.

A guide or a style term does not only look at the dream: it compares it with features of
another picture (the guide's features, the style's Gram matrices, the content's
activations). Those targets are computed here, once per octave at that octave's scale,
and handed to the compiled gradient as ``data`` (arguments, so new pictures never
recompile it).

Terms that read references follow a small protocol (duck-typed, see kdream.guide and
kdream.techniques.style):

* ``references`` (a tuple of :class:`ReferenceImage`) and ``mix`` (one weight each): the
  term's data is ``sum(mix[i] * term.target(activations of references[i]))``;
* ``reads_tiles = True`` instead: the term compares each tile with the same tile of the
  picture being dreamed as it was at the start (its *content*), cut with the same roll.

Example:
    >>> flowers = ReferenceImage.of(np.zeros((64, 64, 3), np.uint8), "flowers")
    >>> len(flowers.sha256)
    64
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable

import numpy as np
from keras import ops

from kdream.pixels import resize, rgb_picture, to_model_range


@dataclasses.dataclass(frozen=True)
class ReferenceImage:
    """A picture an objective reads, named by its sha256 (what recipes record).

    Equality and hashing use the sha256 only, so objectives stay hashable and a recipe's
    term (sha256 without pixels) equals the term built from the file.
    """

    sha256: str
    name: str = dataclasses.field(default="", compare=False)
    pixels: np.ndarray | None = dataclasses.field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, pixels, name: str = "") -> ReferenceImage:
        """A reference from a uint8 RGB array (its sha256 covers its shape and bytes).

        Example:
            >>> ReferenceImage.of(np.zeros((8, 8, 3), np.uint8)).pixels.shape
            (8, 8, 3)
        """
        pixels = np.ascontiguousarray(rgb_picture(pixels, "reference image"))
        digest = hashlib.sha256(repr(pixels.shape).encode())
        digest.update(pixels.tobytes())
        return cls(digest.hexdigest(), name, pixels)

    def to_recipe(self) -> dict:
        return {"sha256": self.sha256, "name": self.name}

    @classmethod
    def from_recipe(cls, entry) -> ReferenceImage:
        """The reference a recipe names (no pixels: :func:`bind` adds them), checked as data."""
        sha256 = entry.get("sha256") if isinstance(entry, dict) else None
        if not isinstance(sha256, str) or len(sha256) != 64:
            raise ValueError("recipe: a reference image needs its 64-digit 'sha256'")
        name = entry.get("name", "")
        return cls(sha256.lower(), name if isinstance(name, str) else "")


def references_of(objective) -> tuple[ReferenceImage, ...]:
    """Every reference image the objective's terms read, each once."""
    found = (ref for term in objective.terms for ref in getattr(term, "references", ()))
    return tuple(dict.fromkeys(found))


def bind(objective, images: Iterable[ReferenceImage]):
    """``objective`` with its references' pixels taken from ``images`` (matched by sha256),
    e.g. a recipe's objective and the files given on the command line.

    Raises ``ValueError`` (one line) when a term's reference is not among ``images``.

    Example:
        >>> flowers = load_reference("flowers.jpg")  # doctest: +SKIP
        >>> bound = bind(recipe_objective, [flowers])
    """
    from kdream.objectives.core import Objective

    by_sha = {image.sha256: image for image in images}
    terms = []
    for term in objective.terms:
        references = getattr(term, "references", ())
        for reference in references:
            if reference.sha256 not in by_sha:
                name = f" ({reference.name})" if reference.name else ""
                raise ValueError(
                    f"the recipe's reference image{name} has sha256 {reference.sha256}; "
                    "no given image matches it"
                )
        if references:
            term = dataclasses.replace(term, references=tuple(by_sha[r.sha256] for r in references))
        terms.append(term)
    return Objective(tuple(terms))


def check_reference_sizes(objective, min_side: int) -> None:
    """Refuse references smaller than the objective's layers need (one line)."""
    for reference in references_of(objective):
        if reference.pixels is None:
            raise ValueError(f"reference image {reference.name or reference.sha256}: no pixels")
        height, width = reference.pixels.shape[:2]
        if min(height, width) < min_side:
            layers = ", ".join(objective.layer_names)
            raise ValueError(
                f"{reference.name or 'reference image'}: {width}x{height} px is too small for "
                f"{layers} (they need at least {min_side} px a side)"
            )


class OctaveData:
    """The data tensors an objective reads during one octave (see the module docstring).

    ``shared`` holds the tensors every tile reads (a guide's features, Gram targets);
    :meth:`for_tiles` the per-tile ones (content activations), recomputed only when the
    roll or the tiling changes.
    """

    def __init__(self, step, original, scale: float, objective=None):
        """``step``: the :class:`~kdream.ascent.AscentStep`; ``original``: the dreamed
        picture's start at this octave's size ([-1, 1] floats); ``scale``: this octave's
        size over the run's full size, by which reference images are resized;
        ``objective``: the run's (default: the step's), whose references' pixels are read."""
        self.step = step
        objective = objective or step.objective
        self.shared: dict[str, object] = {}
        self.tile_terms = tuple(
            term for term in objective.terms if getattr(term, "reads_tiles", False)
        )
        self.original = ops.convert_to_tensor(original) if self.tile_terms else None
        self._tiles_key, self._tiles = None, {}
        features: dict[int, dict] = {}  # by id: equal references may hold other pixels
        for term in objective.terms:
            references = getattr(term, "references", ())
            target = None
            for reference, weight in zip(references, getattr(term, "mix", ())):
                if id(reference) not in features:
                    features[id(reference)] = step.features(self._at_scale(reference, scale))
                value = term.target(features[id(reference)][term.layer]) * weight
                target = value if target is None else target + value
            if target is not None:
                self.shared[term.data_keys[0]] = target

    def _at_scale(self, reference: ReferenceImage, scale: float):
        """The reference resized by ``scale`` (never below the layers' minimum side)."""
        height, width = reference.pixels.shape[:2]
        factor = max(scale, self.step.min_side / min(height, width))
        size = (max(1, round(height * factor)), max(1, round(width * factor)))
        pixels = resize(to_model_range(reference.pixels), size)
        return ops.convert_to_tensor(pixels[None])

    def for_tiles(self, layout, shift_key, shift, tile_batch: int) -> dict[str, object]:
        """Per-tile data for the tiles of ``layout`` rolled by ``shift``: the start picture
        cut the same way, through the network (batched like the gradient's tiles)."""
        if not self.tile_terms:
            return {}
        key = (layout, shift_key)
        if key != self._tiles_key:
            tiles = self.step.cut(self.original, layout, shift)
            batches = [
                self.step.features(tiles[begin : begin + tile_batch])
                for begin in range(0, int(tiles.shape[0]), tile_batch)
            ]
            self._tiles = {
                term.data_keys[0]: _concatenate([batch[term.layer] for batch in batches])
                for term in self.tile_terms
            }
            self._tiles_key = key
        return self._tiles


def _concatenate(parts):
    return parts[0] if len(parts) == 1 else ops.concatenate(parts, axis=0)
