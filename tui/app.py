"""alsate-tui entry point.

The Textual app is built in its own issue (the terminal app); until it lands
this entry point says so plainly instead of pretending.
"""

from __future__ import annotations

import sys


def main() -> int:
    print("alsate-tui: the terminal app is not built yet; meanwhile `alsate scan` reads, filters and follows "
          "the same sources (alsate scan --help)", file=sys.stderr)
    return 3


if __name__ == "__main__":
    sys.exit(main())
