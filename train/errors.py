"""The one error type of the training pipeline: printed as one line, non-zero exit."""

from __future__ import annotations

from alsate.engine.errors import UserError


class TrainError(UserError):
    """Bad input or environment for training (missing model, empty dataset, bad config)."""

    exit_code = 2
