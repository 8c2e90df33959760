"""Rewrite builtin Hamming k-NN subgraphs into one ``BgnnHammingKnn`` custom op.

The builtin form is ``FULLY_CONNECTED|BATCH_MATMUL(x, x) -> TOPK_V2`` (the converter
writes the second x through a RESHAPE to a 2-D weight): ±1 rows, their dot
products, the k largest. The fused op takes the same ±1 rows and writes the same
indices; a native kernel computes it as XOR + popcount on bit-packed rows. Its
contract is in ``docs/ops/BgnnHammingKnn.md``.
"""

from __future__ import annotations

from bgnn_deploy.converters.tflite_model import builtin_name, read_model, tflite_schema

from bgnn_deploy.errors import ConversionError

__all__ = ["FUSED_KNN_OP", "fuse_hamming_knn"]

FUSED_KNN_OP = "BgnnHammingKnn"


def _options(k: int) -> bytes:
    from flatbuffers import flexbuffers

    return bytes(flexbuffers.Dumps({"k": int(k), "tie_rule": "lower_index"}))


def fuse_hamming_knn(data: bytes) -> tuple[bytes, int]:
    """Return the rewritten flatbuffer and the number of k-NN subgraphs fused."""
    model = read_model(data)  # imports TensorFlow quietly first
    schema = tflite_schema()
    from tensorflow.lite.tools import flatbuffer_utils

    graph = model.subgraphs[0]
    ops = graph.operators

    def name(op) -> str:
        code = model.operatorCodes[op.opcodeIndex]
        return builtin_name(max(code.builtinCode, code.deprecatedBuiltinCode))

    producer = {t: i for i, op in enumerate(ops) for t in op.outputs}
    consumers: dict[int, list[int]] = {}
    for i, op in enumerate(ops):
        for t in op.inputs:
            consumers.setdefault(int(t), []).append(i)
    outputs = set(int(t) for t in graph.outputs)

    code_index = None
    remove: set[int] = set()
    replace: dict[int, object] = {}
    for i, op in enumerate(ops):
        if name(op) != "TOPK_V2":
            continue
        score = int(op.inputs[0])
        j = producer.get(score)
        if j is None or name(ops[j]) not in ("FULLY_CONNECTED", "BATCH_MATMUL"):
            continue
        mm = ops[j]
        x, other = int(mm.inputs[0]), int(mm.inputs[1])
        reshape = producer.get(other)
        via_reshape = (
            reshape is not None
            and name(ops[reshape]) == "RESHAPE"
            and int(ops[reshape].inputs[0]) == x
        )
        if (other != x and not via_reshape) or len(consumers.get(score, [])) != 1:
            continue  # not x.x^T, or the scores are used elsewhere: leave it
        if via_reshape and len(consumers.get(other, [])) == 1:
            remove.add(reshape)
        values = int(op.outputs[0])
        if consumers.get(values) or values in outputs:
            continue
        k_buf = model.buffers[graph.tensors[int(op.inputs[1])].buffer].data
        if k_buf is None or len(k_buf) < 4:
            raise ConversionError("TOPK_V2 with a non-constant k cannot be fused")
        k = int.from_bytes(bytes(bytearray(k_buf[:4])), "little", signed=True)
        if code_index is None:
            code = schema.OperatorCodeT()
            code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.CUSTOM
            code.customCode = FUSED_KNN_OP.encode()
            code.version = 1
            model.operatorCodes.append(code)
            code_index = len(model.operatorCodes) - 1
        fused = schema.OperatorT()
        fused.opcodeIndex = code_index
        fused.inputs = [int(mm.inputs[0])]
        fused.outputs = [int(op.outputs[1])]
        fused.customOptions = list(_options(k))
        fused.customOptionsFormat = schema.CustomOptionsFormat.FLEXBUFFERS
        replace[i] = fused
        remove.add(j)
    if not replace:
        return data, 0
    graph.operators = [replace.get(i, op) for i, op in enumerate(ops) if i not in remove]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model)), len(replace)
