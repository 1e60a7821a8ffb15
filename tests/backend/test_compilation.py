"""How often a dream compiles, per backend: TensorFlow on a CPU traces each function once
for every image size (octaves never retrace); JAX compiles once per shape and keeps the
programs in kdream's cache dir for the next process; torch runs eagerly. The GPU paths
(XLA with static shapes on TensorFlow, the unswapped network on JAX) run here on the CPU.
"""

from __future__ import annotations

import logging

import keras
import numpy as np
import pytest
from keras import ops

from kdream import DreamConfig, backend
from kdream._files import cache_dir
from kdream.ascent.step import AscentStep
from kdream.backend.common import JAX_CACHE_FOLDER
from kdream.models.extractor import FeatureExtractor
from kdream.objectives.core import from_config

BACKEND = keras.backend.backend()
CONFIG = DreamConfig(layers={"mixed2": 1.0}, tile_size=128, tile_batch=2)
SIDES = (160, 200, 240)
"""Three octaves' sizes, each cut into 2 x 2 tiles of 128 px at most."""
FUNCTIONS_PER_STEP = 4
"""gradient, cut, paste and update."""


def fresh_step(dreamer) -> AscentStep:
    """A step of its own: nothing compiled yet."""
    objective = from_config(CONFIG)
    extractor = FeatureExtractor.build(objective.layer_names, base=dreamer.model, spec=dreamer.spec)
    return AscentStep(extractor, objective)


def run_step(step, side: int, seed: int = 0):
    image = np.random.default_rng(seed).uniform(-1, 1, (side, side, 3)).astype("float32")
    new_image, loss = step(ops.convert_to_tensor(image), (3, 5), 1.0, 0.01, CONFIG)
    return ops.convert_to_numpy(new_image), float(ops.convert_to_numpy(loss))


def traces_of(function) -> int:
    before = backend.TRACES.traces
    function()
    return backend.TRACES.traces - before


def test_octave_sizes_compile_once_on_tensorflow_once_per_shape_on_jax(dreamer):
    step = fresh_step(dreamer)
    assert {step.tile_layout((side, side), CONFIG).grid for side in SIDES} == {(2, 2)}
    traces = [traces_of(lambda side=side: run_step(step, side)) for side in SIDES]
    again = traces_of(lambda: run_step(step, SIDES[0], seed=1))
    expected = {
        "tensorflow": [FUNCTIONS_PER_STEP, 0, 0],
        "jax": [FUNCTIONS_PER_STEP] * len(SIDES),
        "torch": [0, 0, 0],  # eager: nothing is traced
    }[BACKEND]
    assert traces == expected
    assert again == 0


def test_a_shape_free_trace_computes_what_a_fixed_shape_one_does(dreamer, monkeypatch):
    """TensorFlow's one trace for all sizes against XLA's per-shape programs (the GPU path,
    here on the CPU); JAX's CPU layer swaps against the plain network (its GPU path)."""
    free = fresh_step(dreamer)
    results = [run_step(free, side) for side in SIDES[:2]]
    if BACKEND == "tensorflow":
        monkeypatch.setattr(backend.active(), "on_gpu", lambda: True)
        assert not backend.shape_free()
    elif BACKEND == "jax":
        monkeypatch.setattr(backend.active(), "on_cpu", lambda: False)
    fixed = fresh_step(dreamer)
    traces = traces_of(lambda: [run_step(fixed, side) for side in SIDES[:2]])
    assert traces == (0 if BACKEND == "torch" else 2 * FUNCTIONS_PER_STEP)
    for (image, loss), (fixed_image, fixed_loss) in zip(
        results, [run_step(fixed, side) for side in SIDES[:2]]
    ):
        np.testing.assert_allclose(fixed_loss, loss, rtol=1e-4)
        # The two compilers round the (folded) convolutions differently; where a unit of
        # the random network sits within rounding of its ReLU's kink, one of them counts
        # its gradient and the other does not, over that unit's receptive field. So: most
        # pixels to float rounding, all of them to >= 60 dB (a wrong program is far off).
        difference = np.abs(fixed_image - image)
        assert np.mean(difference <= 2e-5) >= 0.9
        assert 10 * np.log10(4.0 / max(np.mean(difference**2), 1e-30)) >= 60.0


def test_jax_keeps_compiled_programs_in_kdreams_cache_dir(dreamer, caplog):
    """A new process (here: JAX's in-memory caches cleared) loads the step it compiled
    before from ``<cache dir>/jax-compiled``; the other backends keep nothing there."""
    folder = cache_dir() / JAX_CACHE_FOLDER
    if BACKEND != "jax":  # (the JAX session may have filled the folder: it stays as it was)
        before = sorted(folder.glob("*"))
        run_step(fresh_step(dreamer), SIDES[0])
        assert sorted(folder.glob("*")) == before
        return
    import jax

    assert backend.active().use_compilation_cache() == str(folder)
    run_step(fresh_step(dreamer), SIDES[0])
    assert any(folder.glob("jit_gradient-*"))
    jax.clear_caches()
    with caplog.at_level(logging.DEBUG, logger="jax._src.compiler"):
        run_step(fresh_step(dreamer), SIDES[0])
    hits = [r.getMessage() for r in caplog.records if "compilation cache hit" in r.getMessage()]
    assert sum("'jit_gradient'" in hit for hit in hits) == 1
    # cut, paste and update keep their Python name, "function" (compile_function wraps it)
    assert sum("'jit_function'" in hit for hit in hits) == FUNCTIONS_PER_STEP - 1, hits


@pytest.mark.parametrize("side", [100, 300])
def test_layout_vector_round_trip(side):
    from kdream.ascent.tiling import TileLayout

    layout = TileLayout.for_image((side, side + 50), 128, 75)
    vector = layout.as_vector()
    again = TileLayout.from_vector([int(v) for v in vector], layout.grid)
    assert again == layout
