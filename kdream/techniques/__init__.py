"""What kdream does with the ascent loop besides a plain dream: style transfer
(:mod:`~kdream.techniques.style`), feature visualisation (:mod:`~kdream.techniques.visualize`),
zoom and video (:mod:`~kdream.techniques.motion`), looking inside a network
(:mod:`~kdream.techniques.inspection`) and labelled contact sheets of their pictures
(:mod:`~kdream.techniques.sheets`)."""
