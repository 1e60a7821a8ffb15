"""The README's Python example prints nothing but what it asks for: no framework start-up
chatter and no tf.function retracing advice (kdream's own loops trace each function once per
shape they need)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

README_EXAMPLE = textwrap.dedent(
    """
    import kdream
    from kdream.imageio import load_sample, save_image
    from kdream.pixels import resize

    # A small photo in small tiles: every octave has another tile grid, as a big photo has.
    photo = resize(load_sample().rgb, (192, 256))
    dreamed = kdream.dream(photo, layers={"mixed4": 1.0}, steps=3, tile_size=96, weights="random")

    dreamer = kdream.Dreamer(weights="random")
    config = kdream.DreamConfig(
        layers={"mixed3": 1.0, "mixed5": 1.5}, seed=7, steps=3, tile_size=96
    )
    objective = (
        kdream.layer("mixed3") + 1.5 * kdream.layer("mixed5") - 0.5 * kdream.channel("mixed4", 97)
    )
    out = dreamer.dream(photo, config, objective=objective, on_progress=lambda p: print(p.loss))
    save_image("dream.png", out, recipe=dreamer.recipe(config, photo.shape[:2], objective))
    """
)


def test_the_readme_python_example_writes_nothing_to_stderr(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith("TF_CPP")}
    result = subprocess.run(
        [sys.executable, "-c", README_EXAMPLE],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr
    assert len(result.stdout.split()) == 4 * 3  # one loss per step of each octave
    assert (tmp_path / "dream.png").is_file()


def test_the_weights_converters_network_loads_keras_quietly(tmp_path):
    """`kdream weights fetch` is a user's first command and its CLI path loads no Keras up
    front: the converter's own network build must keep TensorFlow's C++ lines away."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("TF_CPP")}
    code = (
        "from kdream.weights.inception2015 import build_inception_v3\n"
        "print(len(build_inception_v3().weights))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr
    assert int(result.stdout) == 376  # InceptionV3 without its head: 94 convs, 94 BNs x 3
