"""Lucid's FFT parameterisation against MACO on InceptionV3's deep layers (2015 weights):
the numbers and the sheet behind the README's "Deep layers: MACO" section.

    KERAS_BACKEND=tensorflow python benches/maco_vs_fft.py --out docs/ --size 224 --steps 256

For each layer and channel, and each parameterisation:

* **ratio**: the channel's mean activation (after its ReLU) on the picture over its mean
  on photos (nine crops of the sample photo, and scikit-image's photos when installed);
* **rank**: where the channel stands among all the layer's channels by that ratio
  (1: the picture excites it, relative to photos, more than any other channel);
* **contrast**: the deviation of the picture's luminance (0-255);
* **high-frequency share**: the fraction of the luminance's power spectrum (mean removed)
  above 0.25 cycles per pixel, beside the same for the photos.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from keras import ops
from PIL import Image

from kdream.io.images.loading import load_sample
from kdream.models.extractor import FeatureExtractor
from kdream.objectives.visual import channel_batch
from kdream.techniques.sheets import contact_sheet
from kdream.techniques.visualize import Visualizer, VisualizeSettings

LAYERS = {"mixed8": (7, 310, 733, 1201), "mixed9": (12, 505, 1337, 2003),
          "mixed10": (40, 777, 1500, 1999)}  # fmt: skip
HIGH_FREQUENCY = 0.25


def photos(side: int) -> np.ndarray:
    """Crops of the sample photo (and of scikit-image's photos when it is installed)."""
    sources = [load_sample().rgb]
    try:
        import skimage.data

        sources += [skimage.data.astronaut(), skimage.data.chelsea(), skimage.data.rocket()]
    except ImportError:
        pass
    crops = []
    for rgb in sources:
        picture = Image.fromarray(rgb)
        for fraction in (1.0, 0.6):
            crop_side = int(min(picture.size) * fraction)
            for left in np.linspace(0, picture.width - crop_side, 3).astype(int):
                box = (left, 0, left + crop_side, crop_side)
                crops.append(np.asarray(picture.crop(box).resize((side, side), Image.BILINEAR)))
    return np.stack(crops)


def high_frequency_share(pictures: np.ndarray) -> float:
    luminance = np.asarray(pictures[..., :3], np.float64) @ [0.299, 0.587, 0.114]
    luminance -= luminance.mean(axis=(1, 2), keepdims=True)
    power = np.abs(np.fft.fft2(luminance)) ** 2
    fy = np.fft.fftfreq(luminance.shape[1])[:, None]
    fx = np.fft.fftfreq(luminance.shape[2])[None, :]
    high = np.sqrt(fx * fx + fy * fy) > HIGH_FREQUENCY
    return float((power[:, high].sum(axis=1) / power.sum(axis=(1, 2))).mean())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=Path("."))
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--steps", type=int, default=256)
    args = parser.parse_args()
    visualizer = Visualizer(weights="inception2015")
    baseline = photos(args.size)
    rows, cells, titles = [], [], []
    for layer, channels in LAYERS.items():
        extractor = FeatureExtractor.build([layer], base=visualizer.dreamer.model)

        def means(pictures, extractor=extractor):
            pixels = np.asarray(pictures[..., :3], np.float32) / 127.5 - 1.0
            outputs = extractor.model(ops.convert_to_tensor(pixels))
            return ops.convert_to_numpy(outputs).mean(axis=(1, 2))

        on_photos = means(baseline).mean(axis=0) + 1e-6
        for param in ("fft", "maco"):
            started = time.perf_counter()
            settings = VisualizeSettings(size=args.size, steps=args.steps, param=param)
            pictures = visualizer.render(channel_batch(layer, list(channels)), settings)
            seconds = time.perf_counter() - started
            ratios = means(pictures) / on_photos
            for index, channel in enumerate(channels):
                rank = int((ratios[index] > ratios[index, channel]).sum()) + 1
                luminance = np.asarray(pictures[index], np.float64) @ [0.299, 0.587, 0.114]
                rows.append({
                    "layer": layer, "channel": channel, "param": param,
                    "ratio": round(float(ratios[index, channel]), 1), "rank": rank,
                    "of": int(ratios.shape[1]), "contrast": round(float(luminance.std()), 1),
                    "high_frequency": round(high_frequency_share(pictures[index:index + 1]), 4),
                    "seconds_per_batch": round(seconds, 1),
                })  # fmt: skip
                print(json.dumps(rows[-1]), flush=True)
                cells.append(pictures[index])
                titles.append(f"{param} {layer}:{channel}")
    summary = {"photos_high_frequency": round(high_frequency_share(baseline), 4), "rows": rows}
    (args.out / "maco_vs_fft.json").write_text(json.dumps(summary, indent=1) + "\n")
    order = sorted(range(len(cells)), key=lambda i: (titles[i].split()[0], i))
    sheet = contact_sheet([cells[i] for i in order], [titles[i] for i in order], 160, columns=6)
    Image.fromarray(sheet).save(args.out / "maco_vs_fft.jpg", quality=90)
    print("photos' high-frequency share:", summary["photos_high_frequency"])


if __name__ == "__main__":
    main()
