"""Files in and out: pictures with their recipes (:mod:`kdream.io.images`), videos and frame
folders (:mod:`kdream.io.video`).
No Keras here: the CLI checks its inputs and outputs before a framework loads."""
