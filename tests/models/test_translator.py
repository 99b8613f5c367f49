import pytest
import torch

from core.decoding import length_limits
from core.text.tokenizer import BOS_ID, EOS_ID, PAD_ID, SENTINEL_IDS
from models.decoding import beam_search, greedy
from models.translator import Translator, TranslatorConfig


@pytest.fixture(scope="module")
def model() -> Translator:
    torch.manual_seed(0)
    cfg = TranslatorConfig(
        vocab_size=40, d_model=32, n_heads=4, d_ff=64, enc_layers=2, dec_layers=2, dropout=0.0
    )
    return Translator(cfg).eval()


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(1)
    src = torch.randint(4, 40, (3, 7))
    mask = torch.ones(3, 7, dtype=torch.long)
    mask[1, 4:] = 0
    mask[2, 2:] = 0
    src[1, 4:] = 0
    src[2, 2:] = 0
    return src, mask


def test_cache_decoding_equals_full_decoding(model: Translator) -> None:
    src, mask = _batch()
    tgt = torch.cat([torch.full((3, 1), BOS_ID), torch.randint(4, 40, (3, 5))], 1)
    ck, cv, _ = model.encode(src, mask)
    k, v = model.empty_cache(3)
    full, _, _, full_w = model.decode_step(tgt, k, v, ck, cv, mask)
    steps, step_w = [], []
    for t in range(tgt.size(1)):
        logits, k, v, w = model.decode_step(tgt[:, t : t + 1], k, v, ck, cv, mask)
        steps.append(logits)
        step_w.append(w)
    assert k.shape == (2, 3, 4, tgt.size(1), 8)
    assert torch.allclose(full, torch.cat(steps, 1), atol=1e-5)
    assert torch.allclose(full_w, torch.cat(step_w, 3), atol=1e-5)


def test_decoder_self_attention_is_causal_and_cache_consistent(model: Translator) -> None:
    src, mask = _batch()
    tgt = torch.cat([torch.full((3, 1), BOS_ID), torch.randint(4, 40, (3, 4))], 1)
    ck, cv, _ = model.encode(src, mask)
    k, v = model.empty_cache(3)
    *_, full = model.decode_step_attention(tgt, k, v, ck, cv, mask)  # (L, B, h, T, T)
    assert full.shape == (2, 3, 4, 5, 5)
    assert torch.allclose(full.sum(-1), torch.ones(2, 3, 4, 5), atol=1e-5)
    assert (full.triu(1) == 0).all()  # no query looks ahead
    _, k, v, _, first = model.decode_step_attention(tgt[:, :3], k, v, ck, cv, mask)
    *_, last = model.decode_step_attention(tgt[:, 3:], k, v, ck, cv, mask)  # cache of 3
    assert torch.allclose(full[..., 3:, :], last, atol=1e-5)
    assert torch.allclose(full[..., :3, :3], first, atol=1e-5)


def test_rows_at_different_steps_share_a_step_through_positions_and_past_mask(
    model: Translator,
) -> None:
    """Three sources decoded alone for 5, 2 and 0 steps, then stepped together: each row's
    cache is right-aligned into one tensor padded with masked garbage columns, with its own
    positions. Every row's logits, cache and attention equal its solo step: padding and the
    other rows change nothing (masked columns get exactly zero weight)."""
    src, mask = _batch()
    ck, cv, _ = model.encode(src, mask)
    steps, solo = [5, 2, 0], []
    for b, n in enumerate(steps):
        k, v = model.empty_cache(1)
        tgt = torch.cat([torch.full((1, 1), BOS_ID), torch.randint(4, 40, (1, n))], 1)
        one = (ck[:, b : b + 1], cv[:, b : b + 1], mask[b : b + 1])
        if n:
            _, k, v, _ = model.decode_step(tgt[:, :n], k, v, *one)  # the row's own past
        nxt = tgt[:, n:]
        solo.append((nxt, k, v, *model.decode_step_attention(nxt, k, v, *one)))
    width = max(steps)
    big_k = torch.randn(2, 3, 4, width, 8)  # garbage where a row has no column
    big_v = torch.randn(2, 3, 4, width, 8)
    past_mask = torch.zeros(3, width, dtype=torch.long)
    for b, n in enumerate(steps):
        big_k[:, b, :, width - n :], big_v[:, b, :, width - n :] = (
            solo[b][1][:, 0],
            solo[b][2][:, 0],
        )
        past_mask[b, width - n :] = 1
    tokens = torch.cat([s[0] for s in solo])
    positions = torch.tensor([[n] for n in steps])
    logits, k, v, cross, self_w = model.decode_step_attention(
        tokens, big_k, big_v, ck, cv, mask, positions, past_mask
    )
    for b, n in enumerate(steps):
        s_logits, s_k, _, s_cross, s_self = solo[b][3:]
        assert torch.allclose(logits[b], s_logits[0], atol=1e-5)
        assert torch.allclose(k[:, b, :, width - n :], s_k[:, 0], atol=1e-6)
        assert torch.allclose(cross[:, b], s_cross[:, 0], atol=1e-5)
        assert (self_w[:, b, :, :, : width - n] == 0).all()  # garbage columns: zero weight
        assert torch.allclose(self_w[:, b, :, :, width - n :], s_self[:, 0], atol=1e-5)


def test_cross_attention_never_looks_at_source_padding(model: Translator) -> None:
    src, mask = _batch()
    ck, cv, _ = model.encode(src, mask)
    k, v = model.empty_cache(3)
    _, _, _, w = model.decode_step(torch.full((3, 1), BOS_ID), k, v, ck, cv, mask)
    assert w.shape == (2, 3, 4, 1, 7)
    assert (w[:, 2, :, :, 2:] == 0).all()
    assert torch.allclose(w.sum(-1), torch.ones(2, 3, 4, 1), atol=1e-5)


def test_training_forward_matches_decode_step(model: Translator) -> None:
    src, mask = _batch()
    tgt = torch.randint(4, 40, (3, 4))
    ck, cv, _ = model.encode(src, mask)
    k, v = model.empty_cache(3)
    assert torch.allclose(model(src, mask, tgt), model.decode_step(tgt, k, v, ck, cv, mask)[0])


def test_beam_one_is_greedy_and_both_stop(model: Translator) -> None:
    src, mask = _batch()
    g = greedy(model, src, mask, max_len=12)
    b1 = beam_search(model, src, mask, beam=1, max_len=12)
    assert [h.tokens for h in g] == [h.tokens for h in b1]
    limits = length_limits(mask.sum(1).tolist(), 12)
    assert all(len(h.tokens) <= lim for h, lim in zip(g, limits, strict=True))
    assert all(EOS_ID not in h.tokens and BOS_ID not in h.tokens for h in g)


def test_greedy_follows_the_argmax(model: Translator) -> None:
    src, mask = _batch()
    hyp = greedy(model, src[:1], mask[:1], max_len=6)[0]
    ck, cv, _ = model.encode(src[:1], mask[:1])
    k, v = model.empty_cache(1)
    tokens, out = torch.tensor([[BOS_ID]]), []
    for _ in range(len(hyp.tokens) + 1):
        logits, k, v, _ = model.decode_step(tokens, k, v, ck, cv, mask[:1])
        logits[0, -1, [PAD_ID, BOS_ID]] = float("-inf")
        nxt = int(logits[0, -1].argmax())
        if nxt == EOS_ID:
            break
        out.append(nxt)
        tokens = torch.tensor([[nxt]])
    assert hyp.tokens == out[: len(hyp.tokens)]


def test_beam_search_result_does_not_depend_on_the_batch(model: Translator) -> None:
    src, mask = _batch()
    together = beam_search(model, src, mask, beam=4, max_len=10)
    for i in range(3):
        width = int(mask[i].sum())
        alone = beam_search(
            model, src[i : i + 1, :width], mask[i : i + 1, :width], beam=4, max_len=10
        )[0]
        assert alone.tokens == together[i].tokens
        assert alone.score == pytest.approx(together[i].score, abs=1e-4)


def test_beam_size_is_validated(model: Translator) -> None:
    src, mask = _batch()
    with pytest.raises(ValueError, match="beam must be in"):
        beam_search(model, src, mask, beam=0)


class _Eager(Translator):
    """Untrained, but keen to end and to emit placeholders: the constraint has work."""

    def decode_step(self, *args: torch.Tensor) -> tuple[torch.Tensor, ...]:  # type: ignore[override]
        logits, *rest = super().decode_step(*args)
        bias = torch.zeros(logits.size(-1))
        bias[EOS_ID] = 6.0
        bias[list(SENTINEL_IDS)] = 4.0
        return (logits + bias, *rest)


def test_placeholder_constraint_emits_exactly_the_source_sentinels() -> None:
    torch.manual_seed(0)
    eager = _Eager(
        TranslatorConfig(
            vocab_size=40, d_model=32, n_heads=4, d_ff=64, enc_layers=1, dec_layers=1, dropout=0.0
        )
    ).eval()
    src = torch.randint(20, 40, (4, 6))  # ids 4..19 are the sentinels <ph0>..<ph15>
    src[0, 1], src[0, 3], src[0, 4] = 4, 4, 5  # <ph0> twice, <ph1> once
    src[1, 2] = 9
    mask = torch.ones(4, 6, dtype=torch.long)
    free = beam_search(eager, src, mask, beam=3, max_len=40, constrain_placeholders=False)
    counts = [{s: h.tokens.count(s) for s in SENTINEL_IDS} for h in free]
    wants = [{s: src[i].tolist().count(s) for s in SENTINEL_IDS} for i in range(4)]
    assert counts != wants  # unconstrained, it invents or loses placeholders
    for i, hyp in enumerate(beam_search(eager, src, mask, beam=3, max_len=40)):
        want = {s: src[i].tolist().count(s) for s in SENTINEL_IDS}
        assert {s: hyp.tokens.count(s) for s in SENTINEL_IDS} == want, (i, hyp.tokens)
