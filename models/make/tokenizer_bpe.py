"""Byte-level BPE: training, encoding, and writing a Hugging Face `tokenizer.json`.

The pre-tokenizer splits like GPT-2's ByteLevel pre-tokenizer (the same regex the JavaScript
tokenizer applies), bytes map to printable characters with GPT-2's byte-to-unicode table, and
merges are learned greedily by pair frequency with ties broken by the pair itself, so training is
deterministic.
"""
from __future__ import annotations

import json
import re
from collections import Counter

SPECIAL_TOKENS = ["<|pad|>", "<|bos|>", "<|eos|>", "<|system|>", "<|user|>", "<|assistant|>"]
PAD, BOS, EOS = 0, 1, 2
# GPT-2's pattern; [^\W\d_] stands in for \p{L}, and the punctuation run includes "_" as
# [^\s\p{L}\p{N}] does (the corpus is ASCII; arbitrary UTF-8 still round-trips because every byte
# is in the base vocabulary).
SPLIT = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+""")


def bytes_to_unicode() -> dict[int, str]:
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


BYTE_CHARS = bytes_to_unicode()


def _words(text: str) -> list[str]:
    return ["".join(BYTE_CHARS[b] for b in piece.encode("utf-8")) for piece in SPLIT.findall(text)]


def train(texts: list[str], vocab_size: int) -> list[tuple[str, str]]:
    """Learns `vocab_size - 256 - len(SPECIAL_TOKENS)` merges."""
    counts = Counter()
    for t in texts:
        counts.update(_words(t))
    words = {w: list(w) for w in counts}
    merges: list[tuple[str, str]] = []
    target = vocab_size - 256 - len(SPECIAL_TOKENS)
    while len(merges) < target:
        pairs = Counter()
        for w, syms in words.items():
            n = counts[w]
            for a, b in zip(syms, syms[1:]):
                pairs[(a, b)] += n
        if not pairs:
            break
        best = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))[0]
        merges.append(best)
        joined = best[0] + best[1]
        for w, syms in words.items():
            i, out = 0, []
            while i < len(syms):
                if i + 1 < len(syms) and syms[i] == best[0] and syms[i + 1] == best[1]:
                    out.append(joined)
                    i += 2
                else:
                    out.append(syms[i])
                    i += 1
            words[w] = out
    return merges


class ByteLevelBpe:
    def __init__(self, merges: list[tuple[str, str]]):
        self.merges = merges
        self.ranks = {m: i for i, m in enumerate(merges)}
        self.vocab = {tok: i for i, tok in enumerate(SPECIAL_TOKENS)}
        for b in range(256):
            self.vocab[BYTE_CHARS[b]] = len(self.vocab)
        for a, b in merges:
            self.vocab[a + b] = len(self.vocab)
        self.id_to_token = {i: t for t, i in self.vocab.items()}
        self._cache: dict[str, list[int]] = {}
        self.byte_decoder = {c: b for b, c in BYTE_CHARS.items()}

    def _bpe(self, word: str) -> list[int]:
        hit = self._cache.get(word)
        if hit is not None:
            return hit
        syms = list(word)
        while len(syms) > 1:
            ranked = [(self.ranks.get((a, b), 1 << 30), i) for i, (a, b) in enumerate(zip(syms, syms[1:]))]
            rank, i = min(ranked)
            if rank == 1 << 30:
                break
            syms = syms[:i] + [syms[i] + syms[i + 1]] + syms[i + 2:]
        ids = [self.vocab[s] for s in syms]
        self._cache[word] = ids
        return ids

    def encode(self, text: str) -> list[int]:
        out: list[int] = []
        for w in _words(text):
            out += self._bpe(w)
        return out

    def decode(self, ids: list[int]) -> str:
        chars = "".join(self.id_to_token[i] for i in ids if i >= len(SPECIAL_TOKENS))
        return bytes(self.byte_decoder[c] for c in chars).decode("utf-8", errors="replace")

    def to_hf_json(self) -> dict:
        added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                  "normalized": False, "special": True} for i, t in enumerate(SPECIAL_TOKENS)]
        bos = SPECIAL_TOKENS[BOS]
        return {
            "version": "1.0",
            "truncation": None,
            "padding": None,
            "added_tokens": added,
            "normalizer": None,
            "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
            "post_processor": {
                "type": "TemplateProcessing",
                "single": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                "pair": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                         {"SpecialToken": {"id": bos, "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
                "special_tokens": {bos: {"id": bos, "ids": [BOS], "tokens": [bos]}},
            },
            "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
            "model": {
                "type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                "vocab": self.vocab, "merges": [f"{a} {b}" for a, b in self.merges],
            },
        }


CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\\n' + message['content'] + '\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"
)


def tokenizer_config(max_length: int) -> dict:
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": SPECIAL_TOKENS[BOS],
        "eos_token": SPECIAL_TOKENS[EOS],
        "pad_token": SPECIAL_TOKENS[PAD],
        "unk_token": None,
        "add_bos_token": True,
        "add_eos_token": False,
        "clean_up_tokenization_spaces": False,
        "model_max_length": max_length,
        "chat_template": CHAT_TEMPLATE,
    }


def save(bpe: ByteLevelBpe, folder: str, max_length: int) -> None:
    with open(f"{folder}/tokenizer.json", "w", encoding="utf-8") as f:
        json.dump(bpe.to_hf_json(), f, ensure_ascii=False)
    with open(f"{folder}/tokenizer_config.json", "w", encoding="utf-8") as f:
        json.dump(tokenizer_config(max_length), f, ensure_ascii=False, indent=2)
