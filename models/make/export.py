"""ONNX export in the layout Hugging Face Optimum produces and transformers.js loads.

Inputs:  input_ids int64 [batch, seq], attention_mask int64 [batch, past+seq],
         position_ids int64 [batch, seq],
         past_key_values.{i}.key / .value float32 [batch, kv_heads, past, head_dim]
Outputs: logits float32 [batch, seq, vocab],
         present.{i}.key / .value float32 [batch, kv_heads, past+seq, head_dim]
         (+ attentions.{i} float32 [batch, heads, seq, past+seq] in the attention variant)
"""
from __future__ import annotations

import json
import os

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper

from .model import Llama, LlamaConfig
from .tokenizer_bpe import BOS, EOS, PAD

OPSET = 14


class _Flat(torch.nn.Module):
    """Flattens the nested past/present structure into the positional I/O ONNX needs.
    Variants for tests: without past inputs (recompute every step), without `position_ids`
    (positions derived from `attention_mask` inside the graph, as GPT-2 style exports do), and
    without past inputs but with `present.*` outputs (Optimum's `decoder_model.onnx`, the no-cache
    half of a merged decoder)."""

    def __init__(self, model: Llama, attentions: bool, past: bool = True, position_ids: bool = True,
                 presents: bool | None = None):
        super().__init__()
        self.model, self.attentions, self.past, self.position_ids = model, attentions, past, position_ids
        self.presents = past if presents is None else presents

    def forward(self, input_ids, attention_mask, *rest):
        rest = list(rest)
        if self.position_ids:
            position_ids = rest.pop(0)
        else:
            position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)[:, -input_ids.shape[1]:]
        past = [(rest[2 * i], rest[2 * i + 1]) for i in range(len(rest) // 2)] if self.past else None
        logits, presents, attns = self.model(input_ids, attention_mask, position_ids, past)
        out = [logits]
        if self.presents:
            out += [t for kv in presents for t in kv]
        if self.attentions:
            out += attns
        return tuple(out)


def io_names(n_layers: int, attentions: bool, past: bool = True, position_ids: bool = True,
             presents: bool | None = None) -> tuple[list[str], list[str]]:
    inputs = ["input_ids", "attention_mask"] + (["position_ids"] if position_ids else [])
    outputs = ["logits"]
    for i in range(n_layers if past else 0):
        inputs += [f"past_key_values.{i}.key", f"past_key_values.{i}.value"]
    for i in range(n_layers if (past if presents is None else presents) else 0):
        outputs += [f"present.{i}.key", f"present.{i}.value"]
    if attentions:
        outputs += [f"attentions.{i}" for i in range(n_layers)]
    return inputs, outputs


def _dedupe_transposed_initializers(path: str) -> None:
    """Constant folding turns the tied output projection into a second, transposed copy of the
    embedding matrix. Replace that copy with a Transpose node so the weights are stored once."""
    m = onnx.load(path)
    inits = {i.name: i for i in m.graph.initializer}
    arrays = {n: numpy_helper.to_array(t) for n, t in inits.items() if len(t.dims) == 2}
    for name, arr in list(arrays.items()):
        if not name.startswith("onnx::"):  # keep named parameters, drop folded copies
            continue
        for other, src in arrays.items():
            if other != name and src.shape == arr.shape[::-1] and np.array_equal(src.T, arr):
                m.graph.initializer.remove(inits[name])
                m.graph.node.insert(0, helper.make_node("Transpose", [other], [name], perm=[1, 0], name=f"{name}_untie"))
                break
    onnx.save(m, path)


def export_onnx(model: Llama, path: str, attentions: bool, with_past: bool = True, position_ids: bool = True,
                presents: bool | None = None) -> None:
    """`presents` (default: `with_past`) also returns `present.*` from a graph without past inputs."""
    c = model.c
    presents = with_past if presents is None else presents
    b, past, seq = 2, 3 if with_past else 0, 4
    ids = torch.randint(0, c.vocab_size, (b, seq))
    mask = torch.ones(b, past + seq, dtype=torch.long)
    pos = torch.arange(past, past + seq).unsqueeze(0).expand(b, -1)
    past_flat = []
    for _ in range(c.num_hidden_layers if with_past else 0):
        past_flat += [torch.randn(b, c.num_key_value_heads, past, c.head_dim) for _ in range(2)]
    inputs, outputs = io_names(c.num_hidden_layers, attentions, with_past, position_ids, presents)
    axes = {"input_ids": {0: "batch_size", 1: "sequence_length"},
            "attention_mask": {0: "batch_size", 1: "total_sequence_length"},
            "position_ids": {0: "batch_size", 1: "sequence_length"},
            "logits": {0: "batch_size", 1: "sequence_length"}}
    if not position_ids:
        del axes["position_ids"]
    for i in range(c.num_hidden_layers if with_past else 0):
        for kind in ("key", "value"):
            axes[f"past_key_values.{i}.{kind}"] = {0: "batch_size", 2: "past_sequence_length"}
    for i in range(c.num_hidden_layers if presents else 0):
        for kind in ("key", "value"):
            axes[f"present.{i}.{kind}"] = {0: "batch_size", 2: "total_sequence_length"}
    for i in range(c.num_hidden_layers if attentions else 0):
        axes[f"attentions.{i}"] = {0: "batch_size", 2: "sequence_length", 3: "total_sequence_length"}
    with torch.no_grad():
        args = (ids, mask, *([pos] if position_ids else []), *past_flat)
        torch.onnx.export(_Flat(model, attentions, with_past, position_ids, presents), args, path, input_names=inputs,
                          output_names=outputs, dynamic_axes=axes, opset_version=OPSET, do_constant_folding=True)
    _dedupe_transposed_initializers(path)
    onnx.checker.check_model(onnx.load(path))


def write_configs(c: LlamaConfig, folder: str) -> None:
    cfg = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        **c.to_dict(),
        "hidden_act": "silu",
        "tie_word_embeddings": True,
        "attention_bias": False,
        "bos_token_id": BOS,
        "eos_token_id": EOS,
        "pad_token_id": PAD,
        "torch_dtype": "float32",
        "use_cache": True,
    }
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    gen = {"bos_token_id": BOS, "eos_token_id": EOS, "pad_token_id": PAD, "max_length": c.max_position_embeddings,
           "do_sample": False}
    with open(os.path.join(folder, "generation_config.json"), "w") as f:
        json.dump(gen, f, indent=2)
