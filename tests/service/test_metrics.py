"""The service's metrics, read back through Prometheus' own text format: a slot's series
appear when it serves and go when it is replaced; the batcher's observer counts batches."""

from __future__ import annotations

from prometheus_client import generate_latest

from service.engine.slot import Slot
from service.metrics import Metrics


def _text(m: Metrics) -> str:
    return generate_latest(m.registry).decode()


def test_a_slot_is_published_while_it_serves_and_unpublished_when_replaced() -> None:
    m = Metrics()
    slot = Slot("en-fr", state="ready", version=2, device="cpu", provider="CPU", precision="int8")
    m.publish(slot)
    text = _text(m)
    assert 'attnserve_model_ready{model="en-fr",version="2"} 1.0' in text
    assert 'precision="int8"' in text and 'provider="CPU"' in text
    m.unpublish(slot)
    m.unpublish(slot)  # twice: nothing left to remove is not an error
    assert 'model="en-fr"' not in _text(m)


def test_a_failed_slot_is_published_as_not_ready_without_its_info() -> None:
    m = Metrics()
    m.publish(Slot("sentiment", state="failed", version=1))
    text = _text(m)
    assert 'attnserve_model_ready{model="sentiment",version="1"} 0.0' in text
    assert "attnserve_model_info{" not in text


def test_the_observer_counts_batches_failures_and_drops_per_model() -> None:
    m = Metrics()
    o = m.observer("sentiment")
    o.batch(size=3, tokens=12, padded=15, seconds=0.004, ok=True)
    o.batch(size=2, tokens=4, padded=4, seconds=0.001, ok=False)
    o.dropped("queue_full", 5)
    text = _text(m)
    assert 'attnserve_batch_failures_total{model="sentiment"} 1.0' in text
    assert 'attnserve_batch_size_sum{model="sentiment"} 5.0' in text  # both batches
    assert 'attnserve_batch_padded_tokens_sum{model="sentiment"} 19.0' in text
    assert 'attnserve_rejections_total{model="sentiment",reason="queue_full"} 5.0' in text
