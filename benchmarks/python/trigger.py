"""Reference Python implementation of the dns-query trigger, for the benchmarks only.

Written the way the existing Python versions of this system are: boto3 clients
created at import, the handler decodes the subscription batch, counts the lookups of
the container's name, and makes its two calls one after the other. Same environment
variables, same API calls (UpdateAutoScalingGroup, PutMetricData) as the Rust
function; `scripts/bench` runs it behind the same Runtime API server, against the same
emulator.
"""

import base64
import gzip
import json
import os

import boto3

DOMAIN_NAME = os.environ["DOMAIN_NAME"].lower().rstrip(".")
RECORD_TYPE = os.environ.get("RECORD_TYPE", "A").upper()
ASG_NAME = os.environ["ASG_NAME"]
METRIC_NAMESPACE = os.environ["METRIC_NAMESPACE"]
METRIC_NAME = os.environ["METRIC_NAME"]
METRIC_DIMENSIONS = json.loads(os.environ.get("METRIC_DIMENSIONS", "{}"))
METRIC_UNIT = os.environ.get("METRIC_UNIT", "Count")
METRIC_THRESHOLD = float(os.environ.get("METRIC_THRESHOLD", "0"))
REGION = os.environ.get("ASG_REGION") or os.environ.get("AWS_REGION")

autoscaling = boto3.client("autoscaling", region_name=REGION)
cloudwatch = boto3.client("cloudwatch", region_name=REGION)


def matches(line):
    fields = line.split()
    if len(fields) < 5:
        return False
    return fields[3].rstrip(".").lower() == DOMAIN_NAME and fields[4].upper() == RECORD_TYPE


def handler(event, context):
    data = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    if data.get("messageType") != "DATA_MESSAGE":
        return {"lines_seen": 0, "lines_matched": 0, "actions": []}
    lines = [
        line
        for entry in data.get("logEvents", [])
        for line in entry["message"].splitlines()
        if line.strip()
    ]
    matched = sum(1 for line in lines if matches(line))
    actions = []
    if matched:
        autoscaling.update_auto_scaling_group(AutoScalingGroupName=ASG_NAME, DesiredCapacity=1)
        actions.append(f"UpdateAutoScalingGroup {ASG_NAME} DesiredCapacity=1")
        cloudwatch.put_metric_data(
            Namespace=METRIC_NAMESPACE,
            MetricData=[
                {
                    "MetricName": METRIC_NAME,
                    "Dimensions": [{"Name": k, "Value": v} for k, v in METRIC_DIMENSIONS.items()],
                    "Unit": METRIC_UNIT,
                    "Value": METRIC_THRESHOLD + 1,
                }
            ],
        )
        actions.append(f"PutMetricData {METRIC_NAMESPACE}/{METRIC_NAME}")
    return {"lines_seen": len(lines), "lines_matched": matched, "actions": actions}
