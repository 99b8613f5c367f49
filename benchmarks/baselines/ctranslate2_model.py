"""CTranslate2 on attnserve's own weights: the translator peer of ``attnserve bench``.

The served version's weights are recovered from its ONNX graphs
(``export/recover.py``, checked against them) and written into a CTranslate2
Transformer with its spec API: pre-norm, GELU, the encoder's and decoder's layer counts
and heads, fused query/key/value projections, tied embeddings and output projection. Our
positions are a sinusoidal table with sine and cosine interleaved from position 0, while
CTranslate2's own is ``[sin ‖ cos]`` from position 1, so the table is passed explicitly.
The vocabulary is the ids themselves (``t0``, ``t1``, …), sources go in as ids with their
``</s>``, exactly as the service feeds its encoder.

CTranslate2 cannot keep attnserve's placeholder rule (a sentinel generated exactly as
often as the source holds it) nor return every layer's attention: the bench compares
speed on the same sentences, after checking that greedy decoding agrees token for token.
Needs the ``bench`` extra (``ctranslate2``); never the serving image.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.decoding import length_limits
from core.text.inputs import translator_source
from core.text.tokenizer import BOS_ID, EOS_ID, UNK_ID
from export.recover import load
from models.translator import Translator


def _t(x: torch.Tensor) -> np.ndarray:
    return x.detach().cpu().numpy().astype(np.float32)


def _linear(spec: Any, *layers: Any) -> None:
    """``spec`` ← one or several fused ``nn.Linear`` (stacked along outputs)."""
    spec.weight = np.concatenate([_t(m.weight) for m in layers])
    spec.bias = np.concatenate([_t(m.bias) for m in layers])


def _norm(spec: Any, ln: Any) -> None:
    spec.gamma, spec.beta = _t(ln.weight), _t(ln.bias)


def _ffn(spec: Any, layer: Any) -> None:
    """A pre-norm layer's feed-forward block: its norm, Linear, GELU, Linear."""
    _norm(spec.layer_norm, layer.ln_ff)
    _linear(spec.linear_0, layer.ff.net[0])
    _linear(spec.linear_1, layer.ff.net[3])


def build(model: Translator, out: Path, quantization: str | None = None) -> Path:
    """Write ``model`` as a CTranslate2 model directory ``out`` (``quantization``: None
    for float32, ``int8`` for CTranslate2's own int8)."""
    from ctranslate2.specs import common_spec, transformer_spec

    cfg = model.cfg
    gelu = common_spec.Activation.GELU
    enc = transformer_spec.TransformerEncoderSpec(cfg.enc_layers, cfg.n_heads, activation=gelu)
    dec = transformer_spec.TransformerDecoderSpec(cfg.dec_layers, cfg.n_heads, activation=gelu)
    table = _t(model.embed.positions)  # (max_len, C), sin/cos interleaved from position 0
    embeddings = _t(model.embed.tokens.weight)  # (V, C), tied with the output projection
    enc.embeddings[0].weight = embeddings
    enc.position_encodings.encodings = table
    layers: list[Any] = list(model.encoder.layers)
    for spec, layer in zip(enc.layer, layers, strict=True):
        attn = layer.attn
        _norm(spec.self_attention.layer_norm, layer.ln_attn)
        _linear(spec.self_attention.linear[0], attn.q_proj, attn.k_proj, attn.v_proj)
        _linear(spec.self_attention.linear[1], attn.out_proj)
        _ffn(spec.ffn, layer)
    _norm(enc.layer_norm, model.enc_ln)
    dec.embeddings.weight = embeddings
    dec.position_encodings.encodings = table
    for spec, layer in zip(dec.layer, model.layers, strict=True):
        own, cross = layer.self_attn, layer.cross_attn
        _norm(spec.self_attention.layer_norm, layer.ln_self)
        _linear(spec.self_attention.linear[0], own.q_proj, own.k_proj, own.v_proj)
        _linear(spec.self_attention.linear[1], own.out_proj)
        _norm(spec.attention.layer_norm, layer.ln_cross)
        _linear(spec.attention.linear[0], cross.q_proj)
        _linear(spec.attention.linear[1], cross.k_proj, cross.v_proj)
        _linear(spec.attention.linear[2], cross.out_proj)
        _ffn(spec.ffn, layer)
    _norm(dec.layer_norm, model.dec_ln)
    dec.projection.weight = embeddings
    dec.projection.bias = np.zeros(cfg.vocab_size, dtype=np.float32)
    spec = transformer_spec.TransformerSpec(enc, dec)
    vocab = [f"t{i}" for i in range(cfg.vocab_size)]
    spec.register_source_vocabulary(vocab)
    spec.register_target_vocabulary(vocab)
    spec.config.unk_token, spec.config.bos_token = f"t{UNK_ID}", f"t{BOS_ID}"
    spec.config.eos_token, spec.config.decoder_start_token = f"t{EOS_ID}", f"t{BOS_ID}"
    spec.config.layer_norm_epsilon = model.dec_ln.eps
    spec.validate()
    spec.optimize(quantization=quantization)
    out.mkdir(parents=True, exist_ok=True)
    spec.save(str(out))
    return out


@dataclass
class Peer:
    """A CTranslate2 translator on the served version's weights."""

    translator: Any
    max_len: int  # the model's longest sequence
    tokenizer: Any
    layout: str  # inter × intra threads
    compute_type: str

    @classmethod
    def open(
        cls,
        repository: Path,
        folder: Path,
        compute_type: str = "float32",
        inter: int = 1,
        intra: int = 0,
        name: str = "en-fr",
    ) -> Peer:
        import ctranslate2

        model, tokenizer, config = load(repository, name)  # the served (latest) version
        assert isinstance(model, Translator)
        if not (folder / "model.bin").is_file():  # float32; int8 is converted as it loads
            build(model, folder)
        translator = ctranslate2.Translator(
            str(folder),
            device="cpu",
            compute_type=compute_type,
            inter_threads=inter,
            intra_threads=intra,
        )
        return cls(
            translator, int(config["max_input_tokens"]), tokenizer, f"{inter}x{intra}", compute_type
        )

    def sources(self, texts: Sequence[str]) -> list[list[int]]:
        """Source ids as the service feeds its encoder (placeholders masked, ``</s>``)."""
        return [translator_source(self.tokenizer.encode_masked(t)[0], self.max_len) for t in texts]

    def translate(
        self,
        sources: Sequence[list[int]],
        beam: int,
        max_batch_tokens: int = 4000,
        exact_limits: bool = False,
    ) -> list[list[int]]:
        """Target ids (no BOS, no EOS) of each source. CTranslate2 takes one length limit
        per call: the batch's longest (its sources run as one batch, as timed), or with
        ``exact_limits`` each source's own by attnserve's rule (one call per limit, for the
        identity check: a degenerate repetition stops where attnserve stops it)."""
        limits = length_limits([len(s) for s in sources], self.max_len - 1)
        distinct = sorted(set(limits))
        groups = [[n] for n in distinct] if exact_limits else [distinct]
        out: list[list[int]] = [[] for _ in sources]
        for group in groups:
            idx = [i for i, n in enumerate(limits) if n in group]
            found = self.translator.translate_batch(
                [[f"t{i}" for i in sources[j]] for j in idx],
                beam_size=beam,
                max_decoding_length=max(group),
                max_batch_size=max_batch_tokens,
                batch_type="tokens",
                length_penalty=1.0,
            )
            for j, r in zip(idx, found, strict=True):
                out[j] = [int(t[1:]) for t in r.hypotheses[0]]
        return out

    def time(
        self, sources: Sequence[list[int]], beam: int, max_batch_tokens: int = 4000
    ) -> dict[str, float]:
        """One offline pass over ``sources``: seconds, sentences/s, generated tokens/s."""
        started = time.perf_counter()
        got = self.translate(sources, beam, max_batch_tokens)
        seconds = time.perf_counter() - started
        tokens = sum(len(t) for t in got)
        return {
            "seconds": round(seconds, 3),
            "sentences_per_s": round(len(sources) / seconds, 1),
            "tokens_per_s": round(tokens / seconds, 1),
        }


LAYOUTS = ((1, 2), (2, 1))  # inter × intra threads tried on a 2-core host
BATCH_TOKENS = (1024, 4096)  # tokens per CTranslate2 batch tried


def best(
    repository: Path,
    folder: Path,
    sources: Sequence[list[int]],
    beam: int,
    compute_type: str = "float32",
) -> tuple[Peer, int, dict[str, float]]:
    """The fastest (layout, batch tokens) on ``sources`` at ``beam``: the peer, its batch
    tokens and every layout's tokens/s (as ``"1x2@1024"``)."""
    cores = os.cpu_count() or 1
    layouts = [(i, j) for i, j in LAYOUTS if i * j <= cores] or [(1, cores)]
    tried: dict[str, float] = {}
    top: tuple[float, Peer, int] | None = None
    for inter, intra in layouts:
        peer = Peer.open(repository, folder, compute_type, inter, intra)
        for tokens in BATCH_TOKENS:
            speed = peer.time(sources, beam, tokens)["tokens_per_s"]
            tried[f"{inter}x{intra}@{tokens}"] = speed
            if top is None or speed > top[0]:
                top = (speed, peer, tokens)
    assert top is not None
    return top[1], top[2], tried


def greedy_identity(
    peer: Peer, repository: Path, sources: Sequence[list[int]], name: str = "en-fr"
) -> dict[str, Any]:
    """Greedy CTranslate2 against attnserve's own search (ONNX Runtime, fp32, placeholder
    rule and both guards off: CTranslate2 has none of them) on ``sources``:
    {"sentences", "identical", ...}."""
    from runtime.repository import load as load_version
    from runtime.translator import TranslatorRuntime

    runtime = TranslatorRuntime(load_version(repository, name), "fp32")
    d = runtime.decoding.but(
        beam_size=1, constrain_placeholders=False, block_repeats=False, block_loops=False
    )
    ours = [h.tokens for h in runtime.search(list(sources), d)]
    theirs = peer.translate(sources, beam=1, exact_limits=True)
    same = sum(a == b for a, b in zip(ours, theirs, strict=True))
    out: dict[str, Any] = {"sentences": len(sources), "identical": same}
    if same < len(sources):
        i = next(i for i, (a, b) in enumerate(zip(ours, theirs, strict=True)) if a != b)
        out["first_difference"] = {"attnserve": ours[i], "ctranslate2": theirs[i]}
    return out
