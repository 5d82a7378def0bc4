"""A Llama-style decoder: RMSNorm, rotary embeddings (Hugging Face rotate-half layout),
grouped-query attention and a SwiGLU MLP, with tied input/output embeddings."""
from __future__ import annotations

import math
from dataclasses import dataclass, asdict

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class LlamaConfig:
    vocab_size: int = 1024
    hidden_size: int = 192
    intermediate_size: int = 512
    num_hidden_layers: int = 4
    num_attention_heads: int = 6
    num_key_value_heads: int = 2
    head_dim: int = 32
    max_position_embeddings: int = 1024
    rms_norm_eps: float = 1e-5
    rope_theta: float = 10000.0

    def to_dict(self) -> dict:
        return asdict(self)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope(x: torch.Tensor, position_ids: torch.Tensor, theta: float) -> torch.Tensor:
    """Rotates pairs (i, i + d/2) of `x` [b, h, s, d] by angle position * theta^(-2i/d)."""
    d = x.shape[-1]
    inv_freq = 1.0 / (theta ** (torch.arange(0, d, 2, dtype=torch.float32) / d))
    angles = position_ids.to(torch.float32).unsqueeze(-1) * inv_freq  # [b, s, d/2]
    emb = torch.cat([angles, angles], dim=-1).unsqueeze(1)  # [b, 1, s, d]
    x1, x2 = x[..., : d // 2], x[..., d // 2:]
    rotated = torch.cat([-x2, x1], dim=-1)
    return x * emb.cos() + rotated * emb.sin()


class Attention(nn.Module):
    def __init__(self, c: LlamaConfig):
        super().__init__()
        self.c = c
        self.q_proj = nn.Linear(c.hidden_size, c.num_attention_heads * c.head_dim, bias=False)
        self.k_proj = nn.Linear(c.hidden_size, c.num_key_value_heads * c.head_dim, bias=False)
        self.v_proj = nn.Linear(c.hidden_size, c.num_key_value_heads * c.head_dim, bias=False)
        self.o_proj = nn.Linear(c.num_attention_heads * c.head_dim, c.hidden_size, bias=False)

    def forward(self, x, position_ids, bias, past_k=None, past_v=None):
        """`bias` [b, 1, s, past+s] is 0 where attention is allowed and a large negative value
        elsewhere. Returns output, present key, present value, attention probabilities."""
        c = self.c
        b, s, _ = x.shape
        q = self.q_proj(x).view(b, s, c.num_attention_heads, c.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, s, c.num_key_value_heads, c.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, s, c.num_key_value_heads, c.head_dim).transpose(1, 2)
        q, k = rope(q, position_ids, c.rope_theta), rope(k, position_ids, c.rope_theta)
        if past_k is not None:
            k = torch.cat([past_k, k], dim=2)
            v = torch.cat([past_v, v], dim=2)
        # Grouped-query attention by broadcasting: query head h uses key/value head h // groups.
        # (Written with views instead of repeat_interleave so the ONNX export keeps dynamic shapes.)
        groups = c.num_attention_heads // c.num_key_value_heads
        t = k.shape[2]
        qg = q.reshape(b, c.num_key_value_heads, groups, s, c.head_dim)
        scores = torch.matmul(qg, k.unsqueeze(2).transpose(-1, -2)) / math.sqrt(c.head_dim)
        scores = scores.reshape(b, c.num_attention_heads, s, t) + bias
        probs = F.softmax(scores, dim=-1)
        pg = probs.reshape(b, c.num_key_value_heads, groups, s, t)
        out = torch.matmul(pg, v.unsqueeze(2)).reshape(b, c.num_attention_heads, s, c.head_dim)
        out = out.transpose(1, 2).reshape(b, s, -1)
        return self.o_proj(out), k, v, probs


class Block(nn.Module):
    def __init__(self, c: LlamaConfig):
        super().__init__()
        self.input_layernorm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        self.self_attn = Attention(c)
        self.post_attention_layernorm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        self.gate_proj = nn.Linear(c.hidden_size, c.intermediate_size, bias=False)
        self.up_proj = nn.Linear(c.hidden_size, c.intermediate_size, bias=False)
        self.down_proj = nn.Linear(c.intermediate_size, c.hidden_size, bias=False)

    def forward(self, x, position_ids, bias, past_k=None, past_v=None):
        a, k, v, probs = self.self_attn(self.input_layernorm(x), position_ids, bias, past_k, past_v)
        x = x + a
        h = self.post_attention_layernorm(x)
        x = x + self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h))
        return x, k, v, probs


class Llama(nn.Module):
    def __init__(self, c: LlamaConfig):
        super().__init__()
        self.c = c
        self.embed_tokens = nn.Embedding(c.vocab_size, c.hidden_size)
        self.layers = nn.ModuleList([Block(c) for _ in range(c.num_hidden_layers)])
        self.norm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        self.apply(self._init)
        for layer in self.layers:  # scaled init of residual projections (GPT-2 style)
            std = 0.02 / math.sqrt(2 * c.num_hidden_layers)
            nn.init.normal_(layer.self_attn.o_proj.weight, std=std)
            nn.init.normal_(layer.down_proj.weight, std=std)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(self, input_ids, attention_mask, position_ids, past=None):
        """Returns logits [b, s, vocab], presents [(k, v)] per layer, attention probs per layer.
        Causality goes by sequence order; `attention_mask` [b, past+s] removes padded slots."""
        b, s = input_ids.shape
        past_len = 0 if past is None else past[0][0].shape[2]
        total = past_len + s
        q_idx = torch.arange(s).unsqueeze(1) + past_len
        k_idx = torch.arange(total).unsqueeze(0)
        allowed = (k_idx <= q_idx).unsqueeze(0) & attention_mask.bool().unsqueeze(1)  # [b, s, total]
        bias = torch.zeros(allowed.shape, dtype=torch.float32).masked_fill(~allowed, torch.finfo(torch.float32).min)
        bias = bias.unsqueeze(1)
        x = self.embed_tokens(input_ids)
        presents, attentions = [], []
        for i, layer in enumerate(self.layers):
            pk, pv = (None, None) if past is None else past[i]
            x, k, v, probs = layer(x, position_ids, bias, pk, pv)
            presents.append((k, v))
            attentions.append(probs)
        x = self.norm(x)
        logits = torch.matmul(x, self.embed_tokens.weight.t())
        return logits, presents, attentions
