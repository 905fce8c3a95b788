#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""KCIDB JSON from make check's KTAP, and its validation.

  ci/kcidb.py --ktap FILE --out FILE [--commit SHA] [--repo URL]
              [--kernel NAME] [--compiler STR] [--start ISO8601]
              [--build-duration S] [--build-status PASS|FAIL]
      write KCIDB (schema 5.x) JSON for one make check: a checkout (the
      mmtorture commit), a build (mmtorture.ko against the test kernel), one
      test per KTAP line at the top level (host checks: mmtorture.host.NAME;
      guest selftests: mmtorture.NAME; durations from the "# time:" line and
      run_guest.sh's "done in S s" lines) and one per scenario run found in a
      selftest's output (mmtorture.NAME.SCENARIO_K), each with status,
      duration, a log excerpt and, for a scenario run, its reproducer line
      (`# reproduce: run ...`, also in misc.reproducer). Standard library only.

  ci/kcidb.py --validate FILE
      validate FILE against the latest KCIDB I/O schema (kcidb-io, installed
      in the project venv by ci/deps.sh: run this with the venv's python3);
      exit 0 if valid, 1 with the first error otherwise.

A scenario run that ends "not ok" inside a selftest that passed was an
expected failure (busted's broken state, coverage's starved run): it is
DONE, not FAIL, with misc.expected_failure, so a dashboard does not count
it; in a failed selftest it is FAIL.
"""
import argparse
import datetime
import json
import re
import sys

ORIGIN = "mmtorture"
EXCERPT_MAX = 16384

TOP = re.compile(r"^(not )?ok (\d+) (\S+)(.*)$")
DONE = re.compile(r"^# \[\d+/\d+\] (\S+): done in (\d+) s")
HOST_TIME = re.compile(r"^# time: (.*)$")
ACCEL = re.compile(r"^# accel: (.*)$")
RUN = re.compile(r"^    # run (\S+)(.*)$")
RUN_RESULT = re.compile(r"^    # (not )?ok 1 (\S+)(.*)$")
ELAPSED = re.compile(r"elapsed_ms=(\d+)")
REPRO = re.compile(r"# (reproduce: run .*)$", re.M)


def excerpt(lines):
    text = "\n".join(lines)
    if len(text) > EXCERPT_MAX:
        text = "...\n" + text[-(EXCERPT_MAX - 4):]
    return text


def status_of(notok, rest):
    if "# SKIP" in rest:
        return "SKIP"
    return "FAIL" if notok else "PASS"


def parse(ktap):
    """Top-level results in order: dicts with name, status, lines, runs."""
    results, pending, runs, run = [], [], [], None
    durations, host_times, accel = {}, {}, None
    in_guest = False
    for raw in ktap:
        line = raw.rstrip("\n")
        m = ACCEL.match(line)
        if m:
            accel = m.group(1)
        m = DONE.match(line)
        if m:
            durations[m.group(1)] = int(m.group(2))
        m = HOST_TIME.match(line)
        if m:
            for kv in m.group(1).split():
                k, _, v = kv.partition("=")
                host_times[k] = int(v.rstrip("s") or 0)
        if line.startswith("    # Subtest: "):
            in_guest = True
        if line.startswith("    "):
            pending.append(line[4:])
            m = RUN.match(line)
            if m:
                run = {"scenario": m.group(1), "args": m.group(2).strip(),
                       "lines": [line[4:]], "status": None}
                runs.append(run)
                continue
            if run is not None:
                run["lines"].append(line[4:])
                m = RUN_RESULT.match(line)
                if m:
                    run["status"] = status_of(m.group(1), m.group(3))
                    run["comment"] = line[6:]
                    run = None
            continue
        m = TOP.match(line)
        if m:
            name = m.group(3)
            results.append({
                "name": name, "status": status_of(m.group(1), m.group(4)),
                "guest": in_guest and name.startswith("mmtorture_"),
                "lines": pending + [line], "runs": runs,
            })
            pending, runs, run = [], [], None
        elif line.startswith("# "):
            pending.append(line)
    for r in results:
        r["duration"] = (durations.get(r["name"]) if r["guest"]
                         else host_times.get(r["name"]))
    return results, accel, host_times


def build_kcidb(args):
    with open(args.ktap, encoding="utf-8", errors="replace") as f:
        results, accel, host_times = parse(f)
    start = args.start or datetime.datetime.now(
        datetime.timezone.utc).isoformat(timespec="seconds")
    stamp = re.sub(r"[^0-9]", "", start)[:14]
    commit = args.commit or "0" * 40
    checkout_id = f"{ORIGIN}:{commit[:12]}-{stamp}"
    build_id = f"{ORIGIN}:{commit[:12]}-{stamp}-ko"
    env = {"comment": f"virtme-ng QEMU guest ({accel or 'accel unknown'}), "
                      "4 vCPUs, 2 NUMA nodes, 2 GiB",
           "misc": {"accel": accel or "unknown"}}
    checkout = {"id": checkout_id, "origin": ORIGIN, "tree_name": "mmtorture",
                "git_commit_hash": commit, "start_time": start, "valid": True,
                "misc": {"kernel": args.kernel or "unknown"}}
    if args.repo:
        # KCIDB takes only an https:// repository URL; a clone of a local
        # path (CI's fresh clone of the submitted tree) or an ssh remote
        # goes into misc instead of failing validation.
        if args.repo.startswith("https://"):
            checkout["git_repository_url"] = args.repo
        else:
            checkout["misc"]["repository"] = args.repo
    build = {"id": build_id, "checkout_id": checkout_id, "origin": ORIGIN,
             "architecture": "x86_64", "config_name": "mmtorture qemu/*.config",
             "start_time": start, "status": args.build_status,
             "misc": {"kernel": args.kernel or "unknown"}}
    if args.compiler:
        build["compiler"] = args.compiler
    if args.build_duration is None:
        args.build_duration = host_times.get("module")
    if args.build_duration is not None:
        build["duration"] = args.build_duration
    tests = []
    for r in results:
        name = r["name"]
        path = (f"mmtorture.{name.removeprefix('mmtorture_')}" if r["guest"]
                else f"mmtorture.host.{name}")
        path = re.sub(r"[^a-zA-Z0-9_.-]", "_", path)
        t = {"id": f"{build_id}:{path}", "build_id": build_id, "origin": ORIGIN,
             "path": path, "status": r["status"], "start_time": start,
             "log_excerpt": excerpt(r["lines"])}
        if r["duration"] is not None:
            t["duration"] = r["duration"]
        if r["guest"]:
            t["environment"] = env
        tests.append(t)
        counts = {}
        for run in r["runs"]:
            counts[run["scenario"]] = counts.get(run["scenario"], 0) + 1
            rpath = re.sub(r"[^a-zA-Z0-9_-]", "_",
                           f"{run['scenario']}_{counts[run['scenario']]}")
            status = run["status"] or "MISS"
            misc = {"args": run["args"]}
            if status == "FAIL" and r["status"] != "FAIL":
                status = "DONE"
                misc["expected_failure"] = True
            rt = {"id": f"{build_id}:{path}.{rpath}", "build_id": build_id,
                  "origin": ORIGIN, "path": f"{path}.{rpath}", "status": status,
                  "start_time": start, "environment": env,
                  "log_excerpt": excerpt(run["lines"]), "misc": misc}
            text = "\n".join(run["lines"])
            m = ELAPSED.search(text)
            if m:
                rt["duration"] = int(m.group(1)) / 1000
            m = REPRO.search(text)
            if m:
                misc["reproducer"] = m.group(1)[len("reproduce: "):]
                rt["comment"] = f"{run.get('comment', '')}; {m.group(1)}".lstrip("; ")
            elif run.get("comment"):
                rt["comment"] = run["comment"]
            tests.append(rt)
    return {"version": {"major": 5, "minor": 3}, "checkouts": [checkout],
            "builds": [build], "tests": tests}


def validate(path):
    import kcidb_io  # the venv's (ci/deps.sh)
    with open(path, encoding="utf-8") as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError as e:
            print(f"{path}: not JSON: {e}")
            return 1
    try:
        kcidb_io.schema.LATEST.validate(data)
    except Exception as e:  # jsonschema.ValidationError and friends
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        print(f"{path}: INVALID KCIDB ({kcidb_io.schema.LATEST}): {msg}")
        return 1
    n = {k: len(data.get(k, [])) for k in ("checkouts", "builds", "tests")}
    print(f"{path}: valid KCIDB {kcidb_io.schema.LATEST}: "
          f"{n['checkouts']} checkout, {n['builds']} build, {n['tests']} tests")
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--validate", metavar="FILE")
    p.add_argument("--ktap")
    p.add_argument("--out")
    p.add_argument("--commit")
    p.add_argument("--repo")
    p.add_argument("--kernel")
    p.add_argument("--compiler")
    p.add_argument("--start")
    p.add_argument("--build-duration", type=float)
    p.add_argument("--build-status", default="PASS",
                   choices=["PASS", "FAIL", "ERROR", "MISS", "DONE", "SKIP"])
    args = p.parse_args()
    if args.validate:
        return validate(args.validate)
    if not args.ktap or not args.out:
        p.error("--ktap and --out are needed (or --validate FILE)")
    data = build_kcidb(args)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)
        f.write("\n")
    print(f"{args.out}: {len(data['tests'])} tests")
    return 0


if __name__ == "__main__":
    sys.exit(main())
