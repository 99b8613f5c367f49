"""Small models with real tokenizers, saved as run folders, for the export and service tests."""

from __future__ import annotations

from pathlib import Path

import torch

from core.hashing import sha256_file
from core.text.tokenizer import EOS_ID, SubwordTokenizer
from models import checkpoint
from models.classifier import Classifier, ClassifierConfig
from models.translator import Translator, TranslatorConfig


def small_translator(vocab: int, seed: int = 0) -> Translator:
    """A random translator whose </s> is likely enough that hypotheses end at varied
    lengths (an untrained model otherwise runs every sentence to its length limit)."""
    torch.manual_seed(seed)
    cfg = TranslatorConfig(
        vocab_size=vocab, d_model=32, n_heads=4, d_ff=64, enc_layers=2, dec_layers=2
    )
    model = Translator(cfg).eval()
    with torch.no_grad():
        model.embed.tokens.weight[EOS_ID] *= 4
    return model


def small_classifier(vocab: int, seed: int = 0) -> Classifier:
    torch.manual_seed(seed)
    cfg = ClassifierConfig(vocab_size=vocab, d_model=32, n_heads=4, d_ff=64, max_len=64)
    return Classifier(cfg).eval()


def save_run(
    folder: Path, model: torch.nn.Module, tok: SubwordTokenizer, corpus: Path, meta: dict
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    tok.save(folder / "tokenizer.json")
    data = {"corpus_dir": str(corpus), "manifest_sha256": sha256_file(corpus / "manifest.json")}
    checkpoint.save(folder / checkpoint.CHECKPOINT, model, {**meta, "epoch": 1, "data": data})
    return folder
