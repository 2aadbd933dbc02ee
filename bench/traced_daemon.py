"""The daemon with tracemalloc on: `python bench/traced_daemon.py run cfg.toml`.

For web.py's attribution of memory per idle socket. Each SIGUSR1 writes a snapshot to
$HANDOVER_TRACE_DIR/snapshot-N.pickle (N = 1, 2, ...), taken on the signal, so the
caller can compare what a set of held sockets added, line by line. Tracing costs memory
and time of its own: the RSS figures come from an untraced daemon.
"""

from __future__ import annotations

import os
import signal
import sys
import tracemalloc
from itertools import count
from pathlib import Path
from types import FrameType

FRAMES = 12


def main() -> int:
    tracemalloc.start(FRAMES)
    out = Path(os.environ.get("HANDOVER_TRACE_DIR", "."))
    numbers = count(1)

    def dump(_sig: int, _frame: FrameType | None) -> None:
        path = out / f"snapshot-{next(numbers)}.pickle"
        tracemalloc.take_snapshot().dump(str(path.with_suffix(".tmp")))
        path.with_suffix(".tmp").rename(path)

    signal.signal(signal.SIGUSR1, dump)
    from handover.cli.main import main as handover

    code: int = handover(sys.argv[1:])
    return code


if __name__ == "__main__":
    sys.exit(main())
