"""Regenerate kdream/data/catalogues.json (every built-in network's layers, channel counts and
head classes, as kdream builds them) from the real networks:
``KERAS_BACKEND=tensorflow python tests/data/make_catalogues.py``.

tests/models/test_catalogue.py checks that InceptionV3 still gives its entry."""

import json

from kdream.catalogue import CATALOGUE_FILE, network_entry
from kdream.network import zoo
from kdream.network.build import new_family_network


def catalogues() -> dict:
    return {name: network_entry(new_family_network(name)) for name in zoo.FAMILIES}


if __name__ == "__main__":
    CATALOGUE_FILE.write_text(json.dumps(catalogues(), indent=0, sort_keys=False) + "\n")
    print(CATALOGUE_FILE, CATALOGUE_FILE.stat().st_size, "bytes")
