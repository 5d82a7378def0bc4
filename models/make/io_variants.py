"""Graph surgery for the I/O variants third-party exports have, applied to a finished standard
graph (`export.export_onnx`). Each keeps the computation and changes only what the graph's
interface declares, so the variants give the standard graph's tokens:

- `add_logits_to_keep`: an int64 scalar input (`num_logits_to_keep`, as newer transformers.js /
  Optimum exports have) that slices the hidden states to the last N positions before the output
  projection, so `logits` is [batch, N, vocab] (N = 0 keeps every position);
- `int32_inputs`: `input_ids`, `attention_mask` and `position_ids` declared int32 (cast to int64
  inside);
- `float16_io`: `past_key_values.*`, `present.*` and `logits` declared float16 (cast around the
  float32 computation), the interface of an fp16 export.
"""
from __future__ import annotations

import onnx
from onnx import TensorProto, helper


def _rename_uses(graph: onnx.GraphProto, old: str, new: str) -> None:
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name == old:
                node.input[i] = new


def _producer(graph: onnx.GraphProto, output: str) -> onnx.NodeProto:
    return next(n for n in graph.node if output in n.output)


def add_logits_to_keep(path: str, name: str = "num_logits_to_keep") -> None:
    m = onnx.load(path)
    g = m.graph
    # The output projection: the MatMul that writes `logits`; slice its hidden-state operand.
    head = _producer(g, "logits")
    if head.op_type != "MatMul":
        raise SystemExit(f"expected a MatMul to produce logits, found {head.op_type}")
    hidden = head.input[0]
    g.input.append(helper.make_tensor_value_info(name, TensorProto.INT64, []))
    consts = [
        helper.make_node("Constant", [], ["keep_axes0"], value=helper.make_tensor("keep_axes0_v", TensorProto.INT64, [1], [0])),
        helper.make_node("Constant", [], ["keep_end"], value=helper.make_tensor("keep_end_v", TensorProto.INT64, [1], [2**62])),
        helper.make_node("Constant", [], ["keep_axis"], value=helper.make_tensor("keep_axis_v", TensorProto.INT64, [1], [1])),
    ]
    nodes = [
        helper.make_node("Unsqueeze", [name, "keep_axes0"], ["keep_n"], name="keep_unsqueeze"),
        helper.make_node("Neg", ["keep_n"], ["keep_start"], name="keep_neg"),
        helper.make_node("Slice", [hidden, "keep_start", "keep_end", "keep_axis"], ["kept_hidden"], name="keep_slice"),
    ]
    head.input[0] = "kept_hidden"
    index = list(g.node).index(head)
    for offset, node in enumerate(consts + nodes):
        g.node.insert(index + offset, node)
    for out in g.output:
        if out.name == "logits":
            out.type.tensor_type.shape.dim[1].dim_param = "logits_length"
    onnx.checker.check_model(m)
    onnx.save(m, path)


def _declare_input_as(graph: onnx.GraphProto, inp: onnx.ValueInfoProto, declared: int, inner_type: int, suffix: str) -> None:
    """Declares graph input `inp` as `declared` and casts it to `inner_type` (what the graph computes
    with) under the name `<input>_<suffix>`, which every former use of the input now reads."""
    inp.type.tensor_type.elem_type = declared
    inner = f"{inp.name}_{suffix}"
    _rename_uses(graph, inp.name, inner)
    graph.node.insert(0, helper.make_node("Cast", [inp.name], [inner], to=inner_type, name=f"{inp.name}_cast"))


def int32_inputs(path: str) -> None:
    m = onnx.load(path)
    g = m.graph
    for inp in g.input:
        if inp.name in ("input_ids", "attention_mask", "position_ids"):
            _declare_input_as(g, inp, TensorProto.INT32, TensorProto.INT64, "int64")
    onnx.checker.check_model(m)
    onnx.save(m, path)


def float16_io(path: str) -> None:
    m = onnx.load(path)
    g = m.graph
    for inp in g.input:
        if inp.name.startswith("past_key_values."):
            _declare_input_as(g, inp, TensorProto.FLOAT16, TensorProto.FLOAT, "fp32")
    for out in g.output:
        if out.name == "logits" or out.name.startswith("present."):
            out.type.tensor_type.elem_type = TensorProto.FLOAT16
            inner = f"{out.name}_fp32"
            for node in g.node:
                for i, name in enumerate(node.output):
                    if name == out.name:
                        node.output[i] = inner
            _rename_uses(g, out.name, inner)
            g.node.append(helper.make_node("Cast", [inner], [out.name], to=TensorProto.FLOAT16, name=f"{out.name}_cast"))
    onnx.checker.check_model(m)
    onnx.save(m, path)
