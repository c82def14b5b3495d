"""Summarise py-spy raw (collapsed) profiles: inclusive share of interesting frames.

python bench/pyspy_summary.py var/bench/pyspy_*.txt
"""

import re
import sys
from collections import Counter

inclusive: Counter = Counter()
leaf: Counter = Counter()
total = 0
for path in sys.argv[1:]:
    for line in open(path):
        stack, _sep, count = line.rstrip().rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        if not any("WSGIHandler.__call__" in f for f in frames):
            continue  # idle threads
        total += n
        seen = set()
        for frame in frames:
            name = re.sub(r":\d+\)$", ")", frame)
            if name not in seen:
                seen.add(name)
                inclusive[name] += n
        leaf[re.sub(r":\d+\)$", ")", frames[-1])] += n

print(f"{total} samples inside requests")
print("\n-- inclusive (jifen code, and the big framework pieces)")
patterns = ("jifen/", "ninja/operation", "psycopg", "compiler.py", "tokens.py", "middleware")
for name, n in inclusive.most_common(400):
    if any(p in name for p in patterns) and n / total > 0.02:
        print(f"{100 * n / total:5.1f}%  {name}")
print("\n-- self (leaf frames)")
for name, n in leaf.most_common(20):
    print(f"{100 * n / total:5.1f}%  {name}")
