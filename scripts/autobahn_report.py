#!/usr/bin/env python3
"""Summarizes one role of an Autobahn|Testsuite run from its JSON reports
(reports/servers or reports/clients), for scripts/autobahn.sh.

    python3 scripts/autobahn_report.py ROLE REPORT_DIR [--agent NAME]
                                       [--wstest-log LOG] [--details]

Prints one line of counts per behavior, then every case whose behavior or
closing behavior is neither OK nor INFORMATIONAL, with the report's own
words for what went wrong; --details lists INFORMATIONAL cases too, and
adds what the suite expected and what it received. Exits 1 if a case
failed, or if a case that wstest announced in its log ("Cases = [...]")
has no report: such a case never ran to the end, which is a failure of
the run (a crashed testee, a client that could not connect), not a pass.

"Failed" is what Autobahn's own HTML report paints red: a behavior other
than OK, NON-STRICT, INFORMATIONAL, UNIMPLEMENTED or NO_CLOSE, or a closing
behavior of FAILED or UNCLEAN. WRONG CODE and FAILED BY CLIENT are
listed but do not fail the run: the suite itself calls them non-strict."""
import argparse
import ast
import json
import pathlib
import re
import sys

ORDER = ["OK", "INFORMATIONAL", "NON-STRICT", "FAILED", "UNIMPLEMENTED"]
FINE = {"OK", "INFORMATIONAL"}
NOT_FAILED = {"OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "NO_CLOSE"}
CLOSE_FAILED = {"FAILED", "UNCLEAN"}


def case_key(case_id):
    """Sorts '9.10.2' after '9.2.1', as the suite numbers them."""
    return [int(p) if p.isdigit() else p for p in re.split(r"\.", case_id)]


def announced_cases(log_path):
    """The case ids wstest printed it would run, or None without a log."""
    if log_path is None:
        return None
    try:
        m = re.search(r"^Cases = (\[.*\])$", log_path.read_text(errors="replace"), re.M)
    except OSError:
        return []
    return ast.literal_eval(m.group(1)) if m else []


def plain(text):
    """Case descriptions are HTML fragments; one line of text is enough."""
    return " ".join(re.sub(r"<[^>]+>", " ", text or "").split())


def short(value, limit=300):
    text = json.dumps(value, separators=(",", ":"))
    return text if len(text) <= limit else text[:limit] + "..."


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("role")
    ap.add_argument("report_dir", type=pathlib.Path)
    ap.add_argument("--agent", default="tether")
    ap.add_argument("--wstest-log", type=pathlib.Path,
                    help="wstest's output, for the cases it meant to run")
    ap.add_argument("--details", action="store_true",
                    help="also list INFORMATIONAL cases, and print each listed case's"
                         " description, expected and received events")
    args = ap.parse_args()

    index_path = args.report_dir / "index.json"
    try:
        index = json.loads(index_path.read_text())
    except (OSError, ValueError) as e:
        print(f"{args.role}: no usable report ({index_path}: {e})")
        return 1
    cases = index.get(args.agent, {})

    counts = {b: 0 for b in ORDER}
    close_counts = {}
    listed = []
    failed = 0
    for case_id in sorted(cases, key=case_key):
        entry = cases[case_id]
        behavior, close = entry.get("behavior", "?"), entry.get("behaviorClose", "?")
        counts[behavior] = counts.get(behavior, 0) + 1
        close_counts[close] = close_counts.get(close, 0) + 1
        bad = behavior not in NOT_FAILED or close in CLOSE_FAILED
        failed += bad
        if behavior == close == "OK" or (behavior in FINE and close in FINE and not args.details):
            continue
        listed.append((case_id, behavior, close, entry.get("reportfile"), bad))

    announced = announced_cases(args.wstest_log)
    if announced == []:
        print(f"{args.role}: no case list in {args.wstest_log}")
        return 1
    missing = [c for c in announced or [] if c not in cases]
    parts = [f"{n} {b}" for b, n in counts.items() if n or b in ORDER]
    odd_close = {c: n for c, n in close_counts.items() if c not in FINE}
    if odd_close:
        parts.append("closing: " + ", ".join(f"{n} {c}" for c, n in sorted(odd_close.items())))
    if missing:
        parts.append(f"{len(missing)} MISSING (no report)")
    print(f"{args.role}: {len(cases)} cases: " + ", ".join(parts))
    if missing:
        more = f" and {len(missing) - 20} more" if len(missing) > 20 else ""
        print(f"  FAIL no report for: {' '.join(missing[:20])}{more}")

    for case_id, behavior, close, reportfile, bad in listed:
        detail = {}
        if reportfile:
            try:
                detail = json.loads((args.report_dir / reportfile).read_text())
            except (OSError, ValueError):
                pass
        mark = "FAIL" if bad else "info" if behavior in FINE and close in FINE else "note"
        print(f"  {mark} {case_id}: {behavior}, close {close}"
              f" (remote close code {detail.get('remoteCloseCode')})")
        if behavior != "OK":
            print(f"       {detail.get('result', '(no result in report)')}")
        if close not in FINE:
            print(f"       close: {detail.get('resultClose', '(no result in report)')}")
        if args.details and detail:
            print(f"       case: {plain(detail.get('description'))}")
            print(f"       expectation: {plain(detail.get('expectation'))}")
            print(f"       expected: {short(detail.get('expected'))}")
            print(f"       expected close: {short(detail.get('expectedClose'))}")
            print(f"       received: {short(detail.get('received'))}")
            if detail.get("wasNotCleanReason"):
                print(f"       not clean: {detail['wasNotCleanReason']}")
    return 1 if failed or missing else 0


if __name__ == "__main__":
    sys.exit(main())
