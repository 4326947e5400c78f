#!/usr/bin/env python3
"""Builds a CloudWatch Logs subscription event carrying Route53 query log lines.

    scripts/make-query-log-event.py [--name mc.example.com] [--type A] [--lines N]
        [--other N] [--control] [--zone Z0123456789ABCDEFGHIJ] > event.json

The event is what CloudWatch Logs delivers to a subscribed Lambda function:
{"awslogs": {"data": base64(gzip(JSON batch))}}. Used to make events/ and by the
demo, with the real field names and line format of Route53 query logs.
"""

import argparse
import base64
import gzip
import json
import sys
import time

EDGES = ["FRA6", "IAD89-C1", "LHR61-C2", "NRT57-C3"]


def query_line(ts_ms: int, zone: str, name: str, qtype: str, i: int) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts_ms / 1000)) + f".{ts_ms % 1000:03d}Z"
    resolver = f"192.0.2.{(i % 250) + 1}"
    return f"1.0 {stamp} {zone} {name} {qtype} NOERROR UDP {EDGES[i % len(EDGES)]} {resolver} -"


def build(name: str, qtype: str, lines: int, other: int, control: bool, zone: str, now_ms: int) -> dict:
    if control:
        batch = {
            "messageType": "CONTROL_MESSAGE",
            "owner": "CloudwatchLogs",
            "logGroup": "",
            "logStream": "",
            "subscriptionFilters": [],
            "logEvents": [{
                "id": "",
                "timestamp": now_ms,
                "message": "CWL CONTROL MESSAGE: Checking health of destination Lambda function.",
            }],
        }
    else:
        events = []
        # Lookups a client makes around the real one: the SRV record and a sub-name.
        noise = [(f"_minecraft._tcp.{name}", "SRV"), (f"www.{name}", "A"), (name, "AAAA")]
        for i in range(other):
            qname, qt = noise[i % len(noise)]
            events.append((qname, qt))
        events += [(name, qtype)] * lines
        batch = {
            "messageType": "DATA_MESSAGE",
            "owner": "123456789012",
            "logGroup": f"/aws/route53/{name.split('.', 1)[-1]}",
            "logStream": f"{zone}/{EDGES[0]}",
            "subscriptionFilters": ["cm-subscription-filter-dev-mc"],
            "logEvents": [
                {
                    "id": str(36_000_000_000_000_000_000_000_000_000_000_000_000_000_000 + i),
                    "timestamp": now_ms + i,
                    "message": query_line(now_ms + i, zone, qname, qt, i),
                }
                for i, (qname, qt) in enumerate(events)
            ],
        }
    data = base64.b64encode(gzip.compress(json.dumps(batch, separators=(",", ":")).encode())).decode()
    return {"awslogs": {"data": data}}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--name", default="mc.example.com")
    p.add_argument("--type", default="A")
    p.add_argument("--lines", type=int, default=1, help="lines asking for NAME TYPE")
    p.add_argument("--other", type=int, default=0, help="lines for other names or types")
    p.add_argument("--control", action="store_true", help="a CONTROL_MESSAGE instead")
    p.add_argument("--zone", default="Z0123456789ABCDEFGHIJ")
    p.add_argument("--timestamp-ms", type=int, default=1795464000000, help="time of the first line")
    a = p.parse_args()
    json.dump(build(a.name, a.type, a.lines, a.other, a.control, a.zone, a.timestamp_ms), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
