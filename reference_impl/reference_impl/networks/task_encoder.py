"""The task encoder of the multi-task agent (mtrl's simplest setting, book chapter 6).

``e(k) = MLP(ReLU(E[k]))``: an embedding table row for task ``k``, a ReLU, then :func:`mlp` to ``output_dim``
coordinates. The agent concatenates ``e(k)`` to the encoder's features, ``z = [phi(x), e(k)]``.
"""

from __future__ import annotations

from torch import Tensor, nn

from reference_impl.networks.mlp import mlp


class TaskEncoder(nn.Module):
    """``task id [B] (int64) -> [B, output_dim]``."""

    def __init__(self, num_embeddings: int, embedding_dim: int = 16, hidden_dim: int = 32, num_layers: int = 1,
                 output_dim: int = 16):
        super().__init__()
        if num_embeddings < 1 or embedding_dim < 1 or output_dim < 1:
            raise ValueError(f"num_embeddings, embedding_dim and output_dim must be positive; got {num_embeddings}, "
                             f"{embedding_dim}, {output_dim}.")
        self.embedding = nn.Embedding(num_embeddings, embedding_dim)
        self.trunk = mlp(embedding_dim, hidden_dim, output_dim, num_layers)
        self.output_dim = output_dim

    def forward(self, task: Tensor) -> Tensor:
        return self.trunk(self.embedding(task.long()).relu())
