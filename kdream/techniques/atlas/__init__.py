"""A microscope for a network: what every channel of its layers does over a folder of
photos (:mod:`~kdream.techniques.atlas.survey`, :mod:`~kdream.techniques.atlas.statistics`),
the crops of the photos each one fires on (:mod:`~kdream.techniques.atlas.receptive`) and
the pictures that excite it (:mod:`~kdream.techniques.atlas.pictures`).
:mod:`kdream.io.atlas` writes them as a browsable site.
"""

from __future__ import annotations

from kdream.techniques.atlas.statistics import Example, LayerStatistics
from kdream.techniques.atlas.survey import survey

__all__ = ["Example", "LayerStatistics", "survey"]
