"""Networks: the keras.applications families as data (:mod:`~kdream.network.zoo`), building
them the same way every time (:mod:`~kdream.network.build`), the layers kdream adds
(:mod:`~kdream.network.layers`), precision, and the rebuilds each backend runs fastest
(:mod:`~kdream.network.fast`, with :mod:`~kdream.network.channels_first` for torch and
:mod:`~kdream.network.xla_cpu` for JAX on a CPU)."""
