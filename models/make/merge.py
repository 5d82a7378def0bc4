"""Merges a no-cache and a with-cache decoder into one graph, the way Hugging Face Optimum's
`decoder_model_merged.onnx` is laid out:

- the inputs of the with-cache graph plus `use_cache_branch` (bool [1]);
- one `If` node on `use_cache_branch`: true runs the with-cache graph, false the no-cache one
  (which ignores the past inputs); both branches read the outer inputs and one shared copy of
  the weights (initializers are deduplicated by content and live in the outer graph);
- the with-cache graph's outputs (`logits`, `present.*`).

For tests, `guard_token` adds a consistency check Optimum's graphs do not have: when
`use_cache_branch` disagrees with "the fed past is non-empty", `guard_bump` is added to that
token's logit, so a caller that feeds the wrong value gets visibly different greedy output even on
the first step (where both branches would otherwise agree).
"""
from __future__ import annotations

import copy

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

USE_CACHE_BRANCH = "use_cache_branch"


def _share_initializers(graphs: list[onnx.GraphProto]) -> tuple[list[TensorProto], list[dict[str, str]]]:
    """One outer initializer per distinct (type, dims, bytes); returns them and, per graph, the map
    from its initializer names to the shared names."""
    shared: dict[tuple, TensorProto] = {}
    taken: set[str] = set()
    renames: list[dict[str, str]] = []
    for graph in graphs:
        names: dict[str, str] = {}
        for init in graph.initializer:
            key = (init.data_type, tuple(init.dims), numpy_helper.to_array(init).tobytes())
            if key not in shared:
                tensor = copy.deepcopy(init)
                if tensor.name in taken:
                    tensor.name = f"shared_{len(shared)}"
                taken.add(tensor.name)
                shared[key] = tensor
            names[init.name] = shared[key].name
        renames.append(names)
    return list(shared.values()), renames


def _branch(graph: onnx.GraphProto, prefix: str, initializers: dict[str, str], outer: set[str]) -> onnx.GraphProto:
    """`graph` as an If branch: no inputs or initializers of its own (it reads the outer inputs and
    the shared weights). Every other value is renamed `{prefix}{n}` and every node
    `{prefix}{op}_{k}`: unique across the merged graph, and short (the exporter's path-like names
    were a third of the file)."""
    values: dict[str, str] = {}

    def name(value: str) -> str:
        if value == "" or value in outer:
            return value
        if value in initializers:
            return initializers[value]
        return values.setdefault(value, f"{prefix}{len(values)}")

    nodes = []
    for k, node in enumerate(graph.node):
        if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in node.attribute):
            raise ValueError(f"node {node.name} has a subgraph; merging such graphs is not supported")
        n = copy.deepcopy(node)
        n.name = f"{prefix}{node.op_type}_{k}"
        n.input[:] = [name(v) for v in node.input]
        n.output[:] = [name(v) for v in node.output]
        nodes.append(n)
    # Output shapes differ between branches (past + seq vs seq): declare the element type only.
    outputs = [helper.make_tensor_value_info(name(o.name), o.type.tensor_type.elem_type, None) for o in graph.output]
    return helper.make_graph(nodes, prefix.rstrip("/"), [], outputs)


def merge_decoders(no_cache_path: str, with_cache_path: str, out_path: str,
                   guard_token: int | None = None, guard_bump: float = 1e4) -> None:
    no_cache, with_cache = onnx.load(no_cache_path), onnx.load(with_cache_path)
    outputs = [o.name for o in with_cache.graph.output]
    if [o.name for o in no_cache.graph.output] != outputs:
        raise ValueError(f"the two graphs have different outputs: {[o.name for o in no_cache.graph.output]} vs {outputs}")
    missing = {i.name for i in no_cache.graph.input} - {i.name for i in with_cache.graph.input}
    if missing:
        raise ValueError(f"the no-cache graph has inputs the with-cache graph lacks: {sorted(missing)}")
    outer = {i.name for i in with_cache.graph.input}
    initializers, renames = _share_initializers([with_cache.graph, no_cache.graph])
    then_branch = _branch(with_cache.graph, "with_past/", renames[0], outer)
    else_branch = _branch(no_cache.graph, "no_past/", renames[1], outer)

    cond = helper.make_tensor_value_info(USE_CACHE_BRANCH, TensorProto.BOOL, [1])
    inputs = list(with_cache.graph.input) + [cond]
    branch_outputs = ["branch/" + o if (o == "logits" and guard_token is not None) else o for o in outputs]
    nodes = [helper.make_node("If", [USE_CACHE_BRANCH], branch_outputs, name="optimum::if",
                              then_branch=then_branch, else_branch=else_branch)]
    if guard_token is not None:
        vocab = next(o for o in with_cache.graph.output if o.name == "logits").type.tensor_type.shape.dim[2].dim_value
        past_key = next(i.name for i in with_cache.graph.input if i.name.startswith("past_key_values."))
        bump = np.zeros(vocab, dtype=np.float32)
        bump[guard_token] = guard_bump
        initializers += [numpy_helper.from_array(bump, "guard/bump"),
                         numpy_helper.from_array(np.array(2, dtype=np.int64), "guard/past_axis"),
                         numpy_helper.from_array(np.array(0, dtype=np.int64), "guard/zero")]
        nodes += [
            helper.make_node("Shape", [past_key], ["guard/past_shape"], name="guard/shape"),
            helper.make_node("Gather", ["guard/past_shape", "guard/past_axis"], ["guard/past_length"], name="guard/gather"),
            helper.make_node("Greater", ["guard/past_length", "guard/zero"], ["guard/has_past"], name="guard/greater"),
            helper.make_node("Xor", [USE_CACHE_BRANCH, "guard/has_past"], ["guard/mismatch"], name="guard/xor"),
            helper.make_node("Cast", ["guard/mismatch"], ["guard/mismatch_f"], name="guard/cast", to=TensorProto.FLOAT),
            helper.make_node("Mul", ["guard/mismatch_f", "guard/bump"], ["guard/add"], name="guard/mul"),
            helper.make_node("Add", ["branch/logits", "guard/add"], ["logits"], name="guard/logits"),
        ]
    graph = helper.make_graph(nodes, "merged_decoder", inputs, list(with_cache.graph.output), initializers)
    model = helper.make_model(graph, opset_imports=list(with_cache.opset_import), producer_name="weft models/make merge")
    model.ir_version = with_cache.ir_version
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, out_path)
