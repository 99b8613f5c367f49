"""One handler per task; ``base.Handler`` is the contract they keep."""

from service.engine.handlers.base import Handler, InputError
from service.engine.handlers.classifier import ClassifierHandler, ClassifyItem, ClassifyOutput
from service.engine.handlers.translator import TranslateItem, TranslatorHandler

__all__ = [
    "ClassifierHandler",
    "ClassifyItem",
    "ClassifyOutput",
    "Handler",
    "InputError",
    "TranslateItem",
    "TranslatorHandler",
]
