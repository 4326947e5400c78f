"""Reference Python implementation of the dns-query trigger (the domain's router), for
the benchmarks only.

Written the way the existing Python versions of this system are: boto3 clients
created at import (Route 53) or when a region is first needed, the handler decodes
the subscription batch, counts the lookups of `<label>.<domain>`, reads the domain's
registry (TXT records `<label>._cm.<domain>`, kept for REGISTRY_TTL_SECONDS) and makes
its calls one after the other: UpdateAutoScalingGroup per container's group, one
PutMetricData per region. Same environment variables, same API calls as the Rust
function; `scripts/bench` runs it behind the same Runtime API server, against the same
emulator.
"""

import base64
import gzip
import json
import os
import re
import time

import boto3

DOMAIN_NAME = os.environ["DOMAIN_NAME"].lower().rstrip(".")
HOSTED_ZONE_ID = os.environ["HOSTED_ZONE_ID"].removeprefix("/hostedzone/")
RECORD_TYPE = os.environ.get("RECORD_TYPE", "A").upper()
METRIC_NAMESPACE = os.environ["METRIC_NAMESPACE"]
METRIC_NAME = os.environ["METRIC_NAME"]
METRIC_UNIT = os.environ.get("METRIC_UNIT", "Count")
REGISTRY_TTL = float(os.environ.get("REGISTRY_TTL_SECONDS", "60"))
UNKNOWN_REFRESH = 10.0

LABEL = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
SUFFIX = "." + DOMAIN_NAME
REGISTRY_START = "_cm." + DOMAIN_NAME

route53 = boto3.client("route53")
clients = {}
registry = None  # (read_at, {label: entry})


def regional(service, region):
    key = (service, region)
    if key not in clients:
        clients[key] = boto3.client(service, region_name=region)
    return clients[key]


def label_of(line):
    fields = line.split()
    if len(fields) < 5 or fields[4].upper() != RECORD_TYPE:
        return None
    name = fields[3].lower()
    if name.endswith("."):
        name = name[:-1]
    if not name.endswith(SUFFIX):
        return None
    label = name[: -len(SUFFIX)]
    if not LABEL.match(label) or label.endswith("-"):
        return None
    return label


def read_registry():
    entries = {}
    start = {"StartRecordName": REGISTRY_START, "StartRecordType": "TXT"}
    for _ in range(20):
        page = route53.list_resource_record_sets(HostedZoneId=HOSTED_ZONE_ID, MaxItems="300", **start)
        past_end = False
        for record in page["ResourceRecordSets"]:
            name = record["Name"].rstrip(".").lower()
            if name == REGISTRY_START:
                continue
            if not name.endswith("." + REGISTRY_START):
                past_end = True
                break
            values = record.get("ResourceRecords", [])
            if record["Type"] != "TXT" or len(values) != 1:
                continue
            text = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', values[0]["Value"]))
            fields = dict(f.split("=", 1) for f in text.split() if "=" in f)
            try:
                if fields["v"] != "cm1":
                    continue
                entries[name[: -len("." + REGISTRY_START)]] = {
                    "region": fields["region"],
                    "asg": fields["asg"],
                    "metric": fields["metric"],
                    "threshold": float(fields["threshold"]),
                }
            except (KeyError, ValueError):
                continue
        if past_end or not page.get("IsTruncated"):
            break
        start = {
            "StartRecordName": page["NextRecordName"],
            "StartRecordType": page.get("NextRecordType", "TXT"),
        }
    return entries


def handler(event, context):
    global registry
    data = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    result = {
        "message_type": data.get("messageType"),
        "lines_seen": 0,
        "lines_matched": 0,
        "actions": [],
        "unknown": [],
        "gone": [],
    }
    if data.get("messageType") != "DATA_MESSAGE":
        return result
    counts = {}
    for entry in data.get("logEvents", []):
        for line in entry["message"].splitlines():
            if not line.strip():
                continue
            result["lines_seen"] += 1
            label = label_of(line)
            if label:
                result["lines_matched"] += 1
                counts[label] = counts.get(label, 0) + 1
    if not counts:
        return result
    now = time.monotonic()
    age = None if registry is None else now - registry[0]
    if (
        age is None
        or age >= REGISTRY_TTL
        or (age >= UNKNOWN_REFRESH and any(label not in registry[1] for label in counts))
    ):
        registry = (now, read_registry())
    regions = {}
    for label in sorted(counts):
        entry = registry[1].get(label)
        if entry is None:
            result["unknown"].append(label)
            continue
        regions.setdefault(entry["region"], []).append(entry)
    for region, entries in sorted(regions.items()):
        autoscaling = regional("autoscaling", region)
        for entry in entries:
            try:
                autoscaling.update_auto_scaling_group(
                    AutoScalingGroupName=entry["asg"], DesiredCapacity=1
                )
                result["actions"].append(f"UpdateAutoScalingGroup {region} {entry['asg']}")
            except autoscaling.exceptions.ClientError as e:
                if "not found" not in str(e):
                    raise
                result["gone"].append(entry["asg"])
        regional("cloudwatch", region).put_metric_data(
            Namespace=METRIC_NAMESPACE,
            MetricData=[
                {
                    "MetricName": METRIC_NAME,
                    "Dimensions": [{"Name": "ContainerName", "Value": e["metric"]}],
                    "Unit": METRIC_UNIT,
                    "Value": e["threshold"] + 1,
                }
                for e in entries
            ],
        )
        result["actions"].append(f"PutMetricData {region} {METRIC_NAMESPACE}/{METRIC_NAME}")
    return result
