#!/usr/bin/env python3
"""Asks a Prometheus server's HTTP API, for .ci/site-test.

  prom.py URL query EXPR        one line per series: {labels} value
                                (exit 1 when the result is empty)
  prom.py URL dashboard FILE    runs every query of a Grafana dashboard;
                                exit 1 naming each one that returns no data

Runs inside the site's DNS VM namespace, where Prometheus listens on
loopback.
"""

import json
import math
import re
import sys
import urllib.parse
import urllib.request

# Grafana's built-in variables, as Grafana would fill them for a short
# time range over a 1-second scrape interval ($__rate_interval is at least
# four scrape intervals).
BUILTINS = {
    "__rate_interval": "15s",
    "__interval": "15s",
    "__interval_ms": "15000",
    "__range": "5m",
    "__range_s": "300",
    "__range_ms": "300000",
}


def query(base, expr):
    url = base.rstrip("/") + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=5) as resp:
        doc = json.load(resp)
    if doc.get("status") != "success":
        raise RuntimeError(f"{expr}: {doc.get('errorType')}: {doc.get('error')}")
    data = doc["data"]
    if data["resultType"] in ("scalar", "string"):
        return [({}, data["result"][1])]
    return [(r.get("metric", {}), r["value"][1]) for r in data["result"]]


def labels(metric):
    return "{" + ",".join(f'{k}="{v}"' for k, v in sorted(metric.items())) + "}"


def substitute(expr, user_vars):
    """Fills Grafana variables: built-ins by BUILTINS, the dashboard's own
    variables as "All" (any value): `label="$v"` becomes `label=~".+"`."""
    for name in user_vars:
        ref = r"(?:\$\{" + re.escape(name) + r"(?::[a-z]+)?\}|\$" + re.escape(name) + r"\b|\[\[" + re.escape(name) + r"\]\])"
        expr = re.sub(r'=~?"' + ref + '"', '=~".+"', expr)
        expr = re.sub(r'!~?"' + ref + '"', '!~"^$"', expr)
        expr = re.sub(ref, ".+", expr)
    for name in sorted(BUILTINS, key=len, reverse=True):
        expr = re.sub(r"\$\{" + name + r"\}|\$" + name + r"\b", BUILTINS[name], expr)
    left = re.findall(r"\$\{?\w+", expr)
    if left:
        raise RuntimeError(f"unknown Grafana variable {left[0]} in {expr}")
    return expr


def dashboard(base, path):
    with open(path) as f:
        dash = json.load(f)
    user_vars = [
        v["name"]
        for v in dash.get("templating", {}).get("list", [])
        if v.get("type") not in ("datasource",)
    ]
    panels = []
    for p in dash.get("panels", []):
        panels.append(p)
        panels.extend(p.get("panels", []))  # collapsed rows hold panels
    failed, ran = [], 0
    for p in panels:
        for t in p.get("targets", []):
            if "expr" not in t:
                continue
            expr = substitute(t["expr"], user_vars)
            ran += 1
            try:
                series = query(base, expr)
            except Exception as e:  # noqa: BLE001 - report and go on
                failed.append(f"{p.get('title')}: {expr}: {e}")
                continue
            values = [v for _, v in series if not math.isnan(float(v))]
            print(f"  {len(series):2d} series  {p.get('title')}: {expr}")
            if not values:
                failed.append(f"{p.get('title')}: {expr}: no data ({len(series)} series, all NaN)")
    if ran == 0:
        failed.append(f"{path}: no Prometheus query found")
    for f in failed:
        print(f"dashboard query without data: {f}", file=sys.stderr)
    return 1 if failed else 0


def main():
    base, cmd, arg = sys.argv[1], sys.argv[2], sys.argv[3]
    if cmd == "query":
        series = query(base, arg)
        for metric, value in series:
            print(f"{labels(metric)} {value}")
        return 0 if series else 1
    if cmd == "dashboard":
        return dashboard(base, arg)
    print(f"unknown command {cmd}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
