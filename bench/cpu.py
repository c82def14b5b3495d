"""CPU seconds (user + system) used so far by processes, for per-request accounting.

python bench/cpu.py PID...           prints the total for these processes
python bench/cpu.py --tree PID       the process and all its descendants
"""

import os
import sys

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (FileNotFoundError, ProcessLookupError):
                continue
            if parent == pid:
                found.append(int(entry))
    return found


def tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        todo.extend(children(current))
    return pids


if __name__ == "__main__":
    args = sys.argv[1:]
    pids = tree(int(args[1])) if args[:1] == ["--tree"] else [int(a) for a in args]
    print(f"{sum(cpu_seconds(pid) for pid in pids):.3f}")
