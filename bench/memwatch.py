#!/usr/bin/env python3
"""memwatch.py OUT MARKER -- CMD [ARGS...]

Runs CMD and samples the memory of the controller while it runs: CMD itself, all of its
descendants, and every process whose command line contains MARKER (the ssh control masters,
which detach from CMD). `{pid}` in MARKER is replaced by CMD's pid. Writes one line to OUT:

    main_hwm_kb=N  total_rss_kb=N  total_pss_kb=N  procs=N  samples=N

main_hwm_kb is CMD's own peak resident set (VmHWM; exact, from wait4's ru_maxrss). total_rss_kb and total_pss_kb
are the largest sums seen in one sample over all the processes above; PSS shares pages
mapped by several processes (forks, ssh binaries) out fairly, so it is the better total.
procs is the largest number of processes seen at once. Exits with CMD's exit status.
"""

import os
import subprocess
import sys
import time

INTERVAL = 0.02


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def status_kb(pid, field):
    for line in read(f"/proc/{pid}/status").splitlines():
        if line.startswith(field.encode() + b":"):
            return int(line.split()[1])
    return 0


def rollup_kb(pid):
    rss = pss = 0
    for line in read(f"/proc/{pid}/smaps_rollup").splitlines():
        if line.startswith(b"Rss:"):
            rss = int(line.split()[1])
        elif line.startswith(b"Pss:"):
            pss = int(line.split()[1])
    return rss, pss


def processes():
    """pid -> (ppid, cmdline) for every process we can see."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        stat = read(f"/proc/{name}/stat")
        end = stat.rfind(b")")
        if end < 0:
            continue
        fields = stat[end + 2:].split()
        if len(fields) < 2:
            continue
        out[int(name)] = (int(fields[1]), read(f"/proc/{name}/cmdline").replace(b"\0", b" "))
    return out


def controller(root, marker, procs):
    children = {}
    for pid, (ppid, _) in procs.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid in found:
            continue
        found.add(pid)
        todo.extend(children.get(pid, []))
    for pid, (_, cmd) in procs.items():
        if marker and marker in cmd:
            found.add(pid)
    return found


def main():
    if len(sys.argv) < 5 or sys.argv[3] != "--":
        sys.exit(__doc__.strip().splitlines()[0])
    out, marker_tmpl, cmd = sys.argv[1], sys.argv[2], sys.argv[4:]
    child = subprocess.Popen(cmd)
    marker = marker_tmpl.replace("{pid}", str(child.pid)).encode()
    hwm = max_rss = max_pss = max_procs = samples = 0
    while True:
        done, status, usage = os.wait4(child.pid, os.WNOHANG)
        if done:
            rc = os.waitstatus_to_exitcode(status)
            hwm = max(hwm, usage.ru_maxrss)
            child.returncode = rc
            break
        pids = controller(child.pid, marker, processes())
        rss_sum = pss_sum = 0
        for pid in pids:
            rss, pss = rollup_kb(pid)
            rss_sum += rss
            pss_sum += pss
        hwm = max(hwm, status_kb(child.pid, "VmHWM"))
        max_rss, max_pss = max(max_rss, rss_sum), max(max_pss, pss_sum)
        max_procs = max(max_procs, len(pids))
        samples += 1
        time.sleep(INTERVAL)
    with open(out, "w") as f:
        f.write(f"main_hwm_kb={hwm} total_rss_kb={max_rss} total_pss_kb={max_pss} "
                f"procs={max_procs} samples={samples}\n")
    sys.exit(rc if rc >= 0 else 128 - rc)


if __name__ == "__main__":
    main()
