"""Corpus splits and token streams.

Splits (disjoint seeds, so no story is shared between them):
- train: stories of 2-14 events plus long stories of 15-27 events, ~20% in chat form;
- heldout: stories of 2-14 events, written to `data/heldout.txt`;
- long: stories whose encoding is 600-1000 tokens, written to `data/long.txt` with their
  fact-recall probes in `data/long-recall.jsonl`.
Files separate stories with one blank line (stories themselves contain single newlines only).
"""
from __future__ import annotations

import json
import os

from . import corpus
from .tokenizer_bpe import BOS, EOS, SPECIAL_TOKENS, ByteLevelBpe

USER, ASSISTANT = SPECIAL_TOKENS.index("<|user|>"), SPECIAL_TOKENS.index("<|assistant|>")
SEPARATOR = "\n\n"


def train_stories(count: int, long_count: int) -> list[corpus.Story]:
    return corpus.make_stories(1, count, 2, 14) + corpus.make_stories(2, long_count, 15, 27)


def heldout_stories(count: int) -> list[corpus.Story]:
    return corpus.make_stories(1001, count, 2, 14)


def long_stories(bpe: ByteLevelBpe, count: int) -> list[corpus.Story]:
    out: list[corpus.Story] = []
    for story in corpus.make_stories(2001, count * 4, 15, 27):
        n = len(bpe.encode(story.text)) + 2
        if 600 <= n <= 1000:
            out.append(story)
        if len(out) == count:
            break
    return out


def plain_ids(bpe: ByteLevelBpe, story: corpus.Story) -> list[int]:
    return [BOS] + bpe.encode(story.text) + [EOS]


def chat_ids(bpe: ByteLevelBpe, story: corpus.Story) -> list[int]:
    """The ids the chat template yields for one user turn, followed by the story as the answer.
    Special tokens split the text the same way the Hugging Face tokenizer splits it."""
    return ([BOS, USER] + bpe.encode("\n" + corpus.chat_prompt(story) + "\n") + [ASSISTANT]
            + bpe.encode("\n" + story.text) + [EOS])


def write_eval_splits(folder: str, heldout: list[corpus.Story], long: list[corpus.Story]) -> None:
    os.makedirs(folder, exist_ok=True)
    with open(f"{folder}/heldout.txt", "w", encoding="utf-8") as f:
        f.write(SEPARATOR.join(s.text for s in heldout) + "\n")
    with open(f"{folder}/long.txt", "w", encoding="utf-8") as f:
        f.write(SEPARATOR.join(s.text for s in long) + "\n")
    with open(f"{folder}/long-recall.jsonl", "w", encoding="utf-8") as f:
        for i, s in enumerate(long):
            for p in s.probes:
                # `offset`: the prompt is the story's text up to this character; `answer` follows it.
                f.write(json.dumps({"story": i, "kind": p["kind"], "offset": len(p["prefix"]),
                                    "answer": p["answer"]}) + "\n")
