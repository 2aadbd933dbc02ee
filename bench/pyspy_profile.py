"""A profile of every thread of the daemon under load, sampled by py-spy.

Used by report.py. cProfile sees the event loop's thread only (and slows every call);
py-spy samples the stacks of all threads from outside, 100 times a second, so the
SQLite writer thread and any executor threads show with the event loop. py-spy is run
without `--idle`, but its idea of idle is a guess: a thread blocked in a queue's `get`
(`_worker (concurrent/futures/thread.py)`, aiosqlite's worker) is still sampled now and
then. So next to each thread's samples the table gives the CPU seconds /proc counted
for that thread over the same load: that, not the sample count, is what it used.

py-spy attaches to the running daemon with ptrace (`py-spy record -p PID`), which
needs CAP_SYS_PTRACE or a permissive kernel.yama.ptrace_scope. When it cannot attach,
the daemon is started under py-spy instead (`py-spy record -- python -m handover ...`);
when that fails too, the report says so.

Output: the collapsed stacks (raw), a flame graph SVG drawn from them here (one tower
per thread), and a table of each thread's top frames by own time (the innermost frame
of each sample).
"""

from __future__ import annotations

import asyncio
import html
import os
import shutil
import signal
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path

from efficiency import TICKS, children_of

RATE = 100  # samples per second


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True

#: What a thread's frames say it is (the first match names it).
THREAD_KINDS = (
    ("sqlite/writer.py", "SQLite writer"),
    ("aiosqlite", "aiosqlite"),
    ("asyncio/base_events.py", "event loop"),
    ("concurrent/futures/thread.py", "executor"),
)


def py_spy() -> str | None:
    here = Path(sys.executable).parent / "py-spy"
    return str(here) if here.exists() else shutil.which("py-spy")


def record_argv(binary: str, raw: Path) -> list[str]:
    return [binary, "record", "--threads", "--rate", str(RATE), "--format", "raw",
            "-o", str(raw)]


def parse_raw(path: Path) -> Counter[tuple[str, ...]]:
    """Collapsed stacks (`thread (tid);outer;...;inner COUNT`) -> counts."""
    stacks: Counter[tuple[str, ...]] = Counter()
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks[tuple(stack.split(";"))] += int(count)
    return stacks


def name_threads(stacks: Counter[tuple[str, ...]]) -> Counter[tuple[str, ...]]:
    """The stacks with `thread (tid): name` replaced by `name (tid)`."""
    frames: dict[str, Counter[str]] = defaultdict(Counter)
    for stack, n in stacks.items():
        for kind_frame, kind in THREAD_KINDS:
            if any(kind_frame in f for f in stack[1:]):
                frames[stack[0]][kind] += n
                break
    names: dict[str, str] = {}
    for tid in {s[0] for s in stacks}:
        number, _, name = tid.removeprefix("thread ").partition(": ")
        if not name:  # older py-spy: no thread names; say what its frames show
            name = frames[tid].most_common(1)[0][0] if frames[tid] else "other"
        names[tid] = f"{name} {number}"
    named: Counter[tuple[str, ...]] = Counter()
    for stack, n in stacks.items():
        named[(names[stack[0]], *stack[1:])] += n
    return named


def _short(frame: str) -> str:
    for marker in ("site-packages/", "/wt-bench/", "/work/", "lib/python3.11/"):
        if marker in frame:
            head, _, tail = frame.partition("(")
            return f"{head}({tail.split(marker, 1)[1]}"
    return frame


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds (user + system) of each thread of a process so far, by thread id."""
    found: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        found[task.name] = (int(fields[11]) + int(fields[12])) / TICKS
    return found


def top_table(stacks: Counter[tuple[str, ...]], cpu: dict[str, float] | None = None,
              per_thread: int = 8) -> str:
    """Per thread (busiest first): its samples, the CPU seconds /proc counted for it
    over the same load (`cpu`, by thread id), then its top frames by own time."""
    total = sum(stacks.values())
    cpu = cpu or {}
    threads: dict[str, Counter[str]] = defaultdict(Counter)
    for stack, n in stacks.items():
        threads[stack[0]][_short(stack[-1])] += n
    lines = [f"{total} samples at {RATE}/s over all threads; /proc counted "
             f"{sum(cpu.values()):.1f} CPU s for the daemon's threads over the load.", "",
             "| thread | own samples | share of samples | CPU s (/proc) | frame (innermost) |",
             "|---|---|---|---|---|"]
    for thread, leaves in sorted(threads.items(), key=lambda t: -sum(t[1].values())):
        busy = sum(leaves.values())
        tid = thread.rsplit("(", 1)[-1].rstrip(")")
        used = f"{cpu[tid]:.2f}" if tid in cpu else "?"
        lines.append(f"| **{thread}** | {busy} | {100 * busy / total:.0f}% | {used} | (all) |")
        for frame, n in leaves.most_common(per_thread):
            lines.append(f"| | {n} | {100 * n / total:.1f}% | | `{frame}` |")
    return "\n".join(lines)


def flame_svg(stacks: Counter[tuple[str, ...]], path: Path, width: int = 1200) -> None:
    """A flame graph (callers below their callees; one tower per thread) as SVG, each
    box with its frame and sample count in a tooltip."""
    tree: dict[tuple[str, ...], int] = Counter()
    for stack, n in stacks.items():
        for depth in range(1, len(stack) + 1):
            tree[stack[:depth]] += n
    total = sum(stacks.values()) or 1
    row = 16
    depth_max = max((len(k) for k in tree), default=1)
    height = (depth_max + 2) * row
    x_of: dict[tuple[str, ...], float] = {(): 0.0}
    boxes = []
    for key in sorted(tree):  # parents sort before their children
        parent = key[:-1]
        x = x_of[parent]
        w = width * tree[key] / total
        x_of[parent] = x + w
        x_of[key] = x
        if w < 0.3:
            continue
        y = height - (len(key) + 1) * row
        frame = _short(key[-1])
        label = html.escape(frame)
        hue = 10 + (sum(map(ord, key[-1])) % 40)
        shown = html.escape(frame[: int(w / 7)])  # cut before escaping: whole entities
        text = (f'<text x="{x + 2:.1f}" y="{y + 12}" font-size="11">{shown}</text>'
                if w > 30 else "")
        boxes.append(
            f'<g><title>{label} ({tree[key]} samples, {100 * tree[key] / total:.1f}%)</title>'
            f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{row - 1}" '
            f'fill="hsl({hue},80%,60%)"/>{text}</g>')
    path.write_text(
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="monospace"><rect width="100%" height="100%" fill="white"/>'
        f'<text x="4" y="14" font-size="12">daemon under the relay load: all threads, '
        f'{total} samples (hover for frames)</text>{"".join(boxes)}</svg>')


async def profile(start: Callable[[list[str]], Awaitable[int]], stop: Callable[[], None],
                  load: Callable[[], Awaitable[object]], out: Path, tmp: Path) -> str:
    """Profile a daemon while `load` runs; the report's section (markdown).

    `start(prefix)` starts the daemon with `prefix` before its argv (empty: as usual)
    and returns its pid once ready; `stop()` stops it. Writes out/profile.svg.
    """
    binary = py_spy()
    if binary is None:
        return "Not profiled: py-spy is not installed (`make bench` installs it)."
    raw = tmp / "pyspy.txt"
    note = "py-spy attached to the running daemon (`record -p PID --threads`)."
    pid = await start([])
    spy = subprocess.Popen([*record_argv(binary, raw), "-p", str(pid)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    await asyncio.sleep(1.0)
    launched = False
    if spy.poll() is not None:  # could not attach: launch the daemon under it instead
        why = (spy.stderr.read().decode(errors="replace") if spy.stderr else "").strip()
        stop()
        note = ("py-spy could not attach (" + (why.splitlines() or ["?"])[0][:120]
                + "); the daemon was started under it instead.")
        pid = await start([*record_argv(binary, raw), "--"])
        launched = True
    daemon = children_of(pid)[0] if launched and children_of(pid) else pid
    cpu_before = thread_cpu(daemon)
    cpu: dict[str, float] = {}
    try:
        await load()
        cpu_after = thread_cpu(daemon)
        cpu = {tid: used - cpu_before.get(tid, 0.0) for tid, used in cpu_after.items()}
    finally:
        if launched:
            # Under py-spy: the daemon's exit ends the recording and py-spy writes.
            for child in children_of(pid):
                os.kill(child, signal.SIGTERM)
            for _ in range(200):
                if not Path(f"/proc/{pid}").exists() or _is_zombie(pid):
                    break
                await asyncio.sleep(0.1)
        else:
            spy.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
            try:
                spy.wait(30)
            except subprocess.TimeoutExpired:
                spy.kill()
        stop()
    await asyncio.sleep(1.0)
    if not raw.exists() or not raw.read_text(errors="replace").strip():
        return f"Not profiled: py-spy wrote no samples. {note}"
    stacks = name_threads(parse_raw(raw))
    flame_svg(stacks, out / "profile.svg")
    shutil.copy(raw, out / "profile.txt")
    return f"{note}\n\n![flame graph](profile.svg)\n\n{top_table(stacks, cpu)}"
