"""The encoder and decoder-step graphs on ONNX Runtime, driven by the NumPy beam search."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnxruntime as ort

from core.batching import length_batches
from core.decoding import Decoding, Hypothesis
from core.loops import LoopGuard
from core.text.inputs import translator_source
from core.text.placeholders import Masked
from core.text.segment import join, pieces
from core.text.tokenizer import BOS_ID, EOS_ID, SubwordTokenizer
from runtime.beam import beam_search, check_beam, log_softmax
from runtime.beamset import BeamSet
from runtime.candidates import Candidates, from_logits
from runtime.repository import ModelVersion
from runtime.session import Runner, create, pad

# the decoder step's inputs as a search passes them, in order; the caches stacked
# (L, R, …) or one array per layer, fed as each graph takes them (``by_layer``)
STEP_INPUTS = (
    "tokens",
    "self_k",
    "self_v",
    "cross_k",
    "cross_v",
    "src_mask",
    "positions",
    "past_mask",
)


def is_ragged(decoder: ort.InferenceSession) -> bool:
    """Whether a decoder-step graph takes per-row ``positions`` and a ``past_mask`` (rows
    at different steps share a step); graphs exported before them put every row at P."""
    return {"positions", "past_mask"} <= {i.name for i in decoder.get_inputs()}


CACHES = ("self_k", "self_v", "cross_k", "cross_v")


def is_layered(decoder: ort.InferenceSession) -> bool:
    """Whether a decoder-step graph takes its caches one input per layer (``self_k_0``, …;
    en-fr/3 on) rather than stacked (``self_k`` (L, R, …))."""
    return "self_k_0" in {i.name for i in decoder.get_inputs()}


def by_layer(feeds: dict[str, Any], layered: bool) -> dict[str, np.ndarray]:
    """``feeds`` with each cache as the graph takes it: split into per-layer inputs (views
    of a stacked array: nothing is copied) or stacked."""
    out = dict(feeds)
    for name in CACHES:
        value = out.pop(name)
        if layered:
            out.update({f"{name}_{i}": layer for i, layer in enumerate(value)})
        else:
            out[name] = value if isinstance(value, np.ndarray) else np.stack(value)
    return out


def has_head(decoder: ort.InferenceSession) -> bool:
    """Whether a decoder-step graph ends in the search head (``top_k`` in; ``top_logp``,
    ``top_ids`` out); graphs exported before en-fr/3 end in logits."""
    return "top_k" in {i.name for i in decoder.get_inputs()}


def static_step_feeds(
    feeds: dict[str, Any], decoder: ort.InferenceSession, top_k: int = 1
) -> dict[str, np.ndarray]:
    """``feeds`` (tokens, self_k, self_v, cross_k, cross_v, src_mask) for one static batch,
    every row having seen the whole cache: positions P, P+1, … and a mask of ones added
    where the graph takes them, the search head's width where it has one, and the caches
    as it takes them (``by_layer``)."""
    out = by_layer(feeds, is_layered(decoder))
    if is_ragged(decoder):
        rows, new = feeds["tokens"].shape
        past = np.shape(feeds["self_k"][0])[-2]
        out["positions"] = np.tile(np.arange(past, past + new, dtype=np.int64), (rows, 1))
        out["past_mask"] = np.ones((rows, past), dtype=np.int64)
    if has_head(decoder):
        out["top_k"] = np.array(top_k, dtype=np.int64)
    return out


@dataclass(frozen=True)
class Translation:
    """A translation (given or generated) with every attention map over it."""

    translation: str
    score: float  # mean log-probability per target token, EOS included
    tokens: list[int]  # target ids, without BOS/EOS
    # (Ld, h, T+1, S): row i is the step that produced target token i (the last: EOS)
    cross_attention: np.ndarray | None = None
    encoder_attention: np.ndarray | None = None  # (Le, h, S, S)
    # (Ld, h, T+1, T+1): the decoder's causal self-attention over BOS + target
    decoder_attention: np.ndarray | None = None


class TranslatorRuntime:
    def __init__(
        self, model: ModelVersion, precision: str = "auto", device: str = "cpu", threads: int = 0
    ) -> None:
        if model.task != "translation":
            raise ValueError(f"{model.name} is a {model.task} model, not a translator")
        cfg = model.config
        self.model = model
        self.precision = cfg["precision"][device] if precision == "auto" else precision
        self.encoder = create(model.graph("encoder", self.precision), device, threads)
        self.decoder = create(model.graph("decoder_step", self.precision), device, threads)
        self._run_encoder = Runner(self.encoder, device)
        self._run_decoder = Runner(self.decoder, device)
        self.tokenizer = SubwordTokenizer.load(model.path / cfg["tokenizer"])
        self.max_len = int(cfg["max_input_tokens"])
        cache = cfg["cache"]
        self.cache_shape = (int(cache["layers"]), int(cache["heads"]), int(cache["head_dim"]))
        self.decoding = Decoding.from_config(cfg["decoding"])  # the model's defaults
        self.loops = LoopGuard(self.tokenizer.surfaces())  # for decodings with block_loops
        # graphs exported before attnserve 0.1 carry no decoder self-attention output
        self.has_decoder_attention = "self_attention" in {
            o.name for o in self.decoder.get_outputs()
        }
        self.ragged = is_ragged(self.decoder)
        # graphs exported before en-fr/3 end in logits (the search head then runs in
        # NumPy) and take their caches stacked
        self.has_head = has_head(self.decoder)
        self.layered = is_layered(self.decoder)
        layers = self.cache_shape[0]
        if self.layered:
            self._grown = [f"self_{kv}_out_{i}" for kv in "kv" for i in range(layers)]
        else:
            self._grown = ["self_k_out", "self_v_out"]

    def _encode(self, src_ids: np.ndarray, src_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        k, v = self._run_encoder(["cross_k", "cross_v"], {"src_ids": src_ids, "src_mask": src_mask})
        return k, v

    def _feeds(self, *args: Any) -> dict[str, np.ndarray]:
        """The decoder step's inputs by name: (tokens, self_k, self_v, cross_k, cross_v,
        src_mask), then ``positions`` and ``past_mask`` where the caller has them (a
        ``BeamSet`` on a ragged graph) or made for one static batch (with ``top_k`` 1
        where the graph has the search head; ``_step`` sets the width it needs)."""
        feeds = dict(zip(STEP_INPUTS, args, strict=False))
        if len(args) == len(STEP_INPUTS):
            return by_layer(feeds, self.layered)
        return static_step_feeds(feeds, self.decoder)

    def _step(
        self, *args: Any, top_k: int
    ) -> tuple[Candidates, list[np.ndarray], list[np.ndarray]]:
        """One decoder step: each row's ``top_k`` best tokens and the grown caches, one
        (R, h, P+1, hs) array per layer."""
        feeds = self._feeds(*args)
        if self.has_head:
            feeds["top_k"] = np.array(top_k, dtype=np.int64)
            logp, ids, *grown = self._run_decoder(["top_logp", "top_ids", *self._grown], feeds)
            cand = Candidates(logp, ids)
        else:
            logits, *grown = self._run_decoder(["logits", *self._grown], feeds)
            cand = from_logits(logits[:, -1], top_k)
        if not self.layered:  # stacked (L, R, …): its layers are views
            return cand, list(grown[0]), list(grown[1])
        half = len(grown) // 2
        return cand, grown[:half], grown[half:]

    def beam_set(self) -> BeamSet:
        """An empty set of running beams over this model's graphs, for a decode loop that
        admits sources between steps (on a static graph: only into an empty set)."""
        return BeamSet(
            self._encode, self._step, self.cache_shape, self.max_len, self.ragged, self.loops
        )

    def attention(
        self, source: Sequence[int], target: Sequence[int], masked: Masked
    ) -> Translation:
        """Every attention map for one source and a given target, in one decoder step
        with an empty cache: the target is fed after BOS (teacher forcing), EOS ends it."""
        src_ids, src_mask = pad([source])
        k, v, enc_attn = self._run_encoder(None, {"src_ids": src_ids, "src_mask": src_mask})
        layers, heads, hs = self.cache_shape
        empty = np.zeros((layers, 1, heads, 0, hs), dtype=np.float32)
        tokens = np.array([[BOS_ID, *target]], dtype=np.int64)
        names = ["logits", "cross_attention"]
        if self.has_decoder_attention:
            names.append("self_attention")
        logits, cross, *dec_attn = self._run_decoder(
            names, self._feeds(tokens, empty, empty, k, v, src_mask)
        )
        # score of the forced target: sum of log p(target_t | prefix), EOS included
        logp = log_softmax(logits[0].astype(np.float32))  # (T+1, V)
        wanted = [*target, EOS_ID]
        score = float(logp[np.arange(len(wanted)), wanted].sum()) / max(1, len(wanted))
        return Translation(
            translation=self.tokenizer.decode(list(target), masked.spans),
            score=score,
            tokens=list(target),
            cross_attention=cross[0].astype(np.float32),  # (Ld, h, T+1, S)
            encoder_attention=enc_attn[0].astype(np.float32),  # (Le, h, S, S)
            decoder_attention=dec_attn[0][0].astype(np.float32) if dec_attn else None,
        )

    def fits(self, text: str) -> bool:
        """True when ``text`` is within the model's source limit (its </s> aside)."""
        return len(self.tokenizer.encode(text)) < self.max_len

    def encode(self, texts: Sequence[str]) -> list[tuple[list[int], Masked]]:
        out = []
        for text in texts:
            ids, masked = self.tokenizer.encode_masked(text)
            out.append((translator_source(ids, self.max_len), masked))
        return out

    def search(
        self, sources: Sequence[Sequence[int]], decoding: Decoding | None = None
    ) -> list[Hypothesis]:
        """One batch of encoded sources, decoded with ``decoding`` (the model's defaults
        when None)."""
        found = self.watched_search(sources, decoding)
        return [h for h in found if h is not None]

    def watched_search(
        self,
        sources: Sequence[Sequence[int]],
        decoding: Decoding | None = None,
        on_step: Callable[[BeamSet], None] | None = None,
    ) -> list[Hypothesis | None]:
        """``search`` with ``on_step`` seeing the running set after every step (sources
        keyed by their index): it may read what each has agreed on (a stream) and drop
        some (their clients went away), whose result is then None."""
        d = decoding or self.decoding
        ids, mask = pad(sources)
        return beam_search(
            self._encode,
            self._step,
            ids,
            mask,
            self.cache_shape,
            self.max_len,
            beam=d.beam_size,
            max_len=d.max_length,
            length_penalty=d.length_penalty,
            constrain_placeholders=d.constrain_placeholders,
            ragged=self.ragged,
            block_repeats=d.block_repeats,
            loops=self.loops if d.block_loops else None,
            on_step=on_step,
        )

    def translate(self, texts: Sequence[str], max_tokens: int = 8000, **options: Any) -> list[str]:
        """Translations in the order of ``texts``, batched by source length; ``options``
        (``beam_size=4``, …) change the model's decoding defaults. Each text is framed and
        translated sentence by sentence (``core.text.segment``), as the service does."""
        decoding = self.decoding.but(**options)
        check_beam(decoding.beam_size)  # before it divides the token budget
        split = [pieces(t, self.fits) for t in texts]
        flat = [p for parts in split for p in parts]
        encoded = self.encode([p.text for p in flat])
        out = [""] * len(flat)
        budget = max_tokens // decoding.beam_size
        for batch in length_batches([len(s) for s, _ in encoded], budget, 128):
            hyps = self.search([encoded[i][0] for i in batch], decoding)
            for i, hyp in zip(batch, hyps, strict=True):
                out[i] = self.tokenizer.decode(hyp.tokens, encoded[i][1].spans)
        joined, at = [], 0
        for parts in split:
            joined.append(join(parts, out[at : at + len(parts)]))
            at += len(parts)
        return joined
