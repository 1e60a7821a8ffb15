"""PyTorch: ``torch.autograd.grad`` on the input with weights that do not require grad,
eagerly (``torch.compile`` takes minutes on a small CPU for little gain)."""

from __future__ import annotations

import torch

from kdream.backend.common import images_of


def has_gpu() -> bool:
    return bool(torch.cuda.is_available())


def shape_free() -> bool:
    return False


COMPILES = False
"""Functions stay eager: ``torch.compile`` costs minutes on a small CPU for little gain."""


def input_gradient(model, objective_of_outputs, counter, prepare):
    for variable in model.variables:
        variable.value.requires_grad_(False)

    def gradient(inputs, *data):
        with torch.enable_grad():
            inputs = inputs.detach().requires_grad_(True)
            images = images_of(inputs, data, prepare)
            values = objective_of_outputs(model(images, training=False), *data)
            (grads,) = torch.autograd.grad(values.sum(), inputs)
        return values.detach(), grads

    return gradient


def vector_jacobian(function, counter):
    def vjp(inputs, cotangent, *data):
        with torch.enable_grad():
            inputs = inputs.detach().requires_grad_(True)
            (grads,) = torch.autograd.grad(function(inputs, *data), inputs, cotangent)
        return grads

    return vjp


def roll_shift(shift: tuple[int, int]):
    """Eager ``torch.roll`` only takes Python ints."""
    return tuple(int(s) for s in shift)


def host_tensors_from_malloc(tensor) -> bool:
    return tensor.device.type == "cpu"
