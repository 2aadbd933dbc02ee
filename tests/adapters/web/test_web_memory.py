"""What an idle widget socket costs the web channel's own code (bench/web.py measures
the whole daemon's RSS per socket; 50,000 held sockets must fit in 1 GiB)."""

from __future__ import annotations

import asyncio
import tracemalloc
from pathlib import Path

from tests.adapters.web.conftest import MakeRig, section

WEB_CHANNEL = str(Path(__file__).resolve().parents[3] / "adapters" / "web")
SOCKETS = 60
#: Bytes per idle socket allocated at lines of adapters/web: the handler's coroutine
#: frames, the socket's record in the registry, the WebSocketResponse it creates. It was
#: about 1,650 with a set per conversation, a __dict__ per socket and one more coroutine
#: frame between the idle loop and aiohttp's receive.
BUDGET = 1400


async def test_an_idle_socket_costs_the_web_channel_little_memory(make_rig: MakeRig) -> None:
    rig = await make_rig(section(sockets_per_address=1000, connections_per_minute=100_000,
                                 frames_per_minute=100_000))
    warm = [await rig.opened() for _ in range(5)]  # one-time allocations out of the count
    await asyncio.sleep(0.1)
    tracemalloc.start(1)
    try:
        before = tracemalloc.take_snapshot()
        widgets = [await rig.opened() for _ in range(SOCKETS)]
        await asyncio.sleep(0.1)
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    only_ours = [tracemalloc.Filter(True, f"{WEB_CHANNEL}/*")]
    grown = after.filter_traces(only_ours).compare_to(before.filter_traces(only_ours), "lineno")
    per_socket = sum(stat.size_diff for stat in grown) / SOCKETS
    assert per_socket < BUDGET, "\n".join(str(stat) for stat in grown[:10])
    assert rig.channel.registry.count() == SOCKETS + len(warm)
    for widget, _welcome in [*warm, *widgets]:
        await widget.ws.close()
