"""Training loop: packed windows that start at story boundaries, AdamW with warm-up and cosine
decay, a sequence-length curriculum (short windows first, then the full context). Deterministic
given the seed on a given machine and BLAS (single process, fixed thread count)."""
from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .model import Llama, LlamaConfig


@dataclass
class Phase:
    steps: int
    batch: int
    seq: int


@dataclass
class TrainConfig:
    seed: int = 7
    # Share of windows replaced by a random sequence of corpus tokens repeated end to end. Only
    # copying predicts the repeats, which forms induction heads quickly; the stories then use them
    # to recall names, colours and places stated earlier (without this the model settles on local
    # n-gram statistics and never learns to copy).
    copy_share: float = 0.0
    lr: float = 3e-3
    min_lr_ratio: float = 0.1
    warmup: int = 30
    weight_decay: float = 0.05
    phases: tuple = (Phase(420, 16, 512), Phase(130, 8, 1024))


def _windows(stream: torch.Tensor, starts: list[int], batch: int, seq: int, rng: random.Random,
             copy_share: float = 0.0, bos: int = 1) -> torch.Tensor:
    limit = len(stream) - seq - 1
    rows = []
    for _ in range(batch):
        if copy_share > 0 and rng.random() < copy_share:
            span = rng.randint(8, seq // 2)
            picks = torch.tensor([rng.randrange(0, len(stream)) for _ in range(span)])
            piece = stream[picks]  # corpus tokens in random order: only copying predicts the repeats
            reps = (seq + 1) // span + 2
            rows.append(torch.cat([torch.tensor([bos]), piece.repeat(reps)])[:seq + 1])
        else:
            p = min(rng.choice(starts), limit)
            rows.append(stream[p:p + seq + 1])
    return torch.stack(rows)


def train(model: Llama, sequences: list[list[int]], cfg: TrainConfig, log=print, probe=None) -> dict:
    """`probe()`, when given, is called every 50 steps and its result logged (e.g. the loss on
    tokens that can only be predicted by copying from earlier in the story)."""
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    order = list(range(len(sequences)))
    rng.shuffle(order)
    flat, starts = [], []
    for i in order:
        starts.append(len(flat))
        flat += sequences[i]
    stream = torch.tensor(flat, dtype=torch.long)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr, betas=(0.9, 0.95))
    total = sum(p.steps for p in cfg.phases)
    step, tokens, began = 0, 0, time.time()
    model.train()
    for phase in cfg.phases:
        for _ in range(phase.steps):
            lr = cfg.lr * (step + 1) / cfg.warmup if step < cfg.warmup else cfg.lr * (
                cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * (step - cfg.warmup) / (total - cfg.warmup))))
            for g in opt.param_groups:
                g["lr"] = lr
            batch = _windows(stream, starts, phase.batch, phase.seq, rng, cfg.copy_share)
            x, y = batch[:, :-1], batch[:, 1:]
            mask = torch.ones_like(x)
            pos = torch.arange(phase.seq).unsqueeze(0).expand(phase.batch, -1)
            logits, _, _ = model(x, mask, pos)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            tokens += x.numel()
            if step % 10 == 0 or step == total:
                el = time.time() - began
                extra = ""
                if probe is not None and (step % 50 == 0 or step == total):
                    model.eval()
                    extra = f" copy-nll {probe():.3f}"
                    model.train()
                log(f"step {step}/{total} seq {phase.seq} loss {loss.item():.4f} lr {lr:.2e} "
                    f"{tokens / el:.0f} tok/s elapsed {el / 60:.1f} min{extra}")
    model.eval()
    return {"steps": total, "tokens": tokens, "seconds": time.time() - began}
