"""Gradient penalty: a soft Lipschitz constraint on a network (book chapter 4).

The DeepMDP bound (eq. 4.4) needs the latent value function to be Lipschitz; the paper keeps the latent reward,
transition and value networks close to 1-Lipschitz with a WGAN-GP style penalty (eq. 4.11):

    GP(f) = mean_i ( ||J_f(x_i)||_F - c )^2            (two-sided)
    GP(f) = mean_i max(0, ||J_f(x_i)||_F - c)^2        (one-sided)

where ``J_f(x_i)`` is the Jacobian of the network output for sample ``i`` with respect to all its inputs jointly
(several input tensors are concatenated into one vector per sample) and ``c = target_norm``. For a scalar output
the Jacobian is the gradient. For a vector output the Frobenius norm upper-bounds the spectral norm, the local
Lipschitz constant in the Euclidean norm, so the penalty is conservative.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor


def _as_tuple(inputs: Tensor | tuple[Tensor, ...], name: str) -> tuple[Tensor, ...]:
    tensors = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    if not tensors or not all(isinstance(t, Tensor) for t in tensors):
        raise ValueError(f"{name} must be a tensor or a non-empty tuple of tensors.")
    batch = tensors[0].shape[0] if tensors[0].ndim else None
    for tensor in tensors:
        if tensor.ndim == 0 or tensor.shape[0] != batch:
            shapes = [tuple(t.shape) for t in tensors]
            raise ValueError(f"every tensor in {name} needs the same leading batch size; got shapes {shapes}.")
    return tensors


def gradient_penalty(
    net: Callable[..., Tensor],
    inputs: Tensor | tuple[Tensor, ...],
    *,
    target_norm: float = 1.0,
    one_sided: bool = False,
    interpolate_with: Tensor | tuple[Tensor, ...] | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Penalty (eq. 4.11) on the per-sample input-Jacobian norm of ``net`` (called as ``net(*inputs)``).

    The penalty is evaluated at ``inputs`` themselves, or, when ``interpolate_with`` is given (same shapes), at the
    WGAN-GP interpolates ``x_hat_i = eps_i x_i + (1 - eps_i) x'_i`` with one ``eps_i ~ U[0, 1]`` per sample shared by
    all input tensors (drawn from ``generator``). Inputs are detached first, so no gradient reaches whatever
    produced them; the Jacobian is built with ``create_graph=True`` so the penalty's gradient trains ``net``.
    The network must treat the samples of a batch independently (no batch normalisation).
    """
    if target_norm < 0:
        raise ValueError(f"target_norm must be non-negative; got {target_norm}.")
    points = tuple(t.detach() for t in _as_tuple(inputs, "inputs"))
    if interpolate_with is not None:
        others = tuple(t.detach() for t in _as_tuple(interpolate_with, "interpolate_with"))
        if len(others) != len(points) or any(a.shape != b.shape for a, b in zip(points, others, strict=True)):
            raise ValueError(
                "interpolate_with must match inputs tensor by tensor; got shapes "
                f"{[tuple(t.shape) for t in points]} and {[tuple(t.shape) for t in others]}."
            )
        batch = points[0].shape[0]
        eps = torch.rand(batch, generator=generator, dtype=points[0].dtype, device=points[0].device)
        points = tuple(
            eps.view(-1, *([1] * (a.ndim - 1))) * a + (1 - eps.view(-1, *([1] * (a.ndim - 1)))) * b
            for a, b in zip(points, others, strict=True)
        )
    if not all(t.is_floating_point() for t in points):
        raise ValueError(f"inputs must be floating-point tensors; got dtypes {[t.dtype for t in points]}.")
    points = tuple(t.requires_grad_(True) for t in points)
    batch = points[0].shape[0]
    output = net(*points)
    if output.ndim == 0 or output.shape[0] != batch:
        raise ValueError(f"net must return a [B, ...] tensor with B = {batch}; got shape {tuple(output.shape)}.")
    flat_output = output.reshape(batch, -1)
    squared_norm = torch.zeros(batch, dtype=flat_output.dtype, device=flat_output.device)
    for k in range(flat_output.shape[1] if flat_output.requires_grad else 0):
        # Row k of every per-sample Jacobian: the samples are independent, so the batch sum separates them.
        grads = torch.autograd.grad(
            flat_output[:, k].sum(), points, create_graph=True, retain_graph=True, allow_unused=True
        )
        for grad in grads:
            if grad is not None:  # an input the output does not depend on contributes a zero block
                squared_norm = squared_norm + grad.reshape(batch, -1).pow(2).sum(dim=1)
    jacobian_norm = torch.sqrt(squared_norm + 1e-12)
    excess = jacobian_norm - target_norm
    if one_sided:
        excess = torch.clamp(excess, min=0.0)
    return excess.pow(2).mean()
