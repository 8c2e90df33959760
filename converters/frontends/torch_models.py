"""Frontend for PyTorch checkpoints: ours, or the paper's state_dicts with ``--arch``.

The checkpoint is loaded into our PyTorch reference model, whose ``nn.Sequential``
stages are walked module by module; a ``Binarize`` directly before a ``PointwiseConv``
becomes that Dense's ``binary_inputs``, as do the BF layers' XOR edge features and
concatenated ±1 node features, which are ±1 already. The references are the model
itself and, for a binary model, the same weights in float mode (the float baseline's).
"""

from __future__ import annotations

import numpy as np
import torch
from bgnn_deploy.converters import ir
from bgnn_deploy.converters.frontends.base import Frontend, Source
from bgnn_deploy.converters.onnx_export import export_onnx
from bgnn_deploy.converters.parity import torch_trace
from torch import nn

from bgnn_deploy.errors import ConversionError, UnsupportedOpError
from bgnn_deploy.models.binary import Binarize, Center, LearnedScale, PointwiseConv
from bgnn_deploy.models.checkpoint import LoadedModel, load_checkpoint
from bgnn_deploy.models.dgcnn import DGCNN, build_dgcnn

__all__ = ["FRONTEND", "from_torch", "load_source"]


def _np(t: torch.Tensor | None) -> np.ndarray | None:
    return None if t is None else t.detach().cpu().numpy().astype(np.float32).copy()


def _ops(modules: nn.Sequential, where: str, *, inputs_are_binary: bool = False) -> tuple:
    out: list[ir.Op] = []
    pending_sign = inputs_are_binary
    for index, m in enumerate(modules):
        if isinstance(m, Binarize):
            nxt = modules[index + 1] if index + 1 < len(modules) else None
            if isinstance(nxt, PointwiseConv):
                pending_sign = True
            else:
                out.append(ir.Sign())
            continue
        if isinstance(m, PointwiseConv):
            out.append(
                ir.Dense(
                    _np(m.weight),
                    binary_weights=m.binary_weights,
                    binary_inputs=pending_sign,
                    bias=_np(m.bias),
                )
            )
        elif isinstance(m, nn.modules.batchnorm._BatchNorm):
            out.append(
                ir.BatchNorm(
                    _np(m.weight),
                    _np(m.bias),
                    _np(m.running_mean),
                    _np(m.running_var),
                    float(m.eps),
                )
            )
        elif isinstance(m, LearnedScale):
            out.append(ir.Scale(_np(m.channel), _np(m.point), _np(m.neighbour)))
        elif isinstance(m, nn.PReLU):
            out.append(ir.PReLU(_np(m.weight)))
        elif isinstance(m, nn.LeakyReLU):
            out.append(ir.LeakyReLU(float(m.negative_slope)))
        elif isinstance(m, Center):
            out.append(ir.Center(m.op, "points" if m.dim == 2 else "channels"))
        elif isinstance(m, nn.Dropout | nn.Identity):
            pass  # inference no-ops
        else:
            raise UnsupportedOpError(f"{where}[{index}]: unsupported layer {type(m).__name__}")
        pending_sign = False
    return tuple(out)


def _binary_node_features(ops: tuple) -> bool:
    return bool(ops) and isinstance(ops[-1], ir.Sign)


def from_torch(model: DGCNN, name: str | None = None) -> ir.GraphModel:
    """Describe a reference model (eval-mode weights) as a :class:`GraphModel`."""
    cfg = model.config
    layers = []
    binary_nodes = True
    for i, layer in enumerate(model.edge_convs):
        xor_edges = layer.edge_op == "xor"
        edge_ops = _ops(layer.edge_mlp, f"edge_convs.{i}.edge_mlp", inputs_are_binary=xor_edges)
        node_ops = _ops(layer.node_post, f"edge_convs.{i}.node_post")
        layers.append(ir.EdgeConv(layer.k, layer.metric, layer.edge_op, edge_ops, node_ops))
        binary_nodes = binary_nodes and _binary_node_features(node_ops)
    embed = _ops(model.embed, "embed", inputs_are_binary=binary_nodes)
    head = _ops(model.head, "head")
    return ir.GraphModel(
        name=name or cfg.arch,
        num_points=cfg.num_points,
        in_channels=3,
        edge_convs=tuple(layers),
        embed=embed,
        head=head,
        meta={"arch": cfg.arch, "config": cfg.to_dict()},
    )


def _float_reference(loaded: LoadedModel) -> DGCNN:
    """The PyTorch model in float mode with the same weights: the float baseline's reference."""
    cfg = loaded.config
    if not cfg.is_binary:
        return loaded.model
    float_cfg = cfg.replace(
        binary_weights=False,
        binary_activations=False,
        binary_head_weights=False,
        binary_head_inputs=False,
        knn="l2",
    )
    model = build_dgcnn(float_cfg)
    model.load_state_dict(loaded.model.state_dict())
    return model.eval()


def load_source(path, *, arch=None, sizes=None) -> Source:
    loaded = load_checkpoint(path, arch=arch, sizes=sizes)
    if loaded.config.family == "sage":
        raise ConversionError(
            f"{path} holds a {loaded.config.arch} model: converting the GraphSAGE family is "
            "not available yet (DGCNN models convert)"
        )
    reference, float_reference = loaded.model, _float_reference(loaded)
    binary = loaded.config.is_binary
    return Source(
        description=from_torch(reference),
        arch=loaded.config.arch,
        config=loaded.config.to_dict(),
        trace=lambda cloud: torch_trace(reference, cloud),
        reference_name="PyTorch",
        num_points=loaded.config.num_points,
        classes=loaded.config.classes,
        float_trace=lambda cloud: torch_trace(float_reference, cloud),
        export_onnx=(lambda out: export_onnx(reference, out)) if binary else None,
        notes=loaded.notes,
    )


FRONTEND = Frontend(
    name="pytorch",
    summary="PyTorch checkpoints (ours, or the paper's state_dicts with --arch)",
    formats=("pytorch", "unknown"),
    load=load_source,
    takes_arch=True,
)
