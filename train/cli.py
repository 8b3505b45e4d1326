"""alsate-train entry point.

The training pipeline is built in its own issue; the curated dataset it will
train on is already in ``assets/dataset``.
"""

from __future__ import annotations

import sys


def main() -> int:
    print("alsate-train: the training pipeline is not built yet; the dataset is in assets/dataset",
          file=sys.stderr)
    return 3


if __name__ == "__main__":
    sys.exit(main())
