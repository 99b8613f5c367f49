"""The front door: what a connection may cost before the app sees a request
(``protocol.py``), its limits (``limits.py``) and what it answers itself (``answers.py``)."""

from service.door.answers import refusal, shortcuts
from service.door.limits import DoorLimits, limits_for, raise_open_files
from service.door.protocol import DoorProtocol, door

__all__ = [
    "DoorLimits",
    "DoorProtocol",
    "door",
    "limits_for",
    "raise_open_files",
    "refusal",
    "shortcuts",
]
