"""The one ascent loop: :mod:`~kdream.ascent.dreamer` runs octaves (:mod:`~kdream.ascent.octaves`)
of steps (:mod:`~kdream.ascent.step`): roll, tiles (:mod:`~kdream.ascent.tiling`), gradient,
smoothing (:mod:`~kdream.ascent.smoothing`), normalise (plain or Laplacian,
:mod:`~kdream.ascent.laplacian`), update (plain or Adam,
:mod:`~kdream.ascent.adam`), with progress and cancel. Dreams, guides, styles, zooms and
videos all run through it; feature visualisation reuses its gradient and Adam."""
