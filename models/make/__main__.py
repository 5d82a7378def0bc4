"""Command line for the model-making tools. Run from `models/` with Debian's Python:

    /usr/bin/python3 -m make train   # corpus + tokenizer + training -> .work/checkpoint.pt
    /usr/bin/python3 -m make export  # ONNX + configs + eval splits + report -> story/
    /usr/bin/python3 -m make bench-model [--out bench-30m]  # random-weight ~30M model, not in git
    /usr/bin/python3 -m make fixtures [--only tiny-merged]  # tiny random-weight graph variants for core's tests
    /usr/bin/python3 -m make fp16-io [--model story] [--out bench-story-fp16]  # a model with a float16 cache and logits, not in git
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time

import onnx
import torch

from . import data, evaluate, export, io_variants, merge, tokenizer_bpe
from .model import Llama, LlamaConfig
from .train import Phase, TrainConfig, train

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.path.join(HERE, ".work")
STORY = os.path.join(HERE, "story")


def _log(path: str):
    f = open(path, "a", encoding="utf-8")

    def log(msg: str) -> None:
        print(msg, flush=True)
        f.write(msg + "\n")
        f.flush()
    return log


def cmd_train(args) -> None:
    torch.set_num_threads(args.threads)
    os.makedirs(WORK, exist_ok=True)
    log = _log(os.path.join(WORK, "train.log"))
    t0 = time.time()
    stories = data.train_stories(args.stories, args.long_stories)
    merges = tokenizer_bpe.train([s.text for s in stories[:3000]], args.vocab)
    bpe = tokenizer_bpe.ByteLevelBpe(merges)
    rng = random.Random(3)
    seqs = [data.chat_ids(bpe, s) if rng.random() < args.chat_share else data.plain_ids(bpe, s) for s in stories]
    log(f"corpus: {len(seqs)} stories, {sum(map(len, seqs))} tokens, vocab {len(bpe.vocab)}, "
        f"prepared in {time.time() - t0:.0f} s")
    cfg = LlamaConfig(vocab_size=len(bpe.vocab))
    torch.manual_seed(args.seed)  # the initial weights too, so the same commands give the same model
    model = Llama(cfg)
    history = []
    if args.resume:
        previous = torch.load(os.path.join(WORK, "checkpoint.pt"))
        assert previous["merges"] == merges, "the corpus or tokenizer changed since the checkpoint"
        model.load_state_dict(previous["state"])
        history = previous.get("history", [previous["stats"]])
    log(f"model: {model.num_parameters()} parameters {cfg.to_dict()}")
    probe_stories = data.heldout_stories(24)
    probe = lambda: evaluate.copy_nll(model, bpe, probe_stories, tokenizer_bpe.BOS)
    phases = tuple(Phase(*map(int, p.split("x"))) for p in args.phases.split(",")) if args.phases else TrainConfig.phases
    tcfg = TrainConfig(seed=args.seed, lr=args.lr, phases=phases, warmup=args.warmup, copy_share=args.copy_share)
    log(f"training: {tcfg}")
    stats = train(model, seqs, tcfg, log, probe)
    log(f"trained: {stats}")
    history.append({**stats, "phases": args.phases or "default", "lr": args.lr, "seed": args.seed, "copy_share": args.copy_share})
    total = {"steps": sum(h["steps"] for h in history), "tokens": sum(h["tokens"] for h in history),
             "seconds": sum(h["seconds"] for h in history)}
    torch.save({"config": cfg.to_dict(), "state": model.state_dict(), "merges": merges, "stats": total,
                "history": history, "corpus_tokens": sum(map(len, seqs)), "threads": args.threads},
               os.path.join(WORK, "checkpoint.pt"))


def cmd_export(args) -> None:
    torch.set_num_threads(args.threads)
    ck = torch.load(os.path.join(WORK, "checkpoint.pt"))
    cfg = LlamaConfig(**ck["config"])
    model = Llama(cfg)
    model.load_state_dict(ck["state"])
    model.eval()
    bpe = tokenizer_bpe.ByteLevelBpe(ck["merges"])
    os.makedirs(os.path.join(STORY, "onnx"), exist_ok=True)
    export.export_onnx(model, os.path.join(STORY, "onnx", "model.onnx"), attentions=False)
    export.export_onnx(model, os.path.join(STORY, "onnx", "model_with_attentions.onnx"), attentions=True)
    export.write_configs(cfg, STORY)
    tokenizer_bpe.save(bpe, STORY, cfg.max_position_embeddings)
    heldout = data.heldout_stories(args.heldout)
    long = data.long_stories(bpe, args.long)
    data.write_eval_splits(os.path.join(STORY, "data"), heldout, long)
    report = {
        "parameters": model.num_parameters(),
        "training": {**ck["stats"], "corpus_tokens": ck["corpus_tokens"], "threads": ck["threads"]},
        "heldout_perplexity": evaluate.perplexity(model, [data.plain_ids(bpe, s) for s in heldout]),
        "long_perplexity": evaluate.perplexity(model, [data.plain_ids(bpe, s) for s in long]),
        "long_recall": evaluate.recall(model, bpe, [p for s in long for p in s.probes], tokenizer_bpe.BOS, tokenizer_bpe.EOS),
        "samples": [],
    }
    for opening in ["Once upon a time, there was a little fox named", "One day, Lily went to the park with",
                    "Tom's best friend was a duck named Sam."]:
        out = evaluate.greedy(model, [tokenizer_bpe.BOS] + bpe.encode(opening), 80, tokenizer_bpe.EOS)
        report["samples"].append({"prompt": opening, "continuation": bpe.decode(out)})
    with open(os.path.join(HERE, "report.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
    print(json.dumps(report, indent=2))


def _pseudo_text(seed: int, sentences: int) -> list[str]:
    """Sentences of made-up syllable words: the story corpus alone runs out of BPE pairs long
    before 4096 entries, so the benchmark tokenizer also learns from these."""
    rng = random.Random(seed)
    syllables = [c + v for c in "bcdfghjklmnprstvwz" for v in ("a", "e", "i", "o", "u", "ai", "ou")]
    words = ["".join(rng.choice(syllables) for _ in range(rng.randint(1, 4))) for _ in range(6000)]
    return [" ".join(words[min(int(rng.paretovariate(0.7)) - 1, len(words) - 1)] for _ in range(12)).capitalize() + "."
            for _ in range(sentences)]


def cmd_bench_model(args) -> None:
    """A ~30M-parameter model of the same architecture with random weights (vocab 4096, context
    2048), for speed benchmarks only; written outside git."""
    torch.manual_seed(args.seed)
    cfg = LlamaConfig(vocab_size=4096, hidden_size=512, intermediate_size=1408, num_hidden_layers=10,
                      num_attention_heads=8, num_key_value_heads=2, head_dim=64, max_position_embeddings=2048)
    texts = [s.text for s in data.train_stories(3000, 0)] + _pseudo_text(args.seed, 20000)
    merges = tokenizer_bpe.train(texts, cfg.vocab_size)
    bpe = tokenizer_bpe.ByteLevelBpe(merges)
    if len(bpe.vocab) != cfg.vocab_size:
        raise SystemExit(f"the benchmark tokenizer has {len(bpe.vocab)} entries, not {cfg.vocab_size}")
    model = Llama(cfg)
    model.eval()
    out = os.path.join(HERE, args.out)
    os.makedirs(os.path.join(out, "onnx"), exist_ok=True)
    export.export_onnx(model, os.path.join(out, "onnx", "model.onnx"), attentions=False)
    export.write_configs(cfg, out)
    tokenizer_bpe.save(bpe, out, cfg.max_position_embeddings)
    print(f"{model.num_parameters()} parameters (random weights), vocab {len(bpe.vocab)} -> {out}")


FIXTURE_VARIANTS = ("tiny", "tiny-no-past", "tiny-no-position-ids", "tiny-merged", "tiny-external",
                    "tiny-logits-to-keep", "tiny-int32", "tiny-fp16")
# The token whose logit the merged fixture raises by 1e4 when `use_cache_branch` disagrees with the
# fed past (an ordinary word piece, not a special token).
MERGED_GUARD_TOKEN = 1000


def cmd_fixtures(args) -> None:
    """Tiny random-weight models (same weights, same tokenizer) in eight graph variants, for core's
    tests: standard (past + position_ids), no past inputs, no position_ids input, an
    Optimum-style merged decoder (`onnx/decoder_model_merged.onnx` with `use_cache_branch`), and
    the standard graph with its weights in an external data file (`onnx/model.onnx_data`), as
    exports of models over 2 GB have them; and the standard graph with the I/O variants of
    third-party exports (`io_variants`): a `num_logits_to_keep` input, int32 id/mask/position
    inputs, float16 past/present/logits."""
    torch.manual_seed(args.seed)
    cfg = LlamaConfig(vocab_size=1024, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, head_dim=8, max_position_embeddings=256)
    model = Llama(cfg)
    with torch.no_grad():  # larger random weights than training init, so greedy outputs vary
        for name, p in model.named_parameters():
            if p.dim() >= 2:
                p.normal_(0, 0.35)
    model.eval()
    merges = tokenizer_bpe.train([s.text for s in data.train_stories(16000, 2000)[:3000]], 1024)
    bpe = tokenizer_bpe.ByteLevelBpe(merges)
    only = args.only.split(",") if args.only else list(FIXTURE_VARIANTS)
    unknown = [v for v in only if v not in FIXTURE_VARIANTS]
    if unknown:
        raise SystemExit(f"unknown fixture variant(s) {unknown}; choose from {list(FIXTURE_VARIANTS)}")
    for name in only:
        out = os.path.join(args.out, name)
        os.makedirs(os.path.join(out, "onnx"), exist_ok=True)
        if name == "tiny-merged":
            with tempfile.TemporaryDirectory() as tmp:
                no_cache, with_cache = os.path.join(tmp, "decoder_model.onnx"), os.path.join(tmp, "decoder_with_past_model.onnx")
                export.export_onnx(model, no_cache, attentions=False, with_past=False, presents=True)
                export.export_onnx(model, with_cache, attentions=False)
                merge.merge_decoders(no_cache, with_cache, os.path.join(out, "onnx", "decoder_model_merged.onnx"),
                                     guard_token=MERGED_GUARD_TOKEN)
        else:
            past, pos = name != "tiny-no-past", name != "tiny-no-position-ids"
            graph = os.path.join(out, "onnx", "model.onnx")
            export.export_onnx(model, graph, attentions=False, with_past=past, position_ids=pos)
            if name == "tiny-external":
                # Every initializer moves to one file beside the graph; the graph keeps its name.
                # onnx appends to an existing data file, so a rerun starts from none.
                data_file = os.path.join(out, "onnx", "model.onnx_data")
                if os.path.exists(data_file):
                    os.remove(data_file)
                onnx.save_model(onnx.load(graph), graph, save_as_external_data=True, all_tensors_to_one_file=True,
                                location="model.onnx_data", size_threshold=0)
            elif name == "tiny-logits-to-keep":
                io_variants.add_logits_to_keep(graph)
            elif name == "tiny-int32":
                io_variants.int32_inputs(graph)
            elif name == "tiny-fp16":
                io_variants.float16_io(graph)
        export.write_configs(cfg, out)
        tokenizer_bpe.save(bpe, out, cfg.max_position_embeddings)
        print(f"{model.num_parameters()} parameters -> {out}")


def cmd_fp16_io(args) -> None:
    """A copy of a model folder whose graph has the I/O of an fp16 export (float16 past/present
    and logits around the same float32 computation), for benchmarking float16 caches. Only
    `onnx/model.onnx` is copied and converted."""
    src, out = os.path.join(HERE, args.model), os.path.join(HERE, args.out)
    os.makedirs(os.path.join(out, "onnx"), exist_ok=True)
    for name in os.listdir(src):
        if os.path.isfile(os.path.join(src, name)):
            shutil.copyfile(os.path.join(src, name), os.path.join(out, name))
    graph = os.path.join(out, "onnx", "model.onnx")
    shutil.copyfile(os.path.join(src, "onnx", "model.onnx"), graph)
    io_variants.float16_io(graph)
    print(f"{graph}: float16 past_key_values / present / logits")


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(prog="python -m make")
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--stories", type=int, default=16000)
    t.add_argument("--long-stories", type=int, default=2000)
    t.add_argument("--vocab", type=int, default=1024)
    t.add_argument("--chat-share", type=float, default=0.2)
    t.add_argument("--seed", type=int, default=7)
    t.add_argument("--threads", type=int, default=2)
    t.add_argument("--resume", action="store_true", help="continue from .work/checkpoint.pt (fresh optimizer)")
    t.add_argument("--phases", default="", help="STEPSxBATCHxSEQ,... (default: 420x16x512,130x8x1024)")
    t.add_argument("--lr", type=float, default=3e-3)
    t.add_argument("--warmup", type=int, default=30)
    t.add_argument("--copy-share", type=float, default=0.0, help="share of windows that repeat a corpus span")
    e = sub.add_parser("export")
    e.add_argument("--heldout", type=int, default=120)
    e.add_argument("--long", type=int, default=50)
    e.add_argument("--threads", type=int, default=2)
    b = sub.add_parser("bench-model")
    b.add_argument("--out", default="bench-30m")
    b.add_argument("--seed", type=int, default=11)
    fx = sub.add_parser("fixtures")
    fx.add_argument("--out", default=os.path.join(HERE, "..", "packages", "core", "test", "fixtures"))
    fx.add_argument("--seed", type=int, default=5)
    fx.add_argument("--only", default="", help=f"comma-separated variants to write (default: all of {', '.join(FIXTURE_VARIANTS)})")
    f16 = sub.add_parser("fp16-io")
    f16.add_argument("--model", default="story")
    f16.add_argument("--out", default="bench-story-fp16")
    args = p.parse_args(argv)
    {"train": cmd_train, "export": cmd_export, "bench-model": cmd_bench_model, "fixtures": cmd_fixtures,
     "fp16-io": cmd_fp16_io}[args.cmd](args)


if __name__ == "__main__":
    main(sys.argv[1:])
