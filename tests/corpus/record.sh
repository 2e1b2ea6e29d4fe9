#!/usr/bin/env bash
# Records the ground truth of the conformance corpus with real ansible-core.
#
# For every case directory NN-name/ next to this script it makes a fresh
# sandbox (the case's seed/ copied in), then runs ansible-playbook three times
# against that same sandbox: (a) --check, (b) apply, (c) apply again. After each
# run it records the exit code, the per-host recap and a walk of the sandbox,
# and writes NN-name/expected.json.
#
# Usage:
#   tests/corpus/record.sh                 # record every case
#   tests/corpus/record.sh 03-foo 07-bar   # record only these cases
#   tests/corpus/record.sh --verify        # re-run and compare with expected.json (writes nothing)
#   tests/corpus/record.sh --logs DIR      # also keep raw stdout/stderr of every run in DIR
#
# Environment:
#   CORPUS_VENV           virtualenv to use/create (default /tmp/corpus-venv)
#   CORPUS_ANSIBLE_SPEC   pip requirement for ansible-core (default ansible-core==2.17.*)
#   CORPUS_JOBS           cases recorded in parallel (default 2)
#
# The playbooks only write below the sandbox directory passed as -e sandbox=DIR.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VENV=${CORPUS_VENV:-/tmp/corpus-venv}
SPEC=${CORPUS_ANSIBLE_SPEC:-ansible-core==2.17.*}
JOBS=${CORPUS_JOBS:-2}

if [ ! -x "$VENV/bin/ansible-playbook" ]; then
    echo "record.sh: creating $VENV with $SPEC" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --upgrade pip >/dev/null 2>&1 || true
    if ! "$VENV/bin/pip" install --quiet "$SPEC"; then
        echo "record.sh: $SPEC did not install, trying the newest 2.17/2.18" >&2
        "$VENV/bin/pip" install --quiet 'ansible-core>=2.17,<2.19'
    fi
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/corpus-record.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/callback_plugins"

# ---------------------------------------------------------------------------
# A stdout callback that prints one JSON object per line: one per task result
# (host, task, status) and, at the end, the recap of every host.
cat > "$WORK/callback_plugins/corpus_events.py" <<'PY'
from __future__ import annotations

DOCUMENTATION = '''
    name: corpus_events
    type: stdout
    short_description: JSON lines of task results and the final recap
    description: Used by tests/corpus/record.sh only.
'''

import json
import sys

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'stdout'
    CALLBACK_NAME = 'corpus_events'

    def _emit(self, **kw):
        sys.stdout.write(json.dumps(kw, sort_keys=True, default=str) + "\n")
        sys.stdout.flush()

    def _result(self, result, status, item=False):
        r = result._result
        if status == 'ok' and r.get('changed'):
            status = 'changed'
        ev = dict(event='item' if item else 'result', host=result._host.get_name(),
                  task=result._task.get_name(), status=status)
        if status in ('failed', 'ignored', 'unreachable'):
            ev['msg'] = str(r.get('msg', ''))[:300]
        self._emit(**ev)

    def v2_playbook_on_play_start(self, play):
        self._emit(event='play', name=play.get_name())

    def v2_runner_on_ok(self, result):
        self._result(result, 'ok')

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result(result, 'ignored' if ignore_errors else 'failed')

    def v2_runner_on_skipped(self, result):
        self._result(result, 'skipped')

    def v2_runner_on_unreachable(self, result):
        self._result(result, 'unreachable')

    def v2_runner_item_on_ok(self, result):
        self._result(result, 'ok', item=True)

    def v2_runner_item_on_failed(self, result):
        self._result(result, 'failed', item=True)

    def v2_runner_item_on_skipped(self, result):
        self._result(result, 'skipped', item=True)

    def v2_playbook_on_include(self, included_file):
        for h in included_file._hosts:
            self._emit(event='include', host=h.get_name(), task=included_file._task.get_name())

    def v2_playbook_on_stats(self, stats):
        hosts = {}
        for h in sorted(stats.processed.keys()):
            s = stats.summarize(h)
            hosts[h] = dict(ok=s['ok'], changed=s['changed'], unreachable=s['unreachable'],
                            failed=s['failures'], skipped=s['skipped'], rescued=s['rescued'],
                            ignored=s['ignored'])
        self._emit(event='recap', hosts=hosts)
PY

# ---------------------------------------------------------------------------
cat > "$WORK/record.py" <<'PY'
import argparse
import concurrent.futures
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile

STEPS = ("check", "apply", "reapply")
INVENTORY_NAMES = ("inventory.yml", "inventory.yaml", "inventory.ini", "inventory")
# Set for every run (the Rust test sets the same): used by the env lookup case.
FIXED_ENV = {"CORPUS_GREETING": "hello from the environment"}


def tree(root):
    """Deterministic walk: relative '/'-separated path -> entry, sorted."""
    out = {}

    def walk(d, rel):
        for name in sorted(os.listdir(d)):
            p = os.path.join(d, name)
            r = rel + name
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                target = os.readlink(p)
                if target == root or target.startswith(root + "/"):
                    target = "${sandbox}" + target[len(root):]
                out[r] = {"type": "link", "target": target}
            elif stat.S_ISDIR(st.st_mode):
                out[r] = {"type": "dir", "mode": "%04o" % stat.S_IMODE(st.st_mode)}
                walk(p, r + "/")
            elif stat.S_ISREG(st.st_mode):
                h = hashlib.sha1()
                with open(p, "rb") as f:
                    h.update(f.read())
                out[r] = {"type": "file", "mode": "%04o" % stat.S_IMODE(st.st_mode),
                          "sha1": h.hexdigest()}
            else:
                out[r] = {"type": "other"}

    walk(root, "")
    return dict(sorted(out.items()))


def copy_seed(src, dst):
    """Copy seed/ into the sandbox: dirs 0755, files 0755 if user-executable else 0644."""
    for name in sorted(os.listdir(src)):
        s, d = os.path.join(src, name), os.path.join(dst, name)
        st = os.lstat(s)
        if stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(s), d)
        elif stat.S_ISDIR(st.st_mode):
            os.mkdir(d)
            os.chmod(d, 0o755)
            copy_seed(s, d)
        else:
            shutil.copyfile(s, d)
            os.chmod(d, 0o755 if st.st_mode & stat.S_IXUSR else 0o644)


def find_inventory(case_dir):
    for n in INVENTORY_NAMES:
        if os.path.isfile(os.path.join(case_dir, n)):
            return n
    raise SystemExit(f"{case_dir}: no inventory file ({', '.join(INVENTORY_NAMES)})")


def listing(d):
    res = []
    for base, dirs, files in os.walk(d):
        for n in dirs + files:
            res.append(os.path.relpath(os.path.join(base, n), d))
    return sorted(res)


def run_case(case_dir, args, version):
    name = os.path.basename(case_dir)
    tmp = tempfile.mkdtemp(prefix=f"corpus-{name}-")
    try:
        work = os.path.join(tmp, "case")
        shutil.copytree(case_dir, work, ignore=shutil.ignore_patterns("expected.json"))
        before = listing(work)
        sandbox = os.path.join(tmp, "sandbox")
        os.mkdir(sandbox)
        if os.path.isdir(os.path.join(case_dir, "seed")):
            copy_seed(os.path.join(case_dir, "seed"), sandbox)
        seed_tree = tree(sandbox)
        inv = find_inventory(case_dir)
        env = dict(os.environ)
        env.update(FIXED_ENV)
        env.update({
            "ANSIBLE_STDOUT_CALLBACK": "corpus_events",
            "ANSIBLE_CALLBACK_PLUGINS": args.callbacks,
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "ANSIBLE_LOCALHOST_WARNING": "0",
            "ANSIBLE_DEPRECATION_WARNINGS": "0",
            "ANSIBLE_LOCAL_TEMP": os.path.join(tmp, "ansible-local"),
            "ANSIBLE_REMOTE_TEMP": os.path.join(tmp, "ansible-remote"),
            "ANSIBLE_CONFIG": os.path.join(tmp, "no-ansible.cfg"),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "PYTHONHASHSEED": "0",
        })
        python = os.path.join(args.venv, "bin", "python")
        result = {"recorded_with": version}
        problems = []
        for step in STEPS:
            cmd = [os.path.join(args.venv, "bin", "ansible-playbook"), "-i", inv, "site.yml",
                   "-e", f"sandbox={sandbox}", "-e", f"ansible_python_interpreter={python}"]
            if step == "check":
                cmd.append("--check")
            p = subprocess.run(cmd, cwd=work, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600)
            if args.logs:
                os.makedirs(args.logs, exist_ok=True)
                with open(os.path.join(args.logs, f"{name}.{step}.out"), "w") as f:
                    f.write(p.stdout)
                with open(os.path.join(args.logs, f"{name}.{step}.err"), "w") as f:
                    f.write(p.stderr)
            recap, trace = None, {}
            for line in p.stdout.splitlines():
                line = line.strip()
                if not line.startswith("{"):
                    continue
                try:
                    ev = json.loads(line)
                except ValueError:
                    continue
                if ev.get("event") == "recap":
                    keys = ("ok", "changed", "unreachable", "failed", "skipped", "rescued", "ignored")
                    recap = {h: {k: c[k] for k in keys} for h, c in sorted(ev["hosts"].items())}
                elif ev.get("event") in ("result", "item", "include"):
                    kind = ev["event"]
                    status = "included" if kind == "include" else ev["status"]
                    label = ("item " if kind == "item" else "") + status
                    task = ev["task"].replace(sandbox, "${sandbox}")
                    trace.setdefault(ev["host"], []).append(f"{label}: {task}")
            if recap is None:
                problems.append(f"{step}: no recap (exit {p.returncode})\n{p.stderr[-1500:]}")
                recap = {}
            if p.returncode not in (0, 2):
                problems.append(f"{step}: unexpected exit code {p.returncode}\n{p.stderr[-1500:]}")
            t = tree(sandbox)
            result[step] = {"exit_code": p.returncode, "recap": recap, "tree": t,
                            "trace": dict(sorted(trace.items()))}
            if step == "check" and t != seed_tree:
                problems.append("check: the sandbox changed in check mode")
        if listing(work) != before:
            problems.append("the run wrote into the case directory: " +
                            ", ".join(sorted(set(listing(work)) - set(before))))
        return name, result, problems
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def diff(a, b, path=""):
    out = []
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a:
                out.append(f"{path}/{k}: new {json.dumps(b[k])[:200]}")
            elif k not in b:
                out.append(f"{path}/{k}: gone (was {json.dumps(a[k])[:200]})")
            else:
                out += diff(a[k], b[k], f"{path}/{k}")
    elif a != b:
        out.append(f"{path}: {json.dumps(a)[:200]} -> {json.dumps(b)[:200]}")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--callbacks", required=True)
    ap.add_argument("--venv", required=True)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--verify", action="store_true")
    ap.add_argument("--logs")
    ap.add_argument("cases", nargs="*")
    args = ap.parse_args()
    os.umask(0o022)

    v = subprocess.run([os.path.join(args.venv, "bin", "python"), "-c",
                        "from ansible.release import __version__; print(__version__)"],
                       capture_output=True, text=True, check=True).stdout.strip()
    version = f"ansible-core {v}"
    print(f"recording with {version}", file=sys.stderr)

    all_cases = sorted(d for d in os.listdir(args.corpus)
                       if re.match(r"^\d\d-", d) and os.path.isfile(os.path.join(args.corpus, d, "site.yml")))
    cases = all_cases
    if args.cases:
        wanted = [c.rstrip("/").split("/")[-1] for c in args.cases]
        unknown = [c for c in wanted if c not in all_cases]
        if unknown:
            raise SystemExit(f"unknown case(s): {', '.join(unknown)}")
        cases = wanted

    failed = False
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as ex:
        futs = [ex.submit(run_case, os.path.join(args.corpus, c), args, version) for c in cases]
        for fut in futs:
            name, result, problems = fut.result()
            summary = " ".join(f"{s}={result[s]['exit_code']}" for s in STEPS)
            if problems:
                failed = True
                print(f"FAIL {name}: " + "\n  ".join(problems), file=sys.stderr)
                continue
            path = os.path.join(args.corpus, name, "expected.json")
            try:
                with open(path) as f:
                    old = json.load(f)
            except FileNotFoundError:
                old = {}
            # documented deviations are written by hand and survive a re-recording
            if "deviations" in old:
                result["deviations"] = old["deviations"]
            text = json.dumps(result, indent=2) + "\n"
            if args.verify:
                d = diff(old, result)
                if d:
                    failed = True
                    print(f"DIFF {name}:\n  " + "\n  ".join(d), file=sys.stderr)
                else:
                    print(f"same {name} ({summary})", file=sys.stderr)
            else:
                with open(path, "w") as f:
                    f.write(text)
                print(f"ok   {name} ({summary})", file=sys.stderr)
    sys.exit(1 if failed else 0)


main()
PY

rc=0
"$VENV/bin/python" "$WORK/record.py" --corpus "$HERE" --callbacks "$WORK/callback_plugins" \
    --venv "$VENV" --jobs "$JOBS" "$@" || rc=$?
exit $rc
