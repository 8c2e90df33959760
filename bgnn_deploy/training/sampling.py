"""Neighbour sampling for mini-batch GraphSAGE training, and the whole-graph block.

``sample(batch)`` draws, for the batch's nodes, up to ``fanouts[0]`` neighbours each
(without replacement), then up to ``fanouts[1]`` for every node reached, and so on: the
fan-outs are listed from the output layer inward, as PyTorch Geometric's
``NeighborSampler(sizes=[15, 10, 5])``. It returns the nodes whose input features
the batch needs and one :class:`~bgnn_deploy.models.sage.Block` per layer, the first
layer's first; in every block the targets come first among the sources.
"""

from __future__ import annotations

import numpy as np
import torch

from bgnn_deploy.data.graph import GraphDataset
from bgnn_deploy.models.sage import Block

__all__ = ["NeighbourSampler", "full_graph_block"]


def full_graph_block(graph: GraphDataset) -> Block:
    """Every node a target of every neighbour: layer-wise full-neighbourhood inference."""
    return Block(torch.from_numpy(graph.indptr), torch.from_numpy(graph.indices), graph.num_nodes)


class NeighbourSampler:
    def __init__(
        self, indptr: np.ndarray, indices: np.ndarray, fanouts: tuple[int, ...], seed: int
    ):
        self.indptr = indptr
        self.indices = indices
        self.fanouts = tuple(fanouts)
        self.rng = np.random.default_rng(seed)
        self._where = np.full(len(indptr) - 1, -1, np.int64)  # node -> position, per hop

    def _neighbours(self, nodes: np.ndarray, fanout: int) -> tuple[np.ndarray, np.ndarray]:
        """Per node, up to ``fanout`` of its neighbours drawn without replacement:
        ``(counts, neighbours)`` with the neighbours grouped by node, in node order."""
        starts, stops = self.indptr[nodes], self.indptr[nodes + 1]
        degree = stops - starts
        total = int(degree.sum())
        owner = np.repeat(np.arange(len(nodes)), degree)
        offset = np.arange(total) - np.repeat(np.cumsum(degree) - degree, degree)
        edges = self.indices[np.repeat(starts, degree) + offset]
        if fanout < 0:
            return degree, edges
        # Sorting by owner + a uniform draw in [0, 1) shuffles each node's neighbours in
        # place; the first `fanout` of each node are kept.
        order = np.argsort(owner + self.rng.random(total), kind="stable")
        return np.minimum(degree, fanout), edges[order][offset < fanout]

    def sample(self, batch: np.ndarray) -> tuple[np.ndarray, list[Block]]:
        """``(n_id, blocks)``: the input features needed are ``features[n_id]``."""
        n_id = np.asarray(batch, np.int64)
        blocks = []
        for fanout in self.fanouts:
            counts, neighbours = self._neighbours(n_id, fanout)
            where = self._where
            where[n_id] = np.arange(len(n_id))
            new = np.unique(neighbours[where[neighbours] < 0])
            sources = np.concatenate([n_id, new])
            where[new] = np.arange(len(n_id), len(sources))
            indptr = np.zeros(len(n_id) + 1, np.int64)
            np.cumsum(counts, out=indptr[1:])
            blocks.append(
                Block(torch.from_numpy(indptr), torch.from_numpy(where[neighbours]), len(n_id))
            )
            where[sources] = -1
            n_id = sources
        return n_id, blocks[::-1]
