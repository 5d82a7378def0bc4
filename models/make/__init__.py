"""Offline tools that make Weft's own small models (corpus, tokenizer, model, training, export)."""
