"""Beyond one machine: a folder dream spread over Ray actors, on one laptop or a cluster.

Each actor loads the network once and dreams files with the very function the serial
``kdream dream photos/ -o dreams/`` uses (:func:`kdream.io.folder.dream_file`), so a Ray
run writes the same files bit for bit, whichever worker took which file. Ray is imported
only when one of these functions runs (``pip install "kdream[ray]"``).

Example:
    >>> from kdream.distributed import dream_folder  # doctest: +SKIP
    >>> outcomes = dream_folder("photos/", "dreams/", workers=2)  # doctest: +SKIP
    >>> [outcome.status for outcome in outcomes]  # doctest: +SKIP
    ['written', 'written', 'failed']
"""

from __future__ import annotations

from kdream.distributed.cluster import RAY_EXTRA, RayNotInstalled, ray_installed
from kdream.distributed.folder import dream_folder, dream_jobs

__all__ = ["RAY_EXTRA", "RayNotInstalled", "dream_folder", "dream_jobs", "ray_installed"]
