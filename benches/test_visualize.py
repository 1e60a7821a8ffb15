"""Feature visualisation: one 224 px channel with the default steps, and a 16-channel
sheet rendered as one batch against the same 16 channels rendered one at a time.

A channel index is data (a one-hot selection), so the batch reuses one compiled step and
fills the network's batch dimension; the single runs pay every step's fixed costs
(transforms, Adam, host round trips) 16 times.
"""

from __future__ import annotations

import pytest

from benches.recording import measure
from kdream.objectives.visual import channel_batch
from kdream.techniques.visualize.render import Visualizer, VisualizeSettings

LAYER = "mixed4"
SHEET_CHANNELS = tuple(range(16))


@pytest.fixture(scope="module")
def visualizer(dreamer):
    return Visualizer(dreamer=dreamer)


def default_channel(settings) -> VisualizeSettings:
    """The CLI's defaults (224 px, 256 steps); a few steps of a small picture when quick."""
    defaults = VisualizeSettings()
    return defaults.replace(size=96, steps=4) if settings.quick else defaults


def sheet_settings(settings) -> VisualizeSettings:
    """Fewer steps than a real sheet: the batch-to-singles ratio is per step."""
    return VisualizeSettings(size=96 if settings.quick else 160, steps=2 if settings.quick else 16)


@pytest.mark.benchmark(group="visualize")
def test_visualize_one_channel(benchmark, visualizer, settings):
    chosen = default_channel(settings)
    objective = channel_batch(LAYER, [97])

    def render():
        pictures = visualizer.render(objective, chosen)
        assert pictures.shape == (1, chosen.size, chosen.size, 3) and pictures.std() > 0
        return pictures

    measure(
        benchmark, render, case=f"channel {chosen.size}² x {chosen.steps} steps", rounds=1,
        size=chosen.size, steps=chosen.steps,
    )  # fmt: skip


@pytest.mark.benchmark(group="visualize sheet")
def test_visualize_sheet_batched(benchmark, visualizer, settings):
    chosen = sheet_settings(settings)
    objective = channel_batch(LAYER, SHEET_CHANNELS)

    def render():
        pictures = visualizer.render(objective, chosen)
        assert pictures.shape[0] == len(SHEET_CHANNELS)
        return pictures

    measure(
        benchmark, render, case=f"16 channels {chosen.size}² x {chosen.steps} steps",
        rounds=2, baseline="one by one", size=chosen.size, steps=chosen.steps,
    )  # fmt: skip


@pytest.mark.benchmark(group="visualize sheet (one by one)")
def test_visualize_sheet_one_by_one(benchmark, visualizer, settings):
    chosen = sheet_settings(settings)

    def render():
        pictures = [visualizer.render(channel_batch(LAYER, [c]), chosen) for c in SHEET_CHANNELS]
        assert len(pictures) == len(SHEET_CHANNELS)
        return pictures

    measure(
        benchmark, render, case=f"16 channels {chosen.size}² x {chosen.steps} steps",
        variant="one by one", rounds=1, size=chosen.size, steps=chosen.steps,
    )  # fmt: skip
