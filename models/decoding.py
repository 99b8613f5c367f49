"""Reference decoders in PyTorch: batched greedy and beam search with length penalty.

These are the oracle that the served ONNX decoder is checked against token for token,
so every rule is spelled out:

* every source gets its own length limit of new tokens (EOS included),
  ``min(max_len, cfg.max_len - 1, 2·|src| + 10)`` where ``|src|`` counts the source's
  unmasked positions (its trailing EOS included), so a result never depends on which
  other sentences share its batch;
* beam search keeps ``beam`` live hypotheses per source; at each step the best
  ``2·beam`` candidates are read in order: one ending in EOS is finished (while fewer
  than ``beam`` are), others continue until ``beam`` are live;
* a finished hypothesis scores ``sum(log p) / len ** length_penalty`` (len counts EOS);
  a source is done when ``beam`` hypotheses are finished or its limit is reached
  (live hypotheses are then finished as they are); the best score wins;
* ``<pad>`` and ``<s>`` are never generated (their log-probability is -inf);
* placeholders are constrained (``constrain_placeholders``): a hypothesis may emit each
  sentinel ``<phN>`` only as often as the source holds it, and may not end (EOS) before
  it has emitted every one of them — so placeholders come out exactly as they went in,
  unless the length limit cuts the hypothesis short;
* the repetition guard (``block_repeats``, ``core.decoding.repeat_bars``): a hypothesis
  may not generate a token that would repeat a span of 1 to 4 tokens back to back more
  often than ``MAX_COPIES`` allows;
* the loop guard (``loops``, ``core.loops``): the best ``reads(beam)`` candidates are
  read (``4·beam`` instead of ``2·beam``) and one that would make a letter run or a third
  copy of a span is passed over; when every candidate read is passed over and the source
  has no finished hypothesis, its hypotheses end as they are (scored as if EOS came with
  probability 1);
* finished sources leave the batch, so the batch shrinks as it decodes.
"""

from __future__ import annotations

import torch
from torch import Tensor

from core.decoding import Hypothesis, length_limits, repeat_bars
from core.loops import LoopGuard, reads
from core.text.tokenizer import BOS_ID, EOS_ID, PAD_ID, SENTINEL_IDS
from models.translator import Translator


def _select(idx: Tensor, *tensors: Tensor, dim: int = 0) -> list[Tensor]:
    return [t.index_select(dim, idx) for t in tensors]


@torch.no_grad()
def greedy(
    model: Translator, src_ids: Tensor, src_mask: Tensor, max_len: int = 128
) -> list[Hypothesis]:
    """Arg-max decoding, batched; equals ``beam_search(beam=1)``."""
    return beam_search(model, src_ids, src_mask, beam=1, max_len=max_len)


@torch.no_grad()
def beam_search(
    model: Translator,
    src_ids: Tensor,  # (B, S)
    src_mask: Tensor,  # (B, S)
    beam: int = 4,
    max_len: int = 128,
    length_penalty: float = 1.0,
    constrain_placeholders: bool = True,
    block_repeats: bool = False,
    loops: LoopGuard | None = None,
) -> list[Hypothesis]:
    if not 1 <= beam <= 16:
        raise ValueError(f"beam must be in 1..16, got {beam}")
    if max_len < 1:
        raise ValueError(f"max_len must be at least 1, got {max_len}")
    n_src, device = src_ids.size(0), src_ids.device
    if n_src == 0:
        return []
    limits = length_limits(src_mask.sum(1).tolist(), min(max_len, model.cfg.max_len - 1))
    cross_k, cross_v, _ = model.encode(src_ids, src_mask)  # (L, B, h, S, hs)
    # Each source's beams are contiguous rows: row = position_in_batch * beam + j.
    rep = torch.arange(n_src, device=device).repeat_interleave(beam)
    cross_k, cross_v = _select(rep, cross_k, cross_v, dim=1)
    mask = src_mask.index_select(0, rep)  # (B·K, S)
    sources = src_ids.index_select(0, rep)  # (B·K, S): what the repetition guard may copy
    self_k, self_v = model.empty_cache(n_src * beam, device)
    tokens = torch.full((n_src * beam, 1), BOS_ID, dtype=torch.long, device=device)
    scores = torch.full((n_src, beam), float("-inf"), device=device)
    scores[:, 0] = 0.0  # all beams start identical: expand only the first
    active = list(range(n_src))  # original index of each source still decoding
    finished: list[list[Hypothesis]] = [[] for _ in range(n_src)]
    history = tokens  # (B·K, t) every generated token, BOS first
    sentinels = torch.tensor(SENTINEL_IDS, device=device)
    # How often each sentinel occurs in the source, and how often each beam has emitted it.
    required = (src_ids.index_select(0, rep).unsqueeze(-1) == sentinels).sum(1)  # (B·K, n_ph)
    emitted = torch.zeros_like(required)
    guards = [
        loops.for_source(src_ids[b][src_mask[b].bool()].tolist()) if loops else None
        for b in range(n_src)
    ]
    n_read = reads(beam, loops is not None)

    for step in range(1, max(limits) + 1):
        logits, self_k, self_v, _ = model.decode_step(
            tokens, self_k, self_v, cross_k, cross_v, mask
        )
        logp = torch.log_softmax(logits[:, -1].float(), dim=-1)  # (B·K, V)
        logp[:, [PAD_ID, BOS_ID]] = float("-inf")
        if constrain_placeholders:
            spent = emitted >= required  # (B·K, n_ph): no more of this sentinel
            logp[:, sentinels] = logp[:, sentinels].masked_fill(spent, float("-inf"))
            owed = (~spent).any(1)  # (B·K,): a placeholder is still missing
            logp[:, EOS_ID] = logp[:, EOS_ID].masked_fill(owed, float("-inf"))
        if block_repeats:
            for row, generated in enumerate(history[:, 1:].tolist()):
                if not repeat_bars(generated, (), SENTINEL_IDS):
                    continue  # no run at all: the source need not be read
                source = sources[row][mask[row].bool()].tolist()
                barred = repeat_bars(generated, source, SENTINEL_IDS)
                if barred:
                    logp[row, barred] = float("-inf")
        vocab = logp.size(1)
        cand = (scores.view(-1, 1) + logp).view(len(active), beam * vocab)
        # A stable sort: equal scores keep the lower index, so ties are broken the same way
        # on every backend (torch.topk leaves their order unspecified).
        top_scores, top_idx = cand.sort(dim=1, descending=True, stable=True)
        top_scores, top_idx = top_scores[:, :n_read], top_idx[:, :n_read]  # (B, n_read)
        next_rows: list[int] = []
        next_tokens: list[int] = []
        next_scores: list[float] = []
        keep: list[int] = []
        for b, src in enumerate(active):
            live: list[tuple[int, int, float]] = []
            for s, i in zip(top_scores[b].tolist(), top_idx[b].tolist(), strict=True):
                if s == float("-inf"):
                    break
                row, tok = b * beam + i // vocab, i % vocab
                guard = guards[src]
                if guard is not None and guard.loops(history[row, 1:].tolist(), tok):
                    continue
                if tok == EOS_ID:
                    if len(finished[src]) < beam:
                        prefix = history[row, 1:].tolist()
                        finished[src].append(Hypothesis(prefix, s / (step**length_penalty)))
                elif len(live) < beam:
                    live.append((row, tok, s))
                if len(live) == beam:
                    break
            if step >= limits[src] and len(finished[src]) < beam:
                # Out of length: the live hypotheses end here, as they are.
                for row, tok, s in live[: beam - len(finished[src])]:
                    prefix = [*history[row, 1:].tolist(), tok]
                    finished[src].append(Hypothesis(prefix, s / (step**length_penalty)))
            if not live and not finished[src]:  # every candidate read was passed over
                for j, s in enumerate(scores[b].tolist()):
                    if s > float("-inf"):
                        prefix = history[b * beam + j, 1:].tolist()
                        finished[src].append(Hypothesis(prefix, s / (step**length_penalty)))
            if len(finished[src]) >= beam or not live:
                continue
            keep.append(b)
            live += [(live[-1][0], live[-1][1], float("-inf"))] * (beam - len(live))
            for row, tok, s in live:
                next_rows.append(row)
                next_tokens.append(tok)
                next_scores.append(s)
        if not keep:
            break
        rows = torch.tensor(next_rows, device=device)
        self_k, self_v, cross_k, cross_v = _select(rows, self_k, self_v, cross_k, cross_v, dim=1)
        mask, history, required, emitted = _select(rows, mask, history, required, emitted)
        (sources,) = _select(rows, sources)
        tokens = torch.tensor(next_tokens, device=device).unsqueeze(1)  # (B'·K, 1)
        emitted = emitted + (tokens == sentinels)
        history = torch.cat([history, tokens], dim=1)
        scores = torch.tensor(next_scores, device=device).view(len(keep), beam)
        active = [active[b] for b in keep]

    return [max(hyps, key=lambda h: h.score) for hyps in finished]
