"""Perplexity, fact recall and greedy samples, computed with the PyTorch model (the ONNX export
is checked against it separately, and the SDK's `weft eval` recomputes perplexity on ONNX)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .model import Llama


@torch.no_grad()
def perplexity(model: Llama, sequences: list[list[int]]) -> float:
    nll, count = 0.0, 0
    for ids in sequences:
        x = torch.tensor([ids])
        logits, _, _ = model(x, torch.ones_like(x), torch.arange(len(ids)).unsqueeze(0))
        nll += F.cross_entropy(logits[0, :-1], x[0, 1:], reduction="sum").item()
        count += len(ids) - 1
    return math.exp(nll / count)


@torch.no_grad()
def greedy(model: Llama, ids: list[int], max_new: int, eos: int) -> list[int]:
    """Greedy decoding with the KV cache."""
    x = torch.tensor([ids])
    logits, past, _ = model(x, torch.ones_like(x), torch.arange(len(ids)).unsqueeze(0))
    out: list[int] = []
    total = len(ids)
    for _ in range(max_new):
        nxt = int(logits[0, -1].argmax())
        if nxt == eos:
            break
        out.append(nxt)
        total += 1
        x = torch.tensor([[nxt]])
        logits, past, _ = model(x, torch.ones(1, total, dtype=torch.long), torch.tensor([[total - 1]]), past)
    return out


def recall(model: Llama, bpe, probes: list[dict], bos: int, eos: int) -> dict:
    """Share of probes whose greedy continuation starts with the fact stated early in the story."""
    hits: dict[str, list[int]] = {}
    for p in probes:
        ids = [bos] + bpe.encode(p["prefix"])
        answer = bpe.encode(p["answer"])
        got = greedy(model, ids, len(answer), eos)
        hits.setdefault(p["kind"], []).append(int(got == answer))
    return {k: sum(v) / len(v) for k, v in hits.items()}


@torch.no_grad()
def copy_nll(model: Llama, bpe, stories, bos: int) -> float:
    """Mean loss on the hero's name after its first mention: low only when the model copies it
    from earlier in the story (it cannot be guessed from local context)."""
    total, count = 0.0, 0
    for story in stories:
        ids = [bos] + bpe.encode(story.text)
        name = bpe.encode(" " + story.facts["name"])
        if len(name) != 1:
            continue
        x = torch.tensor([ids])
        logits, _, _ = model(x, torch.ones_like(x), torch.arange(len(ids)).unsqueeze(0))
        logp = F.log_softmax(logits[0, :-1], -1)
        seen = False
        for i in range(1, len(ids)):
            if ids[i] == name[0]:
                if seen:
                    total -= float(logp[i - 1, ids[i]])
                    count += 1
                seen = True
    return total / max(count, 1)
