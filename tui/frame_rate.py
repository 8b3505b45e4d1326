"""How soon a changed screen is painted.

Textual paints on a timer whose grid is ``1 / TEXTUAL_FPS`` (60 by default): a change made just after a
frame waits for the next grid point, up to 16.7 ms, even when the loop is idle. A keypress is such a change
whenever a live frame was painted just before it, and that wait was part of the key latency tail (stack
samples of slow keys, ``bench/tui_latency.py --sample-slow-keys``: the loop idle in 40% of them). The app
paints on a 4 ms grid instead. It does not paint more: frames follow the app's own changes, which are paced
already (the 10 Hz tick, the chat's batched streaming).
"""

from __future__ import annotations

import os

#: Seconds between two frames at most often (Textual's default is 1/60).
FRAME_PERIOD = 1 / 240


def quicken_frames() -> float:
    """Paint on the :data:`FRAME_PERIOD` grid unless the user set ``TEXTUAL_FPS``; returns the period in force.

    Call before the first screen is shown (its update timer reads the period when it is made)."""
    import textual.screen

    if not os.environ.get("TEXTUAL_FPS") and textual.screen.UPDATE_PERIOD > FRAME_PERIOD:
        textual.screen.UPDATE_PERIOD = FRAME_PERIOD
    return textual.screen.UPDATE_PERIOD
