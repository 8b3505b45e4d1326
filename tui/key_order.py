"""Typed-ahead keys go where the keys before them sent the focus.

Textual hands a key to the focused widget's queue and checks the app's ordinary bindings only when
the key comes back up to the app. Keys read together (a fast typist, a busy app, ``tmux send-keys``)
are all handed to the widget focused at the first one: ``f`` then Enter opened the log line, not the
finding, and ``c`` then a question's first letters ran the log pane's bindings (``x`` cleared the
filters). :class:`KeyOrder` lets one key through at a time: a marker message follows each key through
the same queues, and the next key is handed on once the marker is back at the app.
"""

from __future__ import annotations

import time
from collections import deque

from textual import events
from textual.message import Message

#: Seconds a marker may be away before the next key goes anyway (a widget removed with it in its queue;
#: checked on the app's tick).
MARKER_TIMEOUT = 1.0


class KeyDone(Message):
    """Follows a key through the queues it went through (bubbles to the app like the key)."""

    def __init__(self, number: int) -> None:
        super().__init__()
        self.number = number


class KeyOrder:
    """Mixin for an ``App``: its ``on_event`` passes unforwarded keys and pastes to :meth:`ordered_key`,
    :meth:`hand_on_key` hands one on the way Textual does (``App.on_event``), and a periodic timer calls
    :meth:`release_lost_key` when :meth:`key_lost`."""

    def _key_order_init(self) -> None:
        self._keys_waiting: deque[events.Key | events.Paste] = deque()
        self._key_number = 0
        self._key_away: int | None = None  # the number of the marker not yet back
        self._key_sent_at = 0.0

    async def hand_on_key(self, event: events.Key | events.Paste) -> None:
        raise NotImplementedError

    async def ordered_key(self, event: events.Key | events.Paste) -> None:
        """Hand ``event`` on now, or after the keys before it if one of them is still on its way."""
        if self._key_away is not None:
            self._keys_waiting.append(event)
            return
        await self._send_key(event)

    async def _send_key(self, event: events.Key | events.Paste) -> None:
        await self.hand_on_key(event)
        self._key_number += 1
        self._key_away = self._key_number
        self._key_sent_at = time.monotonic()
        (self.focused or self.screen).post_message(KeyDone(self._key_number))

    async def _key_back(self, number: int) -> None:
        if self._key_away != number:
            return
        self._key_away = None
        if self._keys_waiting:
            await self._send_key(self._keys_waiting.popleft())

    async def on_key_done(self, message: KeyDone) -> None:
        message.stop()
        await self._key_back(message.number)

    def key_lost(self, now: float) -> bool:
        """Whether a marker has been away :data:`MARKER_TIMEOUT` (its widget was removed with the marker
        in its queue): then :meth:`release_lost_key` lets the next key go."""
        return self._key_away is not None and now - self._key_sent_at > MARKER_TIMEOUT

    async def release_lost_key(self) -> None:
        if self.key_lost(time.monotonic()):
            await self._key_back(self._key_away)
