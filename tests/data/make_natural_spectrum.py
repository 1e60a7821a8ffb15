"""Regenerate kdream/data/natural_spectrum.npz (MACO's magnitude spectrum) from
scikit-image's photos: ``python tests/data/make_natural_spectrum.py``.

tests/techniques/test_spectrum.py checks that this gives the array kdream ships."""

from pathlib import Path

import numpy as np
import skimage

from kdream.techniques.visualize.spectrum import PHOTOS, SPECTRUM_FILE, compute_spectrum


def photo_paths() -> list[Path]:
    folder = Path(skimage.__file__).parent / "data"
    return [folder / name for name in PHOTOS]


if __name__ == "__main__":
    spectrum = compute_spectrum(photo_paths())
    with open(SPECTRUM_FILE, "wb") as stream:
        np.savez_compressed(stream, **spectrum)
    print(SPECTRUM_FILE, SPECTRUM_FILE.stat().st_size, "bytes")
