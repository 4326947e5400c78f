"""Local AWS emulator for Container Manager's tests and demo.

It is moto's own server application, served in-process on 127.0.0.1, wrapped in
one WSGI middleware that bridges what moto lacks and lets tests look inside:

1. CloudWatch over Smithy RPCv2-CBOR. The current aws-sdk-cloudwatch sends
   ``POST /service/GraniteServiceVersion20100801/operation/<Op>`` with a CBOR body
   and the header ``smithy-protocol: rpc-v2-cbor``. moto speaks CloudWatch's JSON
   protocol, so the request is re-encoded as JSON (``X-Amz-Target:
   GraniteServiceVersion20100801.<Op>``) and moto's JSON answer is re-encoded as
   CBOR. Timestamps travel as CBOR tag 1 (epoch seconds) and as JSON numbers.
2. Auto Scaling ``CompleteLifecycleAction``, which moto does not implement. The
   emulator keeps the lifecycle actions that are waiting (a test or the demo
   registers one with ``POST /_cm/lifecycle-actions`` when it plays a terminate
   lifecycle event) and completes them as AWS does: by token or by instance id,
   checked against the group and hook that exist in moto; anything else is the
   ``ValidationError`` AWS returns ("No active Lifecycle Action found ...").
3. CloudFormation, so that template.yaml (after the SAM transform) deploys as it does
   in AWS: the resource types, properties, attributes and template features moto's
   CloudFormation lacks, each listed once in ``CFN_BRIDGES`` with why the bridge is
   faithful, installed into moto by ``install_cfn_bridges``; what they made is listed
   by ``GET /_cm/bridged``. ``cm_stack.py`` deploys a template as ``sam deploy`` does.
4. SNS messages to a Lambda subscription are kept (``GET /_cm/sns-messages``), not
   delivered: moto would run the function in Docker; the tests deliver them to the
   function's real binary themselves, as they deliver EventBridge's events.

Harness endpoints (JSON):
- ``GET /_cm/calls``: how many calls each ``service:Operation`` received.
- ``GET /_cm/lifecycle-actions``: ``{"pending": [...], "completed": [...]}``.
- ``POST /_cm/lifecycle-actions``: register a waiting lifecycle action.
- ``GET /_cm/sns-messages?region=R``: every message published to an SNS topic of
  region R (default us-east-1): ``[{"TopicArn", "MessageId", "Subject", "Message",
  "MessageAttributes"}]``, in publish order per topic.
- ``GET /_cm/bridges``: the CloudFormation bridges (``CFN_BRIDGES``), each with why it
  is faithful; ``GET /_cm/bridged?stack=S&region=R``: every resource they made or
  completed: ``[{"Bridge", "Region", "StackId", "StackName", "LogicalResourceId",
  "ResourceType", "PhysicalResourceId", "Properties"}]``.
- ``GET /_cm/custom-resources?state=pending|answered&stack=S&region=R``: the requests
  CloudFormation sent to custom resources (``[{"Region", "StackId", "StackName",
  "LogicalResourceId", "RequestType", "State", "Request", "Answer"}]``; ``Request`` is
  the event the function is invoked with). Their ``ResponseURL`` is
  ``PUT /_cm/custom-resources/<RequestId>``, which takes the answer as S3 takes a
  pre-signed PUT.
- ``POST /_cm/eventbridge/route``: ``{"Region", "Event", "EventBusName"?}`` -> the
  enabled rules whose pattern matches the event, with their targets' ARNs
  (``[{"Rule", "RuleArn", "Targets"}]``): where EventBridge would deliver it. Nothing is
  invoked (moto would run a Lambda target in Docker); the tests deliver it.
- ``GET /_cm/eventbridge/schedules?region=R``: the enabled scheduled rules of region R
  (``[{"Rule", "RuleArn", "ScheduleExpression", "Targets"}]``): what EventBridge invokes
  on a schedule. Nothing is invoked; the tests deliver the ``Scheduled Event``.
- ``POST /_cm/faults``: inject faults, ``{"operation": "autoscaling:UpdateAutoScalingGroup"
  (or "*"), "kind": "throttle" | "unavailable", "count": N}``: the next N matching
  calls are answered, in the service's own protocol, with the error AWS gives when it
  throttles (400 ``Throttling``; ``ThrottlingException`` for JSON services,
  ``RequestLimitExceeded`` for EC2) or is unavailable (503 ``ServiceUnavailable``),
  without reaching moto. Faulted calls are counted like the others.
  ``GET /_cm/faults`` lists what is left; ``DELETE /_cm/faults`` clears them.
- ``POST /_cm/reset``: forget counts, faults and lifecycle actions (moto's own state
  is reset with moto's ``POST /moto-api/reset``).

Run: ``python cm_emulator.py [--port 0]``. It prints ``CM_EMULATOR_READY <port>``
on stdout once it listens, and exits when its standard input closes (so a test
process that dies never leaves an emulator behind) or on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import base64
import copy
import datetime as dt
import io
import json
import os
import re
import signal
import sys
import threading
import types
import uuid
from collections import Counter
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs

import cbor2

# The parameter constraints as CloudFormation checks them, shared with the template's
# offline checks (scripts/template_checks.py).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
from template_checks import constraint_violations  # noqa: E402

CLOUDWATCH_SERVICE = "GraniteServiceVersion20100801"
RPCV2_PREFIX = f"/service/{CLOUDWATCH_SERVICE}/operation/"
AUTOSCALING_XMLNS = "http://autoscaling.amazonaws.com/doc/2011-01-01/"
DEFAULT_ACCOUNT_ID = "123456789012"

# CloudWatch output members whose type is a timestamp (or a list of them). In JSON
# they are plain numbers; in CBOR they must carry tag 1.
TIMESTAMP_MEMBERS = frozenset(
    {
        "Timestamp",
        "Timestamps",
        "StateUpdatedTimestamp",
        "StateTransitionedTimestamp",
        "AlarmConfigurationUpdatedTimestamp",
        "LastModified",
        "LastUpdateDate",
        "CreationDate",
        "StartTime",
        "EndTime",
    }
)

Environ = dict[str, Any]
StartResponse = Callable[..., Any]


# ---------------------------------------------------------------------------
# Pure translation helpers (unit-tested in test_cm_emulator.py)
# ---------------------------------------------------------------------------


def cbor_to_json(value: Any) -> Any:
    """Turn a decoded CBOR value into what CloudWatch's JSON protocol expects."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.timestamp()
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, cbor2.CBORTag):
        if value.tag == 1:
            return float(value.value)
        raise ValueError(f"unsupported CBOR tag {value.tag}")
    if isinstance(value, dict):
        return {str(k): cbor_to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [cbor_to_json(v) for v in value]
    return value


def _to_datetime(value: Any) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value, tz=dt.timezone.utc)
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)
    return value


def json_to_cbor_value(value: Any, key: str | None = None) -> Any:
    """Turn a JSON-protocol CloudWatch value into what RPCv2-CBOR expects."""
    if isinstance(value, dict):
        return {k: json_to_cbor_value(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [json_to_cbor_value(v, key) for v in value]
    if key in TIMESTAMP_MEMBERS:
        return _to_datetime(value)
    return value


def encode_cbor(value: Any) -> bytes:
    return cbor2.dumps(json_to_cbor_value(value), datetime_as_timestamp=True)


def json_error_to_cbor(status: int, body: bytes) -> bytes:
    """moto's JSON error (or an HTML 500 page) as an RPCv2-CBOR error body."""
    code, message = "InternalFailure", body.decode("utf-8", "replace")[:500]
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    if isinstance(doc, dict):
        code = str(doc.get("__type") or doc.get("code") or doc.get("Code") or code)
        code = code.rsplit("#", 1)[-1]
        message = str(doc.get("message") or doc.get("Message") or "")
    elif status < 500:
        code = "ValidationError"
    return cbor2.dumps({"__type": f"com.amazonaws.cloudwatch#{code}", "message": message})


def signing_scope(environ: Environ) -> tuple[str | None, str | None]:
    """(service, region) from a SigV4 Authorization header, if any."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    try:
        credential = auth.split("Credential=", 1)[1].split(",", 1)[0]
        _, _, region, service, _ = credential.split("/")
        return service, region
    except (IndexError, ValueError):
        return None, None


def operation_name(environ: Environ, body: bytes) -> str:
    """Best-effort ``service:Operation`` for call counting."""
    service, _ = signing_scope(environ)
    service = service or "unknown"
    path = environ.get("PATH_INFO", "")
    if path.startswith(RPCV2_PREFIX):
        return f"{service}:{path[len(RPCV2_PREFIX):]}"
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return f"{service}:{target.rsplit('.', 1)[-1]}"
    if "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", "") and body:
        action = parse_qs(body.decode("utf-8", "replace")).get("Action")
        if action:
            return f"{service}:{action[0]}"
    return f"{service}:{environ.get('REQUEST_METHOD', 'GET')} {path}"


# ---------------------------------------------------------------------------
# Lifecycle actions (the CompleteLifecycleAction bridge)
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# Fault injection
# ---------------------------------------------------------------------------

FAULT_KINDS = ("throttle", "unavailable")


def fault_response(kind: str, protocol: str, service: str) -> tuple[int, bytes, str]:
    """(status, body, content type) of the error AWS answers when it throttles or is
    unavailable, in the wire protocol the client speaks."""
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault kind {kind!r}: expected one of {FAULT_KINDS}")
    status = 400 if kind == "throttle" else 503
    message = "Rate exceeded" if kind == "throttle" else "Service unavailable (injected)"
    request_id = str(uuid.uuid4())
    if protocol == "cbor":
        code = "Throttling" if kind == "throttle" else "ServiceUnavailable"
        body = cbor2.dumps({"__type": f"com.amazonaws.cloudwatch#{code}", "message": message})
        return status, body, "application/cbor"
    if protocol == "json":
        code = "ThrottlingException" if kind == "throttle" else "ServiceUnavailableException"
        return status, json.dumps({"__type": code, "message": message}).encode(), "application/x-amz-json-1.1"
    if service == "ec2":
        code = "RequestLimitExceeded" if kind == "throttle" else "Unavailable"
        xml = (f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error>"
               f"</Errors><RequestID>{request_id}</RequestID></Response>")
        return status, xml.encode(), "text/xml"
    code = "Throttling" if kind == "throttle" else "ServiceUnavailable"
    kind_of = "Sender" if kind == "throttle" else "Receiver"
    xml = (f"<ErrorResponse><Error><Type>{kind_of}</Type><Code>{code}</Code><Message>{message}</Message>"
           f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>")
    return status, xml.encode(), "text/xml"


def wire_protocol(environ: Environ) -> str:
    """``cbor`` (CloudWatch RPCv2), ``json`` (X-Amz-Target), or ``xml`` (query, REST-XML)."""
    if environ.get("PATH_INFO", "").startswith(RPCV2_PREFIX):
        return "cbor"
    if environ.get("HTTP_X_AMZ_TARGET"):
        return "json"
    return "xml"


class Faults:
    """Faults waiting to be served: operation (or ``*``) -> [kind, calls left]."""

    def __init__(self) -> None:
        self._faults: list[list[Any]] = []
        self._lock = threading.Lock()

    def add(self, doc: dict[str, Any]) -> dict[str, Any]:
        operation, kind, count = doc.get("operation"), doc.get("kind"), doc.get("count", 1)
        if not isinstance(operation, str) or not operation:
            raise ValueError("operation must be 'service:Operation' or '*'")
        if kind not in FAULT_KINDS:
            raise ValueError(f"kind must be one of {FAULT_KINDS}")
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ValueError("count must be a positive integer")
        with self._lock:
            self._faults.append([operation, kind, count])
        return {"operation": operation, "kind": kind, "count": count}

    def take(self, operation: str) -> str | None:
        """The fault kind for this call, if one is waiting (and count it served)."""
        with self._lock:
            for fault in self._faults:
                if fault[2] > 0 and fault[0] in (operation, "*"):
                    fault[2] -= 1
                    return str(fault[1])
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{"operation": o, "kind": k, "left": n} for o, k, n in self._faults if n > 0]


class LifecycleActionError(Exception):
    """An answer AWS would give as a 400 ValidationError."""


class LifecycleActions:
    def __init__(self, hook_lookup: Callable[[str, str, str], bool]):
        # hook_lookup(region, group, hook) -> does the hook exist in moto?
        self._hook_lookup = hook_lookup
        self._lock = threading.Lock()
        self.pending: list[dict[str, str]] = []
        self.completed: list[dict[str, str]] = []

    def register(self, region: str, action: dict[str, Any]) -> dict[str, str]:
        required = ("AutoScalingGroupName", "LifecycleHookName", "InstanceId")
        missing = [k for k in required if not action.get(k)]
        if missing:
            raise LifecycleActionError(f"missing {', '.join(missing)}")
        group, hook = action["AutoScalingGroupName"], action["LifecycleHookName"]
        if not self._hook_lookup(region, group, hook):
            raise LifecycleActionError(
                f"No lifecycle hook {hook} on Auto Scaling group {group} in {region}"
            )
        record = {
            "Region": region,
            "AutoScalingGroupName": group,
            "LifecycleHookName": hook,
            "InstanceId": action["InstanceId"],
            "LifecycleActionToken": action.get("LifecycleActionToken") or str(uuid.uuid4()),
        }
        with self._lock:
            self.pending.append(record)
        return record

    def complete(self, region: str, params: dict[str, str]) -> dict[str, str]:
        group = params.get("AutoScalingGroupName", "")
        hook = params.get("LifecycleHookName", "")
        result = params.get("LifecycleActionResult", "")
        token = params.get("LifecycleActionToken")
        instance = params.get("InstanceId")
        if not group or not hook:
            raise LifecycleActionError("AutoScalingGroupName and LifecycleHookName are required")
        if result not in ("CONTINUE", "ABANDON"):
            raise LifecycleActionError(f"LifecycleActionResult must be CONTINUE or ABANDON, got {result!r}")
        if not token and not instance:
            raise LifecycleActionError("LifecycleActionToken or InstanceId is required")
        with self._lock:
            for i, pending in enumerate(self.pending):
                if (
                    pending["Region"] == region
                    and pending["AutoScalingGroupName"] == group
                    and pending["LifecycleHookName"] == hook
                    and (not token or pending["LifecycleActionToken"] == token)
                    and (not instance or pending["InstanceId"] == instance)
                ):
                    done = dict(self.pending.pop(i), LifecycleActionResult=result)
                    self.completed.append(done)
                    return done
        found_by = f"token {token}" if token else f"instance ID {instance}"
        raise LifecycleActionError(f"No active Lifecycle Action found with {found_by}")

    def reset(self) -> None:
        with self._lock:
            self.pending.clear()
            self.completed.clear()

    def snapshot(self) -> dict[str, list[dict[str, str]]]:
        with self._lock:
            return {"pending": list(self.pending), "completed": list(self.completed)}


def moto_sns_messages(region: str) -> list[dict[str, Any]]:
    from moto.sns.models import sns_backends

    backend = sns_backends[DEFAULT_ACCOUNT_ID][region]
    messages = []
    for arn, topic in backend.topics.items():
        for message_id, message, subject, attributes, _group in topic.sent_notifications:
            # moto keeps attributes as {"Type", "Value"}; answer in the SNS API's shape.
            attrs = {name: {"DataType": a.get("Type"), "StringValue": a.get("Value")}
                     for name, a in (attributes or {}).items()}
            messages.append({"TopicArn": arn, "MessageId": message_id, "Subject": subject,
                             "Message": message, "MessageAttributes": attrs})
    return messages


def moto_route_event(region: str, event: dict[str, Any], bus: str = "default") -> list[dict[str, Any]]:
    """The enabled rules of ``bus`` in ``region`` whose event pattern matches ``event``
    (moto's own matching), with their targets' ARNs: where EventBridge would deliver
    it. Nothing is invoked."""
    from moto.events.models import events_backends

    backend = events_backends[DEFAULT_ACCOUNT_ID][region]
    event_bus = backend.event_buses.get(bus)
    routed = []
    for rule in (event_bus.rules.values() if event_bus else []):
        if rule.state != "ENABLED" or rule.scheduled_expression or not rule.event_pattern.get_pattern():
            continue
        if rule.event_pattern.matches_event(event):
            routed.append({"Rule": rule.name, "RuleArn": rule.arn,
                           "Targets": [t["Arn"] for t in rule.targets]})
    return routed


def moto_schedules(region: str, bus: str = "default") -> list[dict[str, Any]]:
    """The enabled scheduled rules of ``bus`` in ``region``, with their schedule
    expressions and targets' ARNs: what EventBridge invokes on its schedule (a
    ``Scheduled Event`` naming the rule in its resources). Nothing is invoked."""
    from moto.events.models import events_backends

    backend = events_backends[DEFAULT_ACCOUNT_ID][region]
    event_bus = backend.event_buses.get(bus)
    return [{"Rule": rule.name, "RuleArn": rule.arn, "ScheduleExpression": rule.scheduled_expression,
             "Targets": [t["Arn"] for t in rule.targets]}
            for rule in (event_bus.rules.values() if event_bus else [])
            if rule.state == "ENABLED" and rule.scheduled_expression]


def moto_hook_exists(region: str, group: str, hook: str) -> bool:
    from moto.autoscaling.models import autoscaling_backends

    backend = autoscaling_backends[DEFAULT_ACCOUNT_ID][region]
    return group in backend.autoscaling_groups and f"{group}_{hook}" in backend.lifecycle_hooks


# ---------------------------------------------------------------------------
# Bridge 3: CloudFormation (the template as deployed)
# ---------------------------------------------------------------------------

# What moto's CloudFormation lacks for template.yaml after the SAM transform, one entry
# per bridge: what is bridged, and why the bridge does what CloudFormation does. GET
# /_cm/bridges serves this table; GET /_cm/bridged lists every resource a bridge
# created or completed, with its stack, logical id, type and properties.
CFN_BRIDGES: dict[str, str] = {
    "AWS::CloudWatch::Alarm": (
        "moto has no model of the type (the stack skips it and Fn::GetAtt on it fails). "
        "The alarm is made with moto's PutMetricAlarm from the resource's properties, which "
        "are PutMetricAlarm's parameters under the same names; Ref is its name and "
        "Fn::GetAtt Arn its ARN, as CloudFormation documents. DescribeAlarms answers a "
        "metric-math alarm's Metrics, as AWS does (moto keeps them but answered none)."
    ),
    "AWS::Logs::SubscriptionFilter": (
        "moto has no model of the type. The filter is made with moto's PutSubscriptionFilter "
        "(which checks that the log group and the destination function exist); without a "
        "FilterName it gets the name CloudFormation generates ({stack}-{logical id}-{suffix}), "
        "and Ref is that name."
    ),
    "AWS::Lambda::EventInvokeConfig": (
        "moto has no model of the type. The configuration is put with moto's "
        "PutFunctionEventInvokeConfig (which bounds MaximumRetryAttempts and checks the "
        "destination ARNs), on the function and qualifier the resource names."
    ),
    "AWS::Lambda::Url": (
        "moto has no model of the type. The function URL is made with moto's "
        "CreateFunctionUrlConfig on the function TargetFunctionArn names (AuthType, Cors, "
        "InvokeMode); Fn::GetAtt FunctionUrl and FunctionArn answer its URL (with the "
        "trailing slash AWS gives it) and the function's ARN. Nothing listens at the URL: "
        "the test kit serves a function URL itself (cm_testkit::function_url)."
    ),
    "AWS::SNS::Subscription": (
        "moto has no model of the type. The subscription is made with moto's Subscribe "
        "(topic, protocol, endpoint); Ref is the subscription ARN."
    ),
    "AWS::NoValue in a list": (
        "moto keeps a null where a list element is Ref AWS::NoValue (through Fn::If), and the "
        "resource then fails on it; CloudFormation removes the element. The bridge removes "
        "it, in lists and in objects alike."
    ),
    "AWS::Route53::HostedZone": (
        "moto's model passes the name only: it answers no Fn::GetAtt and ignores "
        "HostedZoneConfig and QueryLoggingConfig. NameServers is the zone's delegation set "
        "(what GetHostedZone answers) and Id its id; the comment is kept, and the query "
        "logging configuration is made with moto's CreateQueryLoggingConfig, as the zone's "
        "creation does."
    ),
    "Route 53 names are fully qualified": (
        "moto's models keep a zone's and a record's Name as the template writes it "
        "(mc.example.com), while its ChangeResourceRecordSets stores mc.example.com., so an "
        "UPSERT of the template's record made a second record. Route 53 stores every name "
        "fully qualified; the bridge adds the final dot to the names of zones and records "
        "made by CloudFormation (Ref still gives the name as written, as CloudFormation does)."
    ),
    "Route 53 hosted zone ids": (
        "moto makes a zone id of 22 random letters and digits; Route 53's ids start with Z "
        "(Z1RWWTK7Y8UDDQ), which parameter patterns such as ExistingHostedZoneId's rely on. "
        "The bridge makes the first character Z, for zones made by any means."
    ),
    "AWS::Logs::LogGroup Arn": (
        "moto's Fn::GetAtt Arn leaves out the ':*' that CloudFormation documents "
        "(arn:aws:logs:region:account:log-group:name:*), which Route 53's query logging "
        "requires; the bridge adds it."
    ),
    "AWS::EC2::SecurityGroup rules": (
        "moto's model reads only CidrIp and source groups of an ingress rule (a CidrIpv6 "
        "rule becomes a rule without a range) and ignores SecurityGroupEgress. Each ingress "
        "and egress rule is authorised as AuthorizeSecurityGroupIngress/Egress would, with "
        "its CidrIp, CidrIpv6 or source group and its description; given egress rules "
        "replace the default allow-all rule, as CloudFormation does."
    ),
    "AWS::EC2::Subnet MapPublicIpOnLaunch": (
        "moto's model passes the VPC, CIDR block and zone only, so instances launched in "
        "the subnet get no public address; the subnet's MapPublicIpOnLaunch is set as "
        "ModifySubnetAttribute would."
    ),
    "ImageId resolve:ssm:": (
        "moto launches an instance with the ImageId text as given; EC2 resolves an ImageId "
        "of the form resolve:ssm:<parameter> from the SSM parameter (moto has AWS's public "
        "ECS-optimised AMI parameters) each time it launches an instance, which is what "
        "the bridge does at RunInstances, an Auto Scaling launch included."
    ),
    "AWS::AutoScaling::AutoScalingGroup LifecycleHookSpecificationList": (
        "moto's model ignores the hooks. Each is put with moto's PutLifecycleHook right after "
        "the group is made and before anything else uses it, as CloudFormation does, so the "
        "first instance's termination already waits on it."
    ),
    "AWS::ECS::TaskDefinition": (
        "moto's model passes only the family, containers, volumes and memory, and renames "
        "EFSVolumeConfiguration to eFSVolumeConfiguration. Every property goes to "
        "RegisterTaskDefinition under its API name (NetworkMode, RequiresCompatibilities, "
        "ExecutionRoleArn, TaskRoleArn, Cpu, Memory, efsVolumeConfiguration, ...). An update "
        "registers the new revision the same way and deregisters the old one, as "
        "CloudFormation replaces a task definition (moto's update registered the "
        "template's PascalCase container definitions as they are)."
    ),
    "AWS::Lambda::Function configuration": (
        "moto's model drops Architectures, LoggingConfig and Tags, and keeps a Number "
        "parameter in Environment.Variables as a number. They are kept on the function, "
        "each variable as a string, as Lambda does, on create and update: "
        "GetFunctionConfiguration answers Architectures and LoggingConfig (from which Lambda "
        "sets AWS_LAMBDA_LOG_FORMAT and AWS_LAMBDA_LOG_LEVEL) and ListTags the tags."
    ),
    "Rules": (
        "moto ignores a template's Rules. Before any resource is made, every rule whose "
        "RuleCondition holds for the parameters is evaluated, and the stack is refused with "
        "CloudFormation's ValidationError carrying the AssertDescription of each failed "
        "assertion."
    ),
    "Parameter constraints": (
        "moto ignores AllowedValues, AllowedPattern, MinLength, MaxLength, MinValue, "
        "MaxValue and a Number's being a number. A value outside them refuses the stack with CloudFormation's "
        "ValidationError (the ConstraintDescription when the parameter has one), before "
        "any resource is made."
    ),
    "Stack updates: parameters in Fn::Sub": (
        "On UpdateStack moto updates a resource whose template is unchanged only if a "
        "changed parameter appears in it as a Ref; CloudFormation updates every resource "
        "whose resolved properties change, so ${Parameter} in an Fn::Sub counts as well."
    ),
    "Resources whose Condition is false": (
        "moto lists each of them as an empty entry in DescribeStackResources and "
        "ListStackResources (and DescribeStackResource fails on it); CloudFormation does "
        "not list a resource it did not make."
    ),
    "Custom resources": (
        "moto invokes a custom resource's function in Docker (which the emulator does not "
        "run) and sends only Create. The bridge sends CloudFormation's request (Create, "
        "Update with OldResourceProperties and the PhysicalResourceId, Delete; property "
        "values as strings, as CloudFormation passes them) to a ResponseURL the emulator "
        "serves, lists it under GET /_cm/custom-resources for the tests to run the real "
        "function with, and keeps the stack *_IN_PROGRESS until the answer: SUCCESS "
        "completes it (PhysicalResourceId and Data as the answer says), FAILED fails the "
        "resource and the stack with the answer's Reason. moto makes the other resources "
        "of a create or update within the call; none depends on a custom resource in "
        "template.yaml, so the stack waiting at the end is the order CloudFormation "
        "follows. A delete waits for the answer (at most CUSTOM_RESOURCE_DELETE_WAIT "
        "seconds) before moto goes on."
    ),
    "Stack updates: dependents of a replaced resource": (
        "moto updates only the resources whose own template text or parameters changed. "
        "When an update replaces a resource (a new physical id, e.g. a new task definition "
        "revision), the values CloudFormation resolves for Ref and Fn::GetAtt on it change, "
        "so CloudFormation updates every resource that refers to it, after it, in "
        "dependency order; the bridge does the same."
    ),
    "Stack deletes in dependency order": (
        "moto deletes a stack's resources in no particular order and retries what fails. "
        "CloudFormation deletes a resource only after every resource that refers to it "
        "(Ref, Fn::GetAtt, Fn::Sub) or names it in DependsOn, and a resource it cannot "
        "delete fails the delete (DELETE_FAILED, with the resource's error as its reason); "
        "the bridge does the same."
    ),
    "AWS::AutoScaling::AutoScalingGroup delete": (
        "moto deletes a group and its instances at once. CloudFormation scales the group to "
        "0 and waits for its instances to terminate, and each instance first waits in "
        "Terminating:Wait on the group's terminate lifecycle hook. The bridge registers "
        "that lifecycle action (GET /_cm/lifecycle-actions lists it, for the tests to "
        "deliver the terminate event to the deployed functions), waits until it is "
        "completed or its heartbeat timeout (at most GROUP_DELETE_WAIT seconds here) "
        "passes, as Auto Scaling then goes on with the default result, and only then "
        "deletes the group."
    ),
    "Route 53 deletes": (
        "moto's model deletes a record set by name and type, and leaves a hosted zone in "
        "place. Route 53 deletes a record set only when its values and TTL match "
        "(InvalidChangeBatch otherwise), so a record whose value a function changed fails "
        "the stack's delete; and it deletes a zone with DeleteHostedZone, which refuses a "
        "zone that still has records other than its NS and SOA (HostedZoneNotEmpty). The "
        "bridge does both."
    ),
    "EC2 network deletes": (
        "moto's models of AWS::EC2::RouteTable, Route, SubnetRouteTableAssociation, "
        "InternetGateway and VPCGatewayAttachment cannot be deleted by a stack, so the VPC "
        "they belong to cannot be either (DependencyViolation). Each is deleted with "
        "moto's own call (DeleteRouteTable, DeleteRoute, DisassociateRouteTable, "
        "DeleteInternetGateway, DetachInternetGateway), as CloudFormation does."
    ),
    "Outputs: Export": (
        "moto registers every Output's Export when CreateStack is called, before the stack's "
        "resources are made and whatever the output's Condition, so a stack whose exporting "
        "outputs are conditioned off still claims their names (a second such stack in the region "
        "is refused). CloudFormation exports an output only if its Condition holds, once the stack "
        "is created, and fails the stack when another stack of the region already exports the "
        "name (\"Export with name X is already exported by stack Y\"); the bridge does the same. "
        "Fn::ImportValue then reads the region's exports, as moto does."
    ),
    "ECS container instance attributes": (
        "moto's RegisterContainerInstance ignores the request's attributes, which the ECS agent "
        "sends from ECS_INSTANCE_ATTRIBUTES (the instance's user data) and which a memberOf "
        "placement constraint reads. The bridge keeps them on the container instance, next to the "
        "ecs.* attributes moto gives it, as ECS does: DescribeContainerInstances and ListAttributes "
        "answer them."
    ),
    "ECS ListContainerInstances filter": (
        "moto ignores ListContainerInstances' filter (ECS's cluster query language, the language of "
        "a memberOf placement constraint's expression) and lists every container instance. The "
        "bridge evaluates the expressions of the forms attribute:NAME == VALUE, attribute:NAME != "
        "VALUE, attribute:NAME exists and ec2InstanceId == ID, joined by and, as ECS does, and "
        "refuses any other expression with InvalidParameterException rather than guess."
    ),
    "ECS task status": (
        "moto moves a task one status on each time it is described (RUNNING, DEACTIVATING, "
        "STOPPING, DEPROVISIONING, STOPPED), so a running task stops by itself after a few "
        "reads. ECS keeps a task RUNNING until it is stopped (StopTask, its container's exit, a "
        "scale-in). The bridge keeps a task's status as it is until StopTask (moto's state "
        "manager: progression manual, never reached), which sets STOPPED as before."
    ),
    "Resource creation failure": (
        "moto answers a resource that cannot be made (or updated) with an HTTP 500 and "
        "leaves the stack CREATE_IN_PROGRESS (and a later read tries to make the rest). The "
        "bridge stops there, as CloudFormation does with rollback disabled: the resource "
        "and the stack are CREATE_FAILED (UPDATE_FAILED), and DescribeStackEvents gives the "
        "resource's error as its ResourceStatusReason."
    ),
}


class BridgedResources:
    """What the CloudFormation bridges made or completed, for ``GET /_cm/bridged``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[dict[str, Any]] = []

    def record(self, bridge: str, region: str, kwargs: dict[str, Any], physical_id: str,
               properties: dict[str, Any]) -> None:
        if bridge not in CFN_BRIDGES:
            raise KeyError(f"{bridge!r} is not in CFN_BRIDGES")
        stack_id = str(kwargs.get("StackId", ""))
        item = {
            "Bridge": bridge,
            "Region": region,
            "StackId": stack_id,
            "StackName": stack_id.split(":stack/", 1)[-1].split("/", 1)[0] if stack_id else "",
            "LogicalResourceId": kwargs.get("LogicalId", ""),
            "ResourceType": kwargs.get("ResourceType", ""),
            "PhysicalResourceId": physical_id,
            "Properties": json.loads(json.dumps(properties, default=str)),
        }
        with self._lock:
            self._items.append(item)

    def forget(self, region: str, resource_type: str, physical_id: str) -> None:
        with self._lock:
            self._items = [i for i in self._items if not (
                i["Region"] == region and i["ResourceType"] == resource_type
                and i["PhysicalResourceId"] == physical_id)]

    def snapshot(self, stack: str | None = None, region: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(i) for i in self._items
                    if (stack is None or stack in (i["StackName"], i["StackId"]))
                    and (region is None or i["Region"] == region)]

    def reset(self) -> None:
        with self._lock:
            self._items.clear()


BRIDGED = BridgedResources()


def _properties(cloudformation_json: dict[str, Any]) -> dict[str, Any]:
    return dict(cloudformation_json.get("Properties") or {})


def _bridged_model(resource_type: str, name_property: str, attributes: dict[str, str],
                   create: Callable[[str, dict[str, Any], str, str, dict[str, Any]], tuple[str, dict[str, str]]],
                   delete: Callable[[str, str, str, dict[str, Any]], None]) -> type:
    """A moto CloudFormation model of ``resource_type`` (its bridge's key in
    CFN_BRIDGES) made through moto's own API.

    ``create(name, properties, account, region, kwargs)`` makes the resource and returns
    (physical id, attribute values); ``delete(account, region, physical id, properties)``
    removes it. ``attributes`` maps each Fn::GetAtt name to a key of those values."""
    from moto.core.common_models import CloudFormationModel

    bridge = resource_type

    def __init__(self: Any, physical_id: str, values: dict[str, str], properties: dict[str, Any]) -> None:
        self._physical_id = physical_id
        self._values = values
        self._properties = properties

    def get_cfn_attribute(self: Any, attribute_name: str) -> Any:
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        if attribute_name not in attributes:
            raise UnformattedGetAttTemplateException()
        return self._values[attributes[attribute_name]]

    def create_from_cloudformation_json(cls: type, resource_name: str, cloudformation_json: dict[str, Any],
                                        account_id: str, region_name: str, **kwargs: Any) -> Any:
        properties = _properties(cloudformation_json)
        physical_id, values = create(resource_name, properties, account_id, region_name, kwargs)
        BRIDGED.record(bridge, region_name, kwargs, physical_id, properties)
        model = cls(physical_id, values, properties)
        model.cm_stack_id = kwargs.get("StackId", "")
        return model

    def update_from_cloudformation_json(cls: type, original_resource: Any, new_resource_name: str,
                                        cloudformation_json: dict[str, Any], account_id: str,
                                        region_name: str) -> Any:
        # The new resource first (a put of the same name changes it in place), then the
        # old one goes if it was replaced: a failed update leaves the old one working.
        BRIDGED.forget(region_name, resource_type, original_resource.physical_resource_id)
        kwargs = {"LogicalId": getattr(original_resource, "logical_resource_id", ""),
                  "ResourceType": resource_type, "StackId": getattr(original_resource, "cm_stack_id", "")}
        try:
            updated = cls.create_from_cloudformation_json(new_resource_name, cloudformation_json,
                                                          account_id, region_name, **kwargs)
        except Exception:
            BRIDGED.record(bridge, region_name, kwargs, original_resource.physical_resource_id,
                           original_resource._properties)
            raise
        if updated.physical_resource_id != original_resource.physical_resource_id:
            delete(account_id, region_name, original_resource.physical_resource_id,
                   original_resource._properties)
        return updated

    def delete_resource(self: Any, account_id: str, region_name: str) -> None:
        delete(account_id, region_name, self._physical_id, self._properties)
        BRIDGED.forget(region_name, resource_type, self._physical_id)

    body = {
        # moto files each model under its service, the second part of the module name.
        "__module__": "moto.cloudformation.cm_emulator",
        "__init__": __init__,
        "cloudformation_type": staticmethod(lambda: resource_type),
        "cloudformation_name_type": staticmethod(lambda: name_property),
        "has_cfn_attr": classmethod(lambda cls, attr: attr in attributes),
        "get_cfn_attribute": get_cfn_attribute,
        "physical_resource_id": property(lambda self: self._physical_id),
        "create_from_cloudformation_json": classmethod(create_from_cloudformation_json),
        "update_from_cloudformation_json": classmethod(update_from_cloudformation_json),
        "delete": delete_resource,
    }
    name = "Bridged" + resource_type.replace("::", "")
    return types.new_class(name, (CloudFormationModel,), exec_body=lambda ns: ns.update(body))


def _generated_name(kwargs: dict[str, Any]) -> str:
    """The name CloudFormation gives a resource whose template names none."""
    stack_id = str(kwargs.get("StackId", ""))
    stack = stack_id.split(":stack/", 1)[-1].split("/", 1)[0] or "stack"
    return f"{stack}-{kwargs.get('LogicalId', 'Resource')}-{uuid.uuid4().hex[:12].upper()}"


# -- resource types moto has the API of but not the CloudFormation type ----------------


def _create_alarm(name: str, props: dict[str, Any], account: str, region: str,
                  kwargs: dict[str, Any]) -> tuple[str, dict[str, str]]:
    from moto.cloudwatch.models import (Dimension, Metric, MetricDataQuery, MetricStat,
                                        cloudwatch_backends)

    def dimensions(items: list[dict[str, Any]] | None) -> list[Dimension]:
        return [Dimension(name=d.get("Name"), value=d.get("Value")) for d in items or []]

    queries = None
    if props.get("Metrics"):
        queries = []
        for metric in props["Metrics"]:
            stat = metric.get("MetricStat")
            metric_stat = None
            if stat:
                inner = stat.get("Metric", {})
                metric_stat = MetricStat(
                    metric=Metric(metric_name=inner.get("MetricName"), namespace=inner.get("Namespace"),
                                  dimensions=dimensions(inner.get("Dimensions"))),
                    period=stat.get("Period"), stat=stat.get("Stat"), unit=stat.get("Unit"))
            queries.append(MetricDataQuery(query_id=metric.get("Id"), label=metric.get("Label"),
                                           period=metric.get("Period"), return_data=metric.get("ReturnData"),
                                           expression=metric.get("Expression"), metric_stat=metric_stat))
    alarm_name = props.get("AlarmName") or _generated_name(kwargs)
    alarm = cloudwatch_backends[account][region].put_metric_alarm(
        name=alarm_name,
        namespace=props.get("Namespace"),
        metric_name=props.get("MetricName"),
        comparison_operator=props.get("ComparisonOperator"),
        evaluation_periods=_int_or_none(props.get("EvaluationPeriods")),
        period=_int_or_none(props.get("Period")),
        threshold=_float_or_none(props.get("Threshold")),
        statistic=props.get("Statistic"),
        description=props.get("AlarmDescription"),
        dimensions=[{"Name": d.get("Name"), "Value": d.get("Value")} for d in props.get("Dimensions", [])],
        alarm_actions=list(props.get("AlarmActions", [])),
        metric_data_queries=queries,
        datapoints_to_alarm=_int_or_none(props.get("DatapointsToAlarm")),
        extended_statistic=props.get("ExtendedStatistic"),
        ok_actions=list(props.get("OKActions", [])),
        insufficient_data_actions=list(props.get("InsufficientDataActions", [])),
        unit=props.get("Unit"),
        actions_enabled=_bool(props.get("ActionsEnabled", True)),
        treat_missing_data=props.get("TreatMissingData"),
        evaluate_low_sample_count_percentile=props.get("EvaluateLowSampleCountPercentile"),
        threshold_metric_id=props.get("ThresholdMetricId"),
        tags=[{"Key": t["Key"], "Value": t["Value"]} for t in props.get("Tags", [])],
    )
    if alarm.metric_data_queries:
        # moto keeps the queries but its DescribeAlarms reads them from an attribute named
        # after the API's member (Metrics), so it answered none; AWS answers them.
        alarm.metrics = alarm.metric_data_queries
    return alarm_name, {"Arn": alarm.alarm_arn}


def _delete_alarm(account: str, region: str, name: str, props: dict[str, Any]) -> None:
    from moto.cloudwatch.models import cloudwatch_backends

    cloudwatch_backends[account][region].delete_alarms([name])


def _create_subscription_filter(name: str, props: dict[str, Any], account: str, region: str,
                                kwargs: dict[str, Any]) -> tuple[str, dict[str, str]]:
    from moto.logs.models import logs_backends

    filter_name = props.get("FilterName") or _generated_name(kwargs)
    logs_backends[account][region].put_subscription_filter(
        log_group_name=props["LogGroupName"], filter_name=filter_name,
        filter_pattern=props.get("FilterPattern", ""), destination_arn=props["DestinationArn"],
        role_arn=props.get("RoleArn", ""))
    return filter_name, {}


def _delete_subscription_filter(account: str, region: str, name: str, props: dict[str, Any]) -> None:
    from moto.logs.models import logs_backends

    group = logs_backends[account][region].groups.get(props["LogGroupName"])
    if group is not None and name in group.subscription_filters:  # else it went with its group
        group.delete_subscription_filter(name)


def _create_function_url(name: str, props: dict[str, Any], account: str, region: str,
                         kwargs: dict[str, Any]) -> tuple[str, dict[str, str]]:
    from moto.awslambda.utils import get_backend

    config = {k: props[k] for k in ("AuthType", "Cors", "InvokeMode") if k in props}
    url = get_backend(account, region).create_function_url_config(props["TargetFunctionArn"], config)
    arn = url.function.function_arn
    # CloudFormation's FunctionUrl ends with a slash; the API's does too in AWS.
    return arn, {"FunctionUrl": url.url.rstrip("/") + "/", "FunctionArn": arn}


def _delete_function_url(account: str, region: str, name: str, props: dict[str, Any]) -> None:
    from moto.awslambda.exceptions import UnknownFunctionException
    from moto.awslambda.utils import get_backend

    try:
        get_backend(account, region).delete_function_url_config(props["TargetFunctionArn"])
    except (UnknownFunctionException, KeyError, AttributeError):  # it went with its function
        pass


def _create_event_invoke_config(name: str, props: dict[str, Any], account: str, region: str,
                                kwargs: dict[str, Any]) -> tuple[str, dict[str, str]]:
    from moto.awslambda.models import EventInvokeConfig
    from moto.awslambda.utils import get_backend

    config = {k: props[k] for k in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds",
                                    "DestinationConfig") if k in props}
    for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
        if key in config:
            config[key] = int(config[key])
    function = get_backend(account, region).get_function(props["FunctionName"])
    # PutFunctionEventInvokeConfig replaces the function's configuration (moto's keeps a
    # list and answers its first entry); the new one is checked before the old goes.
    function.event_invoke_config = [EventInvokeConfig(function.function_arn, function.last_modified, config)]
    qualifier = props.get("Qualifier", "$LATEST")
    return f"{props['FunctionName']}:{qualifier}", {}


def _delete_event_invoke_config(account: str, region: str, name: str, props: dict[str, Any]) -> None:
    from moto.awslambda.exceptions import UnknownFunctionException
    from moto.awslambda.utils import get_backend

    try:
        function = get_backend(account, region).get_function(props["FunctionName"])
    except UnknownFunctionException:
        return  # it went with its function
    function.event_invoke_config = []


def _create_sns_subscription(name: str, props: dict[str, Any], account: str, region: str,
                             kwargs: dict[str, Any]) -> tuple[str, dict[str, str]]:
    from moto.sns.models import sns_backends

    subscription = sns_backends[account][region].subscribe(
        props["TopicArn"], props.get("Endpoint", ""), props["Protocol"])
    return subscription.arn, {"Arn": subscription.arn}


def _delete_sns_subscription(account: str, region: str, arn: str, props: dict[str, Any]) -> None:
    from moto.sns.models import sns_backends

    backend = sns_backends[account][region]
    if arn in backend.subscriptions:  # else it went with its topic
        backend.unsubscribe(arn)


# -- completions of moto's own models ----------------------------------------------------


def _int_or_none(value: Any) -> int | None:
    return None if value is None or value == "" else int(value)


def _float_or_none(value: Any) -> float | None:
    return None if value is None or value == "" else float(value)


def _bool(value: Any) -> bool:
    return str(value).lower() == "true" if not isinstance(value, bool) else value


def _text(value: Any) -> str:
    """A template value as CloudFormation passes it on in a string: true, 2500, 0.5."""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _zone_id_starting_with_z(original: Callable[..., str]) -> Callable[..., str]:
    def generate(identifier: Any, *args: Any, **kwargs: Any) -> str:
        zone_id = original(identifier, *args, **kwargs)
        return zone_id if zone_id.startswith("Z") else "Z" + zone_id[1:]

    return generate


def _wrap_create(model: type, bridge: str, complete: Callable[..., Any],
                 strip: tuple[str, ...] = ()) -> None:
    """Replaces ``model``'s create_from_cloudformation_json by moto's (given the
    properties but those in ``strip``) followed by ``complete(resource, properties,
    account, region, kwargs)``, which does what moto's model leaves out and returns the
    properties to record (None: nothing was bridged for this resource)."""
    original = model.create_from_cloudformation_json

    def create(cls: type, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
               region_name: str, **kwargs: Any) -> Any:
        properties = _properties(cloudformation_json)
        given = dict(cloudformation_json, Properties={k: v for k, v in properties.items() if k not in strip})
        resource = original.__func__(cls, resource_name, given, account_id, region_name, **kwargs)
        resource.cm_stack_id = kwargs.get("StackId", "")
        recorded = complete(resource, properties, account_id, region_name, kwargs)
        if recorded is not None:
            BRIDGED.record(bridge, region_name, kwargs, str(getattr(resource, "physical_resource_id", "")),
                           recorded)
        return resource

    model.create_from_cloudformation_json = classmethod(create)


def _fully_qualified(name: Any) -> Any:
    return name + "." if isinstance(name, str) and name and not name.endswith(".") else name


def _create_zone_fully_qualified(original: Callable[..., Any]) -> Callable[..., Any]:
    def create(cls: type, resource_name: str, *args: Any, **kwargs: Any) -> Any:
        return original.__func__(cls, _fully_qualified(resource_name), *args, **kwargs)

    return create


def _create_record_fully_qualified(original: Callable[..., Any]) -> Callable[..., Any]:
    def create(cls: type, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
               region_name: str, **kwargs: Any) -> Any:
        properties = _properties(cloudformation_json)
        given = dict(cloudformation_json, Properties=dict(properties, Name=_fully_qualified(properties.get("Name"))))
        record = original.__func__(cls, _fully_qualified(resource_name), given, account_id, region_name, **kwargs)
        record.cm_ref = properties.get("Name", resource_name)
        return record

    return create


def _complete_hosted_zone(zone: Any, props: dict[str, Any], account: str, region: str,
                          kwargs: dict[str, Any]) -> dict[str, Any]:
    from moto.route53.models import route53_backends
    from moto.utilities.utils import get_partition

    config = props.get("HostedZoneConfig") or {}
    if config.get("Comment") is not None:
        zone.comment = config["Comment"]
    logging = props.get("QueryLoggingConfig") or {}
    if logging.get("CloudWatchLogsLogGroupArn"):
        route53_backends[account][get_partition(region)].create_query_logging_config(
            zone.resource_id, logging["CloudWatchLogsLogGroupArn"])
    return props


def _hosted_zone_attribute(self: Any, attribute_name: str) -> Any:
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

    if attribute_name == "NameServers":
        return list(self.delegation_set.name_servers) if self.delegation_set else []
    if attribute_name == "Id":
        return self.resource_id
    raise UnformattedGetAttTemplateException()


def _log_group_attribute(original: Callable[[Any, str], Any]) -> Callable[[Any, str], Any]:
    def get_cfn_attribute(self: Any, attribute_name: str) -> Any:
        value = original(self, attribute_name)
        if attribute_name == "Arn" and isinstance(value, str) and not value.endswith(":*"):
            return f"{value}:*"
        return value

    return get_cfn_attribute


def _sg_permission(rule: dict[str, Any], egress: bool) -> tuple[list[Any], list[dict[str, str]]]:
    """(ip ranges, source groups) of one CloudFormation security group rule."""
    ranges: list[Any] = []
    description = {"Description": rule["Description"]} if rule.get("Description") else {}
    if rule.get("CidrIp"):
        ranges.append({"CidrIp": rule["CidrIp"], **description})
    if rule.get("CidrIpv6"):
        ranges.append({"CidrIpv6": rule["CidrIpv6"], **description})
    group_key = "DestinationSecurityGroupId" if egress else "SourceSecurityGroupId"
    groups = []
    if rule.get(group_key):
        groups.append({"GroupId": rule[group_key], **description})
    if not egress and rule.get("SourceSecurityGroupName"):
        groups.append({"GroupName": rule["SourceSecurityGroupName"], **description})
    return ranges, groups


def _complete_security_group(group: Any, props: dict[str, Any], account: str, region: str,
                             kwargs: dict[str, Any]) -> dict[str, Any] | None:
    from moto.ec2.models import ec2_backends

    backend = ec2_backends[account][region]
    for rule in props.get("SecurityGroupIngress", []):
        ranges, groups = _sg_permission(rule, egress=False)
        backend.authorize_security_group_ingress(
            group_name_or_id=group.id, ip_protocol=str(rule["IpProtocol"]),
            from_port=_int_or_none(rule.get("FromPort")), to_port=_int_or_none(rule.get("ToPort")),
            ip_ranges=ranges, source_groups=groups, vpc_id=group.vpc_id)
    if "SecurityGroupEgress" in props:
        for rule in list(group.egress_rules):
            group.egress_rules.remove(rule)
        for rule in props["SecurityGroupEgress"]:
            ranges, groups = _sg_permission(rule, egress=True)
            backend.authorize_security_group_egress(
                group_name_or_id=group.id, ip_protocol=str(rule["IpProtocol"]),
                from_port=_int_or_none(rule.get("FromPort")), to_port=_int_or_none(rule.get("ToPort")),
                ip_ranges=ranges, source_groups=groups, vpc_id=group.vpc_id)
    return {k: props[k] for k in ("SecurityGroupIngress", "SecurityGroupEgress") if k in props}


def _complete_subnet(subnet: Any, props: dict[str, Any], account: str, region: str,
                     kwargs: dict[str, Any]) -> dict[str, Any] | None:
    if "MapPublicIpOnLaunch" not in props:
        return None
    subnet.map_public_ip_on_launch = _bool(props["MapPublicIpOnLaunch"])
    return {"MapPublicIpOnLaunch": subnet.map_public_ip_on_launch}


def _run_instances_resolving(original: Callable[..., Any]) -> Callable[..., Any]:
    prefix = "resolve:ssm:"

    def run_instances(backend: Any, image_id: str, *args: Any, **kwargs: Any) -> Any:
        from moto.ssm.models import ssm_backends

        given = image_id
        if isinstance(image_id, str) and image_id.startswith(prefix):
            parameter = ssm_backends[backend.account_id][backend.region_name].get_parameter(
                image_id[len(prefix):])
            if parameter is None:
                from moto.ec2.exceptions import InvalidAMIIdError

                raise InvalidAMIIdError(image_id)
            image_id = parameter.value
        reservation = original(backend, image_id, *args, **kwargs)
        if image_id != given:
            for instance in reservation.instances:
                BRIDGED.record("ImageId resolve:ssm:", backend.region_name,
                               {"ResourceType": "AWS::EC2::Instance"}, instance.id,
                               {"ImageId": given, "ResolvedImageId": image_id})
        return reservation

    return run_instances


def _complete_group_hooks(group: Any, props: dict[str, Any], account: str, region: str,
                          kwargs: dict[str, Any]) -> dict[str, Any] | None:
    from moto.autoscaling.models import autoscaling_backends

    hooks = props.get("LifecycleHookSpecificationList") or []
    backend = autoscaling_backends[account][region]
    for hook in hooks:
        backend.create_lifecycle_hook(
            name=hook["LifecycleHookName"], as_name=group.name,
            transition=hook["LifecycleTransition"],
            timeout=_int_or_none(hook.get("HeartbeatTimeout")),
            result=hook.get("DefaultResult", "ABANDON"))
    return {"LifecycleHookSpecificationList": hooks} if hooks else None


def _api_names(value: Any) -> Any:
    """CloudFormation's PascalCase property names -> the ECS API's camelCase names."""
    special = {"EFSVolumeConfiguration": "efsVolumeConfiguration", "FilesystemId": "fileSystemId",
               "IAM": "iam"}
    if isinstance(value, list):
        return [_api_names(v) for v in value]
    if isinstance(value, dict):
        return {special.get(k, k[:1].lower() + k[1:]): (v if k == "Options" else _api_names(v))
                for k, v in value.items()}
    return value


def _create_task_definition(cls: type, resource_name: str, cloudformation_json: dict[str, Any],
                            account_id: str, region_name: str, **kwargs: Any) -> Any:
    from moto.ecs.models import ecs_backends

    props = _properties(cloudformation_json)
    family = props.get("Family") or _generated_name(kwargs)

    def text(key: str) -> str | None:
        return None if props.get(key) is None else str(props[key])

    definition = ecs_backends[account_id][region_name].register_task_definition(
        family=family,
        container_definitions=_api_names(props.get("ContainerDefinitions", [])),
        volumes=_api_names(props.get("Volumes", [])),
        network_mode=props.get("NetworkMode"),
        tags=_api_names(props.get("Tags", [])),
        placement_constraints=_api_names(props.get("PlacementConstraints", [])),
        requires_compatibilities=props.get("RequiresCompatibilities"),
        cpu=text("Cpu"),
        memory=text("Memory"),
        task_role_arn=props.get("TaskRoleArn"),
        execution_role_arn=props.get("ExecutionRoleArn"),
        proxy_configuration=_api_names(props.get("ProxyConfiguration")),
        runtime_platform=_api_names(props.get("RuntimePlatform")),
        ipc_mode=props.get("IpcMode"),
        pid_mode=props.get("PidMode"),
        ephemeral_storage=_api_names(props.get("EphemeralStorage")),
    )
    BRIDGED.record("AWS::ECS::TaskDefinition", region_name, kwargs, definition.arn, props)
    return definition


def _update_task_definition(cls: type, original_resource: Any, new_resource_name: str,
                            cloudformation_json: dict[str, Any], account_id: str, region_name: str) -> Any:
    from moto.ecs.models import ecs_backends

    kwargs = {"LogicalId": getattr(original_resource, "logical_resource_id", ""),
              "ResourceType": "AWS::ECS::TaskDefinition"}
    definition = _create_task_definition(cls, new_resource_name, cloudformation_json, account_id,
                                         region_name, **kwargs)
    ecs_backends[account_id][region_name].deregister_task_definition(original_resource.arn)
    BRIDGED.forget(region_name, "AWS::ECS::TaskDefinition", original_resource.arn)
    return definition


def _update_function_completed(original: Callable[..., Any]) -> Callable[..., Any]:
    def update(cls: type, original_resource: Any, new_resource_name: str, cloudformation_json: dict[str, Any],
               account_id: str, region_name: str) -> Any:
        function = original.__func__(cls, original_resource, new_resource_name, cloudformation_json,
                                     account_id, region_name)
        _complete_function(function, _properties(cloudformation_json), account_id, region_name, {})
        return function

    return update


def _references_with_sub(original: Callable[[Any], list[str]]) -> Callable[[Any], list[str]]:
    """moto's get_references_from_template, plus the names an Fn::Sub refers to."""

    def get_references_from_template(template: Any) -> list[str]:
        references = list(original(template))
        stack = [template]
        while stack:
            node = stack.pop()
            if isinstance(node, list):
                stack.extend(node)
            elif isinstance(node, dict):
                sub = node.get("Fn::Sub")
                if sub is not None:
                    text, local = (sub, {}) if isinstance(sub, str) else (sub[0], sub[1] if len(sub) > 1 else {})
                    references += [n for n in re.findall(r"\$\{([^!}][^}]*)\}", str(text))
                                   if "." not in n and n not in local]
                stack.extend(node.values())
        return references

    return get_references_from_template


def _complete_function(function: Any, props: dict[str, Any], account: str, region: str,
                       kwargs: dict[str, Any]) -> dict[str, Any] | None:
    kept: dict[str, Any] = {}
    variables = function.environment_vars or {}
    if any(not isinstance(v, str) for v in variables.values()):
        function.environment_vars = {k: _text(v) for k, v in variables.items()}
        kept["Environment"] = {"Variables": function.environment_vars}
    if props.get("Architectures"):
        function.architectures = list(props["Architectures"])
        kept["Architectures"] = function.architectures
    if props.get("LoggingConfig"):
        function.cm_logging_config = dict(props["LoggingConfig"])
        kept["LoggingConfig"] = function.cm_logging_config
    if props.get("Tags"):
        function.tags = {t["Key"]: t["Value"] for t in props["Tags"]}
        kept["Tags"] = props["Tags"]
    return kept or None


def _function_configuration(original: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    def get_configuration(self: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        config = original(self, *args, **kwargs)
        logging = getattr(self, "cm_logging_config", None)
        if logging:
            config["LoggingConfig"] = {
                "LogFormat": logging.get("LogFormat", "Text"),
                "LogGroup": logging.get("LogGroup", f"/aws/lambda/{self.function_name}"),
                **{k: logging[k] for k in ("ApplicationLogLevel", "SystemLogLevel") if k in logging},
            }
        return config

    return get_configuration


# -- the template language and the stack -------------------------------------------------

_NO_VALUE = type("NoValue", (), {"__repr__": lambda self: "AWS::NoValue"})()


def _clean_json_without_novalue(original: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """moto's clean_json, where Ref AWS::NoValue removes the list element or object
    member it stands for."""

    def clean_json(resource_json: Any, resources_map: Any) -> Any:
        if resource_json == {"Ref": "AWS::NoValue"}:
            return _NO_VALUE
        cleaned = original(resource_json, resources_map)
        if isinstance(cleaned, list):
            return [v for v in cleaned if v is not _NO_VALUE]
        if isinstance(cleaned, dict):
            return {k: v for k, v in cleaned.items() if v is not _NO_VALUE}
        return cleaned

    return clean_json


class StackRefused(Exception):
    """A stack CloudFormation refuses before it makes anything (a ValidationError)."""


def rule_value(node: Any, values: dict[str, Any]) -> Any:
    """A Rules expression (Ref, Fn::Equals, Fn::Not, Fn::And, Fn::Or, Fn::Contains,
    Fn::EachMemberEquals, Fn::EachMemberIn) on parameter ``values``."""
    if isinstance(node, list):
        return [rule_value(n, values) for n in node]
    if not isinstance(node, dict):
        return str(node)
    if len(node) != 1:
        raise StackRefused(f"Template error: a rule expression has {len(node)} keys: {sorted(node)}")
    (fn, arg), = node.items()
    if fn == "Ref":
        if arg not in values:
            raise StackRefused(f"Template error: a rule refers to {arg}, which is not a parameter")
        value = values[arg]
        return [str(v) for v in value] if isinstance(value, list) else str(value)
    if fn == "Fn::Equals":
        left, right = (rule_value(x, values) for x in arg)
        return left == right
    if fn == "Fn::Not":
        return not rule_value(arg[0], values)
    if fn == "Fn::And":
        return all(rule_value(x, values) for x in arg)
    if fn == "Fn::Or":
        return any(rule_value(x, values) for x in arg)
    if fn == "Fn::Contains":
        return rule_value(arg[1], values) in rule_value(arg[0], values)
    if fn == "Fn::EachMemberEquals":
        return all(v == rule_value(arg[1], values) for v in rule_value(arg[0], values))
    if fn == "Fn::EachMemberIn":
        allowed = rule_value(arg[1], values)
        return all(v in allowed for v in rule_value(arg[0], values))
    raise StackRefused(f"Template error: {fn} is not a rule function")


def rule_failures(template: dict[str, Any], values: dict[str, Any]) -> list[str]:
    """The AssertDescription of each failed assertion of the template's Rules."""
    failures = []
    for name, rule in (template.get("Rules") or {}).items():
        if "RuleCondition" in rule and not rule_value(rule["RuleCondition"], values):
            continue
        for assertion in rule.get("Assertions", []):
            if not rule_value(assertion["Assert"], values):
                text = assertion.get("AssertDescription") or f"Assertion of rule {name} failed"
                failures.append(" ".join(str(text).split()))
    return failures


# CloudFormation's message for each broken constraint of a parameter
# (template_checks.constraint_violations).
PARAMETER_FAILURES = {
    "AllowedValues": "Parameter '{name}' must be one of AllowedValues",
    "AllowedPattern": "Parameter '{name}' must match pattern {limit}",
    "MinLength": "Parameter '{name}' must contain at least {limit} characters",
    "MaxLength": "Parameter '{name}' must contain at most {limit} characters",
    "Number": "Parameter '{name}' must be a number",
    "MinValue": "Parameter '{name}' must be a number not less than {limit}",
    "MaxValue": "Parameter '{name}' must be a number not greater than {limit}",
}


def parameter_failures(template: dict[str, Any], values: dict[str, Any]) -> list[str]:
    """CloudFormation's message for each parameter value outside its constraints."""
    failures = []
    for name, declared in (template.get("Parameters") or {}).items():
        if name not in values:
            continue
        value = values[name]
        texts = [str(v) for v in value] if isinstance(value, list) else [str(value)]
        problems = [
            PARAMETER_FAILURES[constraint].format(name=name, limit=limit)
            for text in texts
            for constraint, limit in constraint_violations(declared, text)
        ]
        if problems:
            constraint = declared.get("ConstraintDescription")
            failures.append(f"Parameter '{name}' failed to satisfy constraint: {' '.join(str(constraint).split())}"
                            if constraint else problems[0])
    return failures


def _check_parameters_and_rules(resource_map: Any) -> None:
    """Refuses the stack with CloudFormation's ValidationError, before any resource is
    made, if a parameter is outside its constraints or an assertion of the Rules fails."""
    from moto.cloudformation.exceptions import ValidationError

    template = resource_map._template
    values = dict(resource_map.resolved_parameters)
    try:
        failures = parameter_failures(template, values)
        if not failures:
            values.update({"AWS::Region": resource_map._region_name,
                           "AWS::AccountId": resource_map._account_id, "AWS::Partition": "aws",
                           "AWS::StackName": resource_map["AWS::StackName"],
                           "AWS::StackId": resource_map["AWS::StackId"]})
            failures = rule_failures(template, values)
    except StackRefused as err:
        failures = [str(err)]
    if failures:
        raise ValidationError(message=" ".join(failures))


def _load_checked(original: Callable[[Any], None]) -> Callable[[Any], None]:
    def load(resource_map: Any) -> None:
        original(resource_map)
        _check_parameters_and_rules(resource_map)

    return load


def _update_checked(original: Callable[..., None]) -> Callable[..., None]:
    """ResourceMap.update, after the new template and parameters pass the checks."""

    def update(resource_map: Any, template: dict[str, Any], parameters: dict[str, Any] | None = None) -> None:
        probe = copy.copy(resource_map)
        probe._template = template
        probe.input_parameters = parameters if parameters else resource_map.input_parameters
        probe.resolved_parameters = {}
        probe._parsed_resources = dict(resource_map._parsed_resources)
        probe.load_parameters()
        _check_parameters_and_rules(probe)
        original(resource_map, template, parameters)

    return update


class ResourceFailed(Exception):
    def __init__(self, logical_id: str, resource_type: str, reason: str):
        super().__init__(f"{logical_id} ({resource_type}): {reason}")
        self.logical_id, self.resource_type, self.reason = logical_id, resource_type, reason


def _parse_and_create_reporting(original: Callable[..., Any]) -> Callable[..., Any]:
    def parse_and_create_resource(logical_id: str, resource_json: dict[str, Any], *args: Any,
                                  **kwargs: Any) -> Any:
        try:
            return original(logical_id, resource_json, *args, **kwargs)
        except (ResourceFailed, StackRefused):
            raise
        except Exception as err:  # noqa: BLE001 - any error of moto's is the resource's failure
            reason = getattr(err, "message", None) or str(err) or type(err).__name__
            raise ResourceFailed(logical_id, str(resource_json.get("Type", "")),
                                 f"{type(err).__name__}: {reason}") from err

    return parse_and_create_resource


def _parse_and_update_reporting(original: Callable[..., Any]) -> Callable[..., Any]:
    def parse_and_update_resource(logical_id: str, resource_json: dict[str, Any], *args: Any,
                                  **kwargs: Any) -> Any:
        try:
            return original(logical_id, resource_json, *args, **kwargs)
        except ResourceFailed:
            raise
        except Exception as err:  # noqa: BLE001 - any error of moto's is the resource's failure
            reason = getattr(err, "message", None) or str(err) or type(err).__name__
            raise ResourceFailed(logical_id, str(resource_json.get("Type", "")),
                                 f"{type(err).__name__}: {reason}") from err

    return parse_and_update_resource


def _create_resources_reporting(original: Callable[[Any], None]) -> Callable[[Any], None]:
    def create_resources(stack: Any) -> None:
        from moto.cloudformation.models import Event

        try:
            original(stack)
        except ResourceFailed as err:
            made = stack.resource_map._parsed_resources
            stack.resource_map._resource_json_map = {
                k: v for k, v in stack.resource_map._resource_json_map.items()
                if k in made and made[k] is not None}
            stack.events.append(Event(
                stack_id=stack.stack_id, stack_name=stack.name, logical_resource_id=err.logical_id,
                physical_resource_id="", resource_type=err.resource_type, resource_status="CREATE_FAILED",
                resource_status_reason=err.reason, resource_properties=None))
            stack.status = "CREATE_FAILED"
            stack.output_map._output_json_map = {}  # a stack that failed has no outputs
            stack._add_stack_event(
                "CREATE_FAILED",
                resource_status_reason=f"The following resource(s) failed to create: [{err.logical_id}].")

    return create_resources


def _update_reporting(original: Callable[..., None]) -> Callable[..., None]:
    def update(stack: Any, *args: Any, **kwargs: Any) -> None:
        from moto.cloudformation.models import Event

        try:
            original(stack, *args, **kwargs)
        except ResourceFailed as err:
            stack.events.append(Event(
                stack_id=stack.stack_id, stack_name=stack.name, logical_resource_id=err.logical_id,
                physical_resource_id="", resource_type=err.resource_type, resource_status="UPDATE_FAILED",
                resource_status_reason=err.reason, resource_properties=None))
            stack.status = "UPDATE_FAILED"
            stack._add_stack_event(
                "UPDATE_FAILED",
                resource_status_reason=f"The following resource(s) failed to update: [{err.logical_id}].")

    return update


# -- custom resources ----------------------------------------------------------------------

# The emulator's address as the last request reached it (every request passes the
# middleware): the host of the ResponseURLs it gives out.
_SERVED_AT = {"url": "http://127.0.0.1"}
# How long a stack delete waits for a custom resource's answer to its Delete.
CUSTOM_RESOURCE_DELETE_WAIT = 50.0
# Held while moto creates or updates a stack, so that an answer arriving meanwhile
# completes the stack only once moto is done with it.
_STACK_OPERATION = threading.RLock()


def _as_strings(value: Any) -> Any:
    """Property values as CloudFormation passes them to a custom resource: numbers and
    booleans as strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, list):
        return [_as_strings(v) for v in value]
    if isinstance(value, dict):
        return {k: _as_strings(v) for k, v in value.items()}
    return value


class CustomResourceRequests:
    """The requests sent to custom resources and the answers PUT to their ResponseURL,
    for ``GET /_cm/custom-resources`` and ``PUT /_cm/custom-resources/<RequestId>``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, dict[str, Any]] = {}
        self._models: dict[str, Any] = {}
        self._answered: dict[str, threading.Event] = {}

    def send(self, model: Any, request_type: str, properties: dict[str, Any],
             old_properties: dict[str, Any] | None = None) -> str:
        request_id = str(uuid.uuid4())
        request = {
            "RequestType": request_type,
            "ServiceToken": properties.get("ServiceToken", ""),
            "ResponseURL": (f"{_SERVED_AT['url']}/_cm/custom-resources/{request_id}"
                            "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=7200"
                            f"&X-Amz-Signature={uuid.uuid4().hex}{uuid.uuid4().hex}"),
            "StackId": model.cm_stack_id,
            "RequestId": request_id,
            "LogicalResourceId": model.logical_resource_id,
            "ResourceType": model.cm_resource_type,
            "ResourceProperties": _as_strings(properties),
        }
        if request_type != "Create":
            request["PhysicalResourceId"] = model.physical_resource_id
        if old_properties is not None:
            request["OldResourceProperties"] = _as_strings(old_properties)
        entry = {
            "Region": model.cm_region,
            "StackId": model.cm_stack_id,
            "StackName": model.cm_stack_id.split(":stack/", 1)[-1].split("/", 1)[0],
            "LogicalResourceId": model.logical_resource_id,
            "RequestType": request_type,
            "State": "pending",
            "Request": request,
            "Answer": None,
        }
        with self._lock:
            self._items[request_id] = entry
            self._models[request_id] = model
            self._answered[request_id] = threading.Event()
        return request_id

    def wait(self, request_id: str, seconds: float) -> dict[str, Any] | None:
        """The answer to ``request_id`` once it arrives, or None after ``seconds``."""
        with self._lock:
            answered = self._answered.get(request_id)
        if answered is None or not answered.wait(seconds):
            return None
        with self._lock:
            return self._items[request_id]["Answer"]

    def answer(self, request_id: str, body: bytes) -> tuple[int, str]:
        """Takes an answer, as S3 takes the PUT of a pre-signed URL: any body is stored;
        CloudFormation then reads it and fails the resource if it is not a valid answer."""
        with self._lock:
            entry = self._items.get(request_id)
            model = self._models.get(request_id)
            if entry is None or model is None:
                return 404, "NoSuchUpload: no custom resource request " + request_id
            if entry["State"] != "pending":
                return 200, ""  # a second PUT overwrites an object CloudFormation already read
            request = entry["Request"]
            try:
                answer = json.loads(body or b"null")
                if not isinstance(answer, dict):
                    raise ValueError("the answer is not a JSON object")
                for key in ("StackId", "RequestId", "LogicalResourceId"):
                    if answer.get(key) != request[key]:
                        raise ValueError(f"{key} is {answer.get(key)!r}, not {request[key]!r}")
                if answer.get("Status") not in ("SUCCESS", "FAILED"):
                    raise ValueError(f"Status is {answer.get('Status')!r}")
                if not isinstance(answer.get("PhysicalResourceId"), str) or not answer["PhysicalResourceId"]:
                    raise ValueError("PhysicalResourceId is missing")
            except ValueError as err:
                answer = {"Status": "FAILED", "Reason": f"Invalid response object: {err}",
                          "PhysicalResourceId": request.get("PhysicalResourceId", "")}
            entry["Answer"] = answer
            entry["State"] = "answered"
            answered = self._answered[request_id]
        if entry["RequestType"] != "Delete":
            with _STACK_OPERATION:
                model.cm_answered(entry["RequestType"], answer)
        answered.set()
        return 200, ""

    def pending_of(self, stack_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(i) for i in self._items.values()
                    if i["StackId"] == stack_id and i["State"] == "pending"]

    def snapshot(self, state: str | None = None, stack: str | None = None,
                 region: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(i) for i in self._items.values()
                    if (state is None or i["State"] == state)
                    and (stack is None or stack in (i["StackName"], i["StackId"]))
                    and (region is None or i["Region"] == region)]

    def reset(self) -> None:
        with self._lock:
            for answered in self._answered.values():
                answered.set()
            self._items.clear()
            self._models.clear()
            self._answered.clear()


CUSTOM_RESOURCES = CustomResourceRequests()


def _custom_stack(model: Any) -> Any:
    from moto.cloudformation.models import cloudformation_backends

    return cloudformation_backends[model.cm_account][model.cm_region].get_stack(model.cm_stack_id)


def _custom_resource_model() -> type:
    """The model of every Custom:: type: requests through CUSTOM_RESOURCES."""
    from moto.awslambda.utils import get_backend as get_lambda_backend
    from moto.cloudformation.models import Event
    from moto.core.common_models import CloudFormationModel

    class BridgedCustomResource(CloudFormationModel):  # type: ignore[misc]
        # moto files each model under its service, the second part of the module name.
        __module__ = "moto.cloudformation.cm_emulator"

        def __init__(self, account: str, region: str, stack_id: str, logical_id: str, resource_type: str,
                     properties: dict[str, Any], physical_id: str = "") -> None:
            self.cm_account, self.cm_region, self.cm_stack_id = account, region, stack_id
            self.logical_resource_id, self.cm_resource_type = logical_id, resource_type
            self.cm_properties = properties
            self.cm_physical_id = physical_id
            self.cm_data: dict[str, Any] = {}
            self.cm_created = False

        @staticmethod
        def cloudformation_type() -> str:
            return "Custom::*"

        @property
        def physical_resource_id(self) -> str:
            return self.cm_physical_id

        def is_created(self) -> bool:
            return self.cm_created

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return True  # a custom resource's attributes are its answer's Data

        def get_cfn_attribute(self, attribute_name: str) -> Any:
            # None until the answer's Data has it (outputs are read only once complete).
            return self.cm_data.get(attribute_name)

        @staticmethod
        def _check_token(properties: dict[str, Any], account: str, region: str) -> None:
            token = properties.get("ServiceToken")
            if not token:
                raise ValueError("ServiceToken is required")
            get_lambda_backend(account, region).get_function(token)  # fails if it does not exist

        @classmethod
        def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict[str, Any],
                                            account_id: str, region_name: str, **kwargs: Any) -> Any:
            properties = _properties(cloudformation_json)
            cls._check_token(properties, account_id, region_name)
            model = cls(account_id, region_name, str(kwargs.get("StackId", "")), str(kwargs.get("LogicalId", "")),
                        str(kwargs.get("ResourceType", "")), properties)
            CUSTOM_RESOURCES.send(model, "Create", properties)
            BRIDGED.record("Custom resources", region_name, kwargs, "", properties)
            return model

        @classmethod
        def update_from_cloudformation_json(cls, original_resource: Any, new_resource_name: str,
                                            cloudformation_json: dict[str, Any], account_id: str,
                                            region_name: str) -> Any:
            properties = _properties(cloudformation_json)
            cls._check_token(properties, account_id, region_name)
            model = cls(account_id, region_name, original_resource.cm_stack_id,
                        original_resource.logical_resource_id, original_resource.cm_resource_type, properties,
                        original_resource.cm_physical_id)
            model.cm_data = dict(original_resource.cm_data)
            model.cm_created = True
            CUSTOM_RESOURCES.send(model, "Update", properties, original_resource.cm_properties)
            return model

        def delete(self, account_id: str, region_name: str) -> None:
            if not self.cm_physical_id:
                return  # never made: CloudFormation sends no Delete
            request_id = CUSTOM_RESOURCES.send(self, "Delete", self.cm_properties)
            answer = CUSTOM_RESOURCES.wait(request_id, CUSTOM_RESOURCE_DELETE_WAIT)
            if answer is None:
                raise RuntimeError(f"{self.logical_resource_id}: no answer to Delete within "
                                   f"{CUSTOM_RESOURCE_DELETE_WAIT:.0f} s")
            if answer.get("Status") != "SUCCESS":
                raise RuntimeError(f"{self.logical_resource_id}: {answer.get('Reason', '')}")

        def cm_answered(self, request_type: str, answer: dict[str, Any]) -> None:
            """The stack follows the answer to this resource's Create or Update."""
            stack = _custom_stack(self)
            operation = request_type.upper()
            if answer.get("Status") == "SUCCESS":
                self.cm_physical_id = answer["PhysicalResourceId"]
                self.cm_data = dict(answer.get("Data") or {})
                self.cm_created = True
                if stack.status == f"{operation}_IN_PROGRESS" and not CUSTOM_RESOURCES.pending_of(self.cm_stack_id):
                    if operation == "CREATE":
                        stack.verify_readiness()
                    else:
                        stack.status = "UPDATE_COMPLETE"
                        stack._add_stack_event("UPDATE_COMPLETE")
                return
            reason = str(answer.get("Reason") or "no reason given")
            stack.events.append(Event(
                stack_id=stack.stack_id, stack_name=stack.name, logical_resource_id=self.logical_resource_id,
                physical_resource_id=self.cm_physical_id, resource_type=self.cm_resource_type,
                resource_status=f"{operation}_FAILED", resource_status_reason=reason, resource_properties=None))
            if stack.status == f"{operation}_IN_PROGRESS":
                stack.status = f"{operation}_FAILED"
                if operation == "CREATE":
                    stack.output_map._output_json_map = {}
                stack._add_stack_event(
                    f"{operation}_FAILED",
                    resource_status_reason=f"The following resource(s) failed to {request_type.lower()}: "
                                           f"[{self.logical_resource_id}].")

    return BridgedCustomResource


def _create_resources_locked(original: Callable[[Any], None]) -> Callable[[Any], None]:
    def create_resources(stack: Any) -> None:
        with _STACK_OPERATION:
            original(stack)

    return create_resources


def _update_waiting_for_custom_resources(original: Callable[..., None]) -> Callable[..., None]:
    """Stack.update, after which the stack stays UPDATE_IN_PROGRESS while a custom
    resource's Update has no answer."""

    def update(stack: Any, *args: Any, **kwargs: Any) -> None:
        with _STACK_OPERATION:
            original(stack, *args, **kwargs)
            if stack.status == "UPDATE_COMPLETE" and CUSTOM_RESOURCES.pending_of(stack.stack_id):
                stack.status = "UPDATE_IN_PROGRESS"
                if stack.events and stack.events[-1].resource_status == "UPDATE_COMPLETE":
                    stack.events.pop()

    return update


# -- updates follow replaced resources -------------------------------------------------------


def _refers_to(node: Any) -> set[str]:
    """The names a template fragment refers to: Ref, Fn::GetAtt and Fn::Sub."""
    from moto.cloudformation import parsing

    found = set(parsing.get_references_from_template(node))
    todo = [node]
    while todo:
        item = todo.pop()
        if isinstance(item, list):
            todo.extend(item)
        elif isinstance(item, dict):
            attribute = item.get("Fn::GetAtt")
            if isinstance(attribute, list) and attribute:
                found.add(str(attribute[0]))
            elif isinstance(attribute, str):
                found.add(attribute.split(".", 1)[0])
            todo.extend(item.values())
    return found


def _dependency_order(resources: dict[str, Any]) -> list[str]:
    """Logical ids, each after every resource it refers to or depends on."""
    refs = {}
    for logical_id, resource in resources.items():
        deps = _refers_to(resource.get("Properties") or {})
        extra = resource.get("DependsOn") or []
        deps |= set([extra] if isinstance(extra, str) else extra)
        refs[logical_id] = {d for d in deps if d in resources and d != logical_id}
    ordered: list[str] = []
    seen: set[str] = set()

    def visit(logical_id: str, path: tuple[str, ...]) -> None:
        if logical_id in seen or logical_id in path:
            return
        for dep in sorted(refs[logical_id]):
            visit(dep, path + (logical_id,))
        seen.add(logical_id)
        ordered.append(logical_id)

    for logical_id in resources:
        visit(logical_id, ())
    return ordered


def _diff_in_dependency_order(original: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    def build_resource_diff(resource_map: Any, other_template: dict[str, Any],
                            parameters: dict[str, Any] | None = None) -> dict[str, Any]:
        diff = original(resource_map, other_template, parameters)
        order = _dependency_order(other_template.get("Resources") or {})
        diff["Modify"].sort(key=lambda name: order.index(name) if name in order else len(order))
        resource_map.cm_modify = diff["Modify"]
        resource_map.cm_order = order
        resource_map.cm_followed = set()
        return diff

    return build_resource_diff


def _update_followed_by_dependents(original: Callable[..., Any]) -> Callable[..., Any]:
    def parse_and_update_resource(logical_id: str, resource_json: dict[str, Any], resources_map: Any,
                                  *args: Any, **kwargs: Any) -> Any:
        before = resources_map._parsed_resources.get(logical_id)
        old_id = getattr(before, "physical_resource_id", None)
        updated = original(logical_id, resource_json, resources_map, *args, **kwargs)
        modify = getattr(resources_map, "cm_modify", None)
        new_id = getattr(updated, "physical_resource_id", None)
        if modify is None or updated is None or old_id is None or new_id == old_id:
            return updated
        resources = resources_map._resource_json_map
        order = getattr(resources_map, "cm_order", list(resources))
        resources_map.cm_followed = getattr(resources_map, "cm_followed", set()) | {logical_id}
        for name in order:
            if name in modify or name in resources_map.cm_followed or name not in resources_map._parsed_resources:
                continue
            if logical_id in _refers_to(resources[name].get("Properties") or {}):
                modify.append(name)
                BRIDGED.record("Stack updates: dependents of a replaced resource", resources_map._region_name,
                               {"StackId": resources_map.stack_id, "LogicalId": name,
                                "ResourceType": resources[name].get("Type", "")},
                               "", {"Replaced": logical_id, "From": old_id, "To": new_id})
        return updated

    return parse_and_update_resource


# -- deletes ---------------------------------------------------------------------------------

# The lifecycle actions of the emulator (set by build_app), which a group's delete uses.
_LIFECYCLE: dict[str, Any] = {"actions": None}
# How long a group's delete waits for its instances' terminate lifecycle actions.
GROUP_DELETE_WAIT = 50.0


def _group_delete_waiting_for_hooks(original: Callable[..., None]) -> Callable[..., None]:
    def delete(group: Any, account_id: str, region_name: str) -> None:
        import time

        from moto.autoscaling.models import autoscaling_backends

        actions = _LIFECYCLE["actions"]
        backend = autoscaling_backends[account_id][region_name]
        hooks = [h for h in backend.lifecycle_hooks.values()
                 if h.auto_scaling_group_name == group.name
                 and h.lifecycle_transition == "autoscaling:EC2_INSTANCE_TERMINATING"]
        waiting = []
        if actions is not None and hooks:
            for state in group.instance_states:
                if state.lifecycle_state not in ("InService", "Pending"):
                    continue
                state.lifecycle_state = "Terminating:Wait"
                record = actions.register(region_name, {
                    "AutoScalingGroupName": group.name, "LifecycleHookName": hooks[0].name,
                    "InstanceId": state.instance.id})
                waiting.append(record["LifecycleActionToken"])
                BRIDGED.record("AWS::AutoScaling::AutoScalingGroup delete", region_name,
                               {"StackId": getattr(group, "cm_stack_id", ""),
                                "LogicalId": getattr(group, "logical_resource_id", ""),
                                "ResourceType": "AWS::AutoScaling::AutoScalingGroup"},
                               group.name, dict(record))
        timeout = min([GROUP_DELETE_WAIT] + [float(h.heartbeat_timeout) for h in hooks])
        deadline = time.monotonic() + timeout
        while waiting and time.monotonic() < deadline:
            pending = {a["LifecycleActionToken"] for a in actions.snapshot()["pending"]}
            waiting = [t for t in waiting if t in pending]
            time.sleep(0.1)
        original(group, account_id, region_name)

    return delete


def _record_deleted_by_value(original: Callable[..., None]) -> Callable[..., None]:
    def delete(record: Any, account_id: str, region: str) -> None:
        from moto.route53.models import route53_backends
        from moto.utilities.utils import get_partition

        backend = route53_backends[account_id][get_partition(region)]
        zone = backend.get_hosted_zone(record.hosted_zone_id) if record.hosted_zone_id else \
            backend.get_hosted_zone_by_name(record.hosted_zone_name)
        name = _fully_qualified(record.name)
        for current in zone.rrsets if zone else []:
            if _fully_qualified(current.name) == name and current.type == record.type:
                if _record_values(current.records) != _record_values(record.records) or \
                        str(current.ttl) != str(record.ttl):
                    raise ValueError(
                        f"InvalidChangeBatch: Tried to delete resource record set [name='{name}', "
                        f"type='{record.type}'] but the values provided do not match the current values")
        original(record, account_id, region)

    return delete


def _delete_zone(zone: Any, account_id: str, region: str) -> None:
    from moto.route53.models import route53_backends
    from moto.utilities.utils import get_partition

    route53_backends[account_id][get_partition(region)].delete_hosted_zone(zone.id)


def _network_deletes() -> dict[str, Any]:
    """moto's EC2 network models, each given the delete CloudFormation makes."""
    from moto.ec2.models import ec2_backends
    from moto.ec2.models.internet_gateways import InternetGateway
    from moto.ec2.models.route_tables import Route, RouteTable
    from moto.ec2.models.subnets import SubnetRouteTableAssociation
    from moto.ec2.models.vpn_gateway import VPCGatewayAttachment

    def backend(account_id: str, region: str) -> Any:
        return ec2_backends[account_id][region]

    def delete_table(table: Any, account_id: str, region: str) -> None:
        backend(account_id, region).delete_route_table(table.id)

    def delete_route(route: Any, account_id: str, region: str) -> None:
        route.route_table._routes.pop(route.id, None)

    def delete_association(association: Any, account_id: str, region: str) -> None:
        backend(account_id, region).subnet_associations.pop(
            f"{association.route_table_id}:{association.subnet_id}", None)

    def delete_gateway(gateway: Any, account_id: str, region: str) -> None:
        backend(account_id, region).delete_internet_gateway(gateway.id)

    def delete_attachment(attachment: Any, account_id: str, region: str) -> None:
        if attachment.gateway_id and attachment.gateway_id.startswith("igw-"):
            backend(account_id, region).detach_internet_gateway(attachment.gateway_id, attachment.vpc_id)

    deletes = {RouteTable: delete_table, Route: delete_route, SubnetRouteTableAssociation: delete_association,
               InternetGateway: delete_gateway, VPCGatewayAttachment: delete_attachment}
    for model, delete in deletes.items():
        model.delete = delete
    return deletes


def _record_values(records: Any) -> list[str]:
    return sorted(str(r.get("Value", "")) if isinstance(r, dict) else str(r) for r in records or [])


def _delete_in_dependency_order(resource_map: Any) -> None:
    """ResourceMap.delete as CloudFormation orders it; the first failure stops it."""
    resources = resource_map._resource_json_map
    for logical_id in reversed(_dependency_order(resources)):
        resource_json = resources[logical_id]
        parsed = resource_map._parsed_resources.get(logical_id)
        if resource_json.get("DeletionPolicy") == "Retain" or parsed is None or isinstance(parsed, str):
            continue
        try:
            resource_map._delete_resource(parsed, resource_json)
        except Exception as err:  # noqa: BLE001 - any error of moto's is the resource's failure
            reason = getattr(err, "message", None) or str(err) or type(err).__name__
            raise ResourceFailed(logical_id, str(resource_json.get("Type", "")), reason) from err
        resource_map._parsed_resources.pop(logical_id)


def _delete_stack_reporting(original: Callable[..., None]) -> Callable[..., None]:
    """DeleteStack; a resource that cannot be deleted leaves the stack DELETE_FAILED."""

    def delete_stack(backend: Any, name_or_stack_id: str) -> None:
        from moto.cloudformation.models import Event

        stack = next((s for s in list(backend.stacks.values())
                      if name_or_stack_id in (s.stack_id, s.name)), None)
        try:
            original(backend, name_or_stack_id)
        except ResourceFailed as err:
            if stack is None:
                raise
            if stack.status == "DELETE_FAILED":
                raise  # reported already (a delete by name deletes by id)
            backend.stacks[stack.stack_id] = stack
            backend.deleted_stacks.pop(stack.stack_id, None)
            stack.events.append(Event(
                stack_id=stack.stack_id, stack_name=stack.name, logical_resource_id=err.logical_id,
                physical_resource_id="", resource_type=err.resource_type, resource_status="DELETE_FAILED",
                resource_status_reason=err.reason, resource_properties=None))
            stack.status = "DELETE_FAILED"
            stack._add_stack_event(
                "DELETE_FAILED",
                resource_status_reason=f"The following resource(s) failed to delete: [{err.logical_id}].")

    return delete_stack


# -- exports ---------------------------------------------------------------------------------


def _exports_when_created(original: property) -> property:
    """OutputMap.exports: none until the stack is created (``cm_exporting``), then only the
    outputs whose Condition holds."""

    def exports(output_map: Any) -> list[Any]:
        if not getattr(output_map, "cm_exporting", False):
            return []
        conditions = output_map._resource_map.lazy_condition_map
        kept = dict(output_map._output_json_map or {})
        output_map._output_json_map = {k: v for k, v in kept.items()
                                       if "Condition" not in v or conditions.get(v["Condition"])}
        try:
            return original.fget(output_map)
        finally:
            output_map._output_json_map = kept

    return property(exports)


def _export_on_completion(original: Callable[[Any], None]) -> Callable[[Any], None]:
    """Stack.mark_creation_complete, after the stack's exports are registered in its region
    (or the stack failed on a name another stack already exports)."""

    def mark_creation_complete(stack: Any) -> None:
        from moto.cloudformation.models import Event, cloudformation_backends

        backend = cloudformation_backends[stack.account_id][stack.region_name]
        stack.output_map.cm_exporting = True
        exports = stack.exports
        taken = [e for e in exports if e.name in backend.exports
                 and backend.exports[e.name].exporting_stack_id != stack.stack_id]
        if taken:
            stack.output_map.cm_exporting = False
            other = backend.exports[taken[0].name].exporting_stack_id
            reason = (f"Export with name {taken[0].name} is already exported by stack "
                      f"{other.split(':stack/', 1)[-1].split('/', 1)[0]}")
            stack.events.append(Event(
                stack_id=stack.stack_id, stack_name=stack.name, logical_resource_id=stack.name,
                physical_resource_id=stack.stack_id, resource_type="AWS::CloudFormation::Stack",
                resource_status="CREATE_FAILED", resource_status_reason=reason, resource_properties=None))
            stack.status = "CREATE_FAILED"
            stack.output_map._output_json_map = {}
            return
        for export in exports:
            backend.exports[export.name] = export
        if exports:
            BRIDGED.record("Outputs: Export", stack.region_name,
                           {"StackId": stack.stack_id, "LogicalId": stack.name,
                            "ResourceType": "AWS::CloudFormation::Stack"},
                           stack.stack_id, {"Exports": {e.name: e.value for e in exports}})
        original(stack)

    return mark_creation_complete


def _update_exporting(original: Callable[..., None]) -> Callable[..., None]:
    """Stack.update keeping the stack's exports: the new outputs' exports replace the old."""

    def update(stack: Any, *args: Any, **kwargs: Any) -> None:
        from moto.cloudformation.models import cloudformation_backends

        exporting = getattr(stack.output_map, "cm_exporting", False)
        before = [e.name for e in stack.exports]
        original(stack, *args, **kwargs)
        stack.output_map.cm_exporting = exporting
        if exporting and stack.status == "UPDATE_COMPLETE":
            backend = cloudformation_backends[stack.account_id][stack.region_name]
            for name in before:
                backend.exports.pop(name, None)
            for export in stack.exports:
                backend.exports[export.name] = export

    return update


# -- ECS: the agent's attributes and the cluster query language ----------------------------


def _register_container_instance_with_attributes(response: Any) -> Any:
    """RegisterContainerInstance, keeping the request's attributes on the instance."""
    from moto.core.responses import ActionResult

    cluster = response._get_param("cluster", "default")
    document = json.loads(response._get_param("instanceIdentityDocument"))
    instance = response.ecs_backend.register_container_instance(cluster, document["instanceId"])
    attributes = response._get_param("attributes") or []
    for attribute in attributes:
        instance.attributes[attribute["name"]] = attribute.get("value")
    if attributes:
        BRIDGED.record("ECS container instance attributes", response.ecs_backend.region_name,
                       {"ResourceType": "AWS::ECS::ContainerInstance"}, instance.container_instance_arn,
                       {"attributes": attributes})
    return ActionResult({"containerInstance": instance})


_QUERY_TERM = re.compile(
    r"^(?:attribute:(?P<name>[A-Za-z0-9_.\-]+)\s+(?:(?P<op>==|!=)\s+(?P<value>\S+)|(?P<exists>exists))"
    r"|ec2InstanceId\s+==\s+(?P<instance>\S+))$")


def cluster_query_matches(expression: str, instance_id: str, attributes: dict[str, Any]) -> bool:
    """Whether a container instance (its EC2 id and attributes) matches ``expression`` of
    ECS's cluster query language; ValueError for the forms the emulator does not evaluate."""
    terms = re.split(r"\s+and\s+", expression.strip())
    matched = True
    for term in terms:
        found = _QUERY_TERM.match(term.strip())
        if not found:
            raise ValueError(
                f"the emulator evaluates attribute:NAME ==|!= VALUE, attribute:NAME exists and "
                f"ec2InstanceId == ID joined by 'and', not {term!r}")
        if found["instance"] is not None:
            matched &= instance_id == found["instance"]
        elif found["exists"]:
            matched &= found["name"] in attributes
        else:
            value = attributes.get(found["name"])
            equal = value is not None and str(value) == found["value"]
            matched &= equal if found["op"] == "==" else not equal
    return matched


def _list_container_instances_filtered(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def list_container_instances(response: Any) -> Any:
        from moto.core.responses import ActionResult
        from moto.ecs.exceptions import InvalidParameterException

        expression = response._get_param("filter")
        if not expression:
            return original(response)
        cluster = response._get_param("cluster", "default").split("/")[-1]
        status = response._get_param("status")
        instances = response.ecs_backend.container_instances.get(cluster, {}).values()
        try:
            arns = sorted(i.container_instance_arn for i in instances
                          if (status is None or i.status == status)
                          and cluster_query_matches(expression, i.ec2_instance_id, i.attributes))
        except ValueError as err:
            raise InvalidParameterException(str(err)) from err
        return ActionResult({"containerInstanceArns": arns})

    return list_container_instances


_CFN_INSTALLED = False
_CFN_INSTALLED = False


def install_cfn_bridges() -> None:
    """Installs every bridge of CFN_BRIDGES into moto (once per process)."""
    global _CFN_INSTALLED
    if _CFN_INSTALLED:
        return
    from moto.autoscaling.models import FakeAutoScalingGroup
    from moto.awslambda.models import LambdaFunction
    from moto.cloudformation import models as cfn_models
    from moto.cloudformation import parsing
    from moto.ec2.models.instances import InstanceBackend
    from moto.ec2.models.security_groups import SecurityGroup
    from moto.ec2.models.subnets import Subnet
    from moto.ecs.models import TaskDefinition
    from moto.logs.models import LogGroup
    from moto.route53.models import FakeZone, HostedZoneIdentifier, RecordSet

    from moto.awslambda.models import LambdaBackend

    # Bridge 4 (module doc): a Lambda subscription's messages are not run in Docker.
    LambdaBackend.send_sns_message = lambda self, *args, **kwargs: None
    installed = {
        "AWS::CloudWatch::Alarm": _bridged_model(
            "AWS::CloudWatch::Alarm", "AlarmName", {"Arn": "Arn"},
            _create_alarm, _delete_alarm),
        "AWS::Logs::SubscriptionFilter": _bridged_model(
            "AWS::Logs::SubscriptionFilter", "FilterName", {},
            _create_subscription_filter, _delete_subscription_filter),
        "AWS::Lambda::EventInvokeConfig": _bridged_model(
            "AWS::Lambda::EventInvokeConfig", "", {},
            _create_event_invoke_config, _delete_event_invoke_config),
        "AWS::Lambda::Url": _bridged_model(
            "AWS::Lambda::Url", "", {"FunctionUrl": "FunctionUrl", "FunctionArn": "FunctionArn"},
            _create_function_url, _delete_function_url),
        "AWS::SNS::Subscription": _bridged_model(
            "AWS::SNS::Subscription", "", {"Arn": "Arn"},
            _create_sns_subscription, _delete_sns_subscription),
    }
    parsing.clean_json = _clean_json_without_novalue(parsing.clean_json)
    installed["AWS::NoValue in a list"] = parsing.clean_json
    _wrap_create(FakeZone, "AWS::Route53::HostedZone", _complete_hosted_zone)
    FakeZone.get_cfn_attribute = _hosted_zone_attribute
    FakeZone.has_cfn_attr = classmethod(lambda cls, attr: attr in ("NameServers", "Id"))
    installed["AWS::Route53::HostedZone"] = FakeZone
    FakeZone.create_from_cloudformation_json = classmethod(
        _create_zone_fully_qualified(FakeZone.create_from_cloudformation_json))
    RecordSet.create_from_cloudformation_json = classmethod(
        _create_record_fully_qualified(RecordSet.create_from_cloudformation_json))
    ref_of_record = RecordSet.physical_resource_id
    RecordSet.physical_resource_id = property(lambda r: getattr(r, "cm_ref", None) or ref_of_record.fget(r))
    installed["Route 53 names are fully qualified"] = RecordSet
    HostedZoneIdentifier.generate = _zone_id_starting_with_z(HostedZoneIdentifier.generate)
    installed["Route 53 hosted zone ids"] = HostedZoneIdentifier
    LogGroup.get_cfn_attribute = _log_group_attribute(LogGroup.get_cfn_attribute)
    installed["AWS::Logs::LogGroup Arn"] = LogGroup
    _wrap_create(SecurityGroup, "AWS::EC2::SecurityGroup rules", _complete_security_group,
                 strip=("SecurityGroupIngress", "SecurityGroupEgress"))
    installed["AWS::EC2::SecurityGroup rules"] = SecurityGroup
    _wrap_create(Subnet, "AWS::EC2::Subnet MapPublicIpOnLaunch", _complete_subnet)
    installed["AWS::EC2::Subnet MapPublicIpOnLaunch"] = Subnet
    InstanceBackend.run_instances = _run_instances_resolving(InstanceBackend.run_instances)
    installed["ImageId resolve:ssm:"] = InstanceBackend.run_instances
    _wrap_create(FakeAutoScalingGroup, "AWS::AutoScaling::AutoScalingGroup LifecycleHookSpecificationList",
                 _complete_group_hooks)
    installed["AWS::AutoScaling::AutoScalingGroup LifecycleHookSpecificationList"] = FakeAutoScalingGroup
    TaskDefinition.create_from_cloudformation_json = classmethod(_create_task_definition)
    TaskDefinition.update_from_cloudformation_json = classmethod(_update_task_definition)
    installed["AWS::ECS::TaskDefinition"] = TaskDefinition
    _wrap_create(LambdaFunction, "AWS::Lambda::Function configuration", _complete_function)
    LambdaFunction.update_from_cloudformation_json = classmethod(
        _update_function_completed(LambdaFunction.update_from_cloudformation_json))
    LambdaFunction.get_configuration = _function_configuration(LambdaFunction.get_configuration)
    installed["AWS::Lambda::Function configuration"] = LambdaFunction

    parsing.ResourceMap.load = _load_checked(parsing.ResourceMap.load)
    parsing.ResourceMap.update = _update_checked(parsing.ResourceMap.update)
    installed["Rules"] = installed["Parameter constraints"] = parsing.ResourceMap.load
    parsing.parse_and_create_resource = _parse_and_create_reporting(parsing.parse_and_create_resource)
    parsing.parse_and_update_resource = _parse_and_update_reporting(parsing.parse_and_update_resource)
    cfn_models.Stack.create_resources = _create_resources_reporting(cfn_models.Stack.create_resources)
    cfn_models.Stack.update = _update_reporting(cfn_models.Stack.update)
    installed["Resource creation failure"] = parsing.parse_and_create_resource
    cfn_models.Stack.stack_resources = property(
        lambda stack: [r for r in stack.resource_map.values() if r is not None])
    installed["Resources whose Condition is false"] = cfn_models.Stack.stack_resources
    parsing.get_references_from_template = _references_with_sub(parsing.get_references_from_template)
    installed["Stack updates: parameters in Fn::Sub"] = parsing.get_references_from_template
    parsing.CustomModel = _custom_resource_model()
    cfn_models.Stack.create_resources = _create_resources_locked(cfn_models.Stack.create_resources)
    cfn_models.Stack.update = _update_waiting_for_custom_resources(cfn_models.Stack.update)
    installed["Custom resources"] = parsing.CustomModel
    parsing.ResourceMap.build_resource_diff = _diff_in_dependency_order(parsing.ResourceMap.build_resource_diff)
    parsing.parse_and_update_resource = _update_followed_by_dependents(parsing.parse_and_update_resource)
    installed["Stack updates: dependents of a replaced resource"] = parsing.parse_and_update_resource
    parsing.ResourceMap.delete = _delete_in_dependency_order
    cfn_models.CloudFormationBackend.delete_stack = _delete_stack_reporting(
        cfn_models.CloudFormationBackend.delete_stack)
    installed["Stack deletes in dependency order"] = parsing.ResourceMap.delete
    FakeAutoScalingGroup.delete = _group_delete_waiting_for_hooks(FakeAutoScalingGroup.delete)
    installed["AWS::AutoScaling::AutoScalingGroup delete"] = FakeAutoScalingGroup.delete
    RecordSet.delete = _record_deleted_by_value(RecordSet.delete)
    FakeZone.delete = _delete_zone
    installed["Route 53 deletes"] = RecordSet.delete
    installed["EC2 network deletes"] = _network_deletes()

    parsing.OutputMap.exports = _exports_when_created(parsing.OutputMap.exports)
    cfn_models.Stack.mark_creation_complete = _export_on_completion(cfn_models.Stack.mark_creation_complete)
    cfn_models.Stack.update = _update_exporting(cfn_models.Stack.update)
    installed["Outputs: Export"] = cfn_models.Stack.mark_creation_complete
    from moto.ecs.responses import EC2ContainerServiceResponse

    EC2ContainerServiceResponse.register_container_instance = _register_container_instance_with_attributes
    installed["ECS container instance attributes"] = EC2ContainerServiceResponse.register_container_instance
    EC2ContainerServiceResponse.list_container_instances = _list_container_instances_filtered(
        EC2ContainerServiceResponse.list_container_instances)
    installed["ECS ListContainerInstances filter"] = EC2ContainerServiceResponse.list_container_instances

    from moto.moto_api import state_manager

    state_manager.set_transition(model_name="ecs::task", transition={"progression": "manual", "times": 2**62})
    installed["ECS task status"] = state_manager

    missing = set(CFN_BRIDGES) ^ set(installed)
    if missing:
        raise RuntimeError(f"CFN_BRIDGES and the installed bridges differ: {sorted(missing)}")
    for cache in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cache.cache_clear()
    _CFN_INSTALLED = True


# ---------------------------------------------------------------------------
# The middleware
# ---------------------------------------------------------------------------


def _read_body(environ: Environ) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _respond(start_response: StartResponse, status: int, body: bytes, content_type: str,
             extra: Iterable[tuple[str, str]] = ()) -> list[bytes]:
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 500: "Internal Server Error",
              503: "Service Unavailable"}
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body))), *extra]
    start_response(f"{status} {reason.get(status, 'Status')}", headers)
    return [body]


def _json(start_response: StartResponse, status: int, doc: Any) -> list[bytes]:
    return _respond(start_response, status, json.dumps(doc).encode(), "application/json")


class Bridge:
    """WSGI middleware: RPCv2-CBOR for CloudWatch, CompleteLifecycleAction, the
    harness endpoints, counts and faults (the CloudFormation bridges live in moto)."""

    def __init__(self, app: Callable[[Environ, StartResponse], Iterable[bytes]],
                 lifecycle: LifecycleActions):
        self.app = app
        self.lifecycle = lifecycle
        self.calls: Counter[str] = Counter()
        self.faults = Faults()
        self._lock = threading.Lock()

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        body = _read_body(environ)
        _SERVED_AT["url"] = f"http://{environ.get('SERVER_NAME', '127.0.0.1')}:{environ.get('SERVER_PORT', '80')}"
        if path.startswith("/_cm/"):
            return self._harness(environ, start_response, path, body)
        if not path.startswith("/moto-api"):
            operation = operation_name(environ, body)
            with self._lock:
                self.calls[operation] += 1
            fault = self.faults.take(operation)
            if fault:
                service, _ = signing_scope(environ)
                protocol = wire_protocol(environ)
                status, error, content_type = fault_response(fault, protocol, service or "")
                extra = [("smithy-protocol", "rpc-v2-cbor")] if protocol == "cbor" else []
                if service == "monitoring" and protocol != "xml":
                    # CloudWatch is awsQueryCompatible: the query-era code and fault
                    # travel in this header, which the SDKs read first.
                    code = "Throttling;Sender" if fault == "throttle" else "ServiceUnavailable;Receiver"
                    extra.append(("x-amzn-query-error", code))
                return _respond(start_response, status, error, content_type, extra)
        elif path == "/moto-api/reset":
            BRIDGED.reset()
            CUSTOM_RESOURCES.reset()
        if path.startswith(RPCV2_PREFIX):
            return self._cloudwatch_cbor(environ, start_response, path, body)
        service, region = signing_scope(environ)
        if service == "autoscaling" and body:
            params = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
            if params.get("Action") == "CompleteLifecycleAction":
                return self._complete_lifecycle_action(start_response, region or "us-east-1", params)
        return self.app(environ, start_response)

    # -- bridge 1: CloudWatch RPCv2-CBOR -> JSON -> RPCv2-CBOR -------------------
    def _cloudwatch_cbor(self, environ: Environ, start_response: StartResponse, path: str,
                         body: bytes) -> list[bytes]:
        operation = path[len(RPCV2_PREFIX):]
        cbor_headers = [("smithy-protocol", "rpc-v2-cbor")]
        try:
            request = cbor_to_json(cbor2.loads(body)) if body else {}
        except (cbor2.CBORDecodeError, ValueError) as err:
            error = cbor2.dumps({"__type": "com.amazonaws.cloudwatch#SerializationException",
                                 "message": f"request body is not valid CBOR: {err}"})
            return _respond(start_response, 400, error, "application/cbor", cbor_headers)
        json_body = json.dumps(request).encode()
        inner = dict(environ)
        inner.update(
            {
                "PATH_INFO": "/",
                "RAW_URI": "/",
                "REQUEST_URI": "/",
                "QUERY_STRING": "",
                "CONTENT_TYPE": "application/x-amz-json-1.0",
                "CONTENT_LENGTH": str(len(json_body)),
                "HTTP_X_AMZ_TARGET": f"{CLOUDWATCH_SERVICE}.{operation}",
                "wsgi.input": io.BytesIO(json_body),
            }
        )
        inner.pop("HTTP_SMITHY_PROTOCOL", None)
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
            captured["status"] = int(status.split()[0])
            return lambda _data: None

        chunks = self.app(inner, capture)
        try:
            raw = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close:
                close()
        status = captured.get("status", 500)
        if status >= 400:
            return _respond(start_response, status, json_error_to_cbor(status, raw),
                            "application/cbor", cbor_headers)
        document = json.loads(raw) if raw.strip() else {}
        return _respond(start_response, status, encode_cbor(document), "application/cbor", cbor_headers)

    # -- bridge 2: CompleteLifecycleAction ------------------------------------
    def _complete_lifecycle_action(self, start_response: StartResponse, region: str,
                                   params: dict[str, str]) -> list[bytes]:
        request_id = str(uuid.uuid4())
        try:
            self.lifecycle.complete(region, params)
        except LifecycleActionError as err:
            xml = (
                f'<ErrorResponse xmlns="{AUTOSCALING_XMLNS}"><Error><Type>Sender</Type>'
                f"<Code>ValidationError</Code><Message>{_xml_escape(str(err))}</Message></Error>"
                f"<RequestId>{request_id}</RequestId></ErrorResponse>"
            )
            return _respond(start_response, 400, xml.encode(), "text/xml")
        xml = (
            f'<CompleteLifecycleActionResponse xmlns="{AUTOSCALING_XMLNS}">'
            "<CompleteLifecycleActionResult/>"
            f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
            "</CompleteLifecycleActionResponse>"
        )
        return _respond(start_response, 200, xml.encode(), "text/xml")

    # -- harness endpoints ---------------------------------------------------------
    def _harness(self, environ: Environ, start_response: StartResponse, path: str,
                 body: bytes) -> list[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if path.startswith("/_cm/custom-resources/") and method == "PUT":
            status, error = CUSTOM_RESOURCES.answer(path.rsplit("/", 1)[-1], body)
            return _respond(start_response, status, error.encode(), "text/plain")
        if path == "/_cm/custom-resources" and method == "GET":
            query = parse_qs(environ.get("QUERY_STRING", ""))
            return _json(start_response, 200, CUSTOM_RESOURCES.snapshot(
                query.get("state", [None])[0], query.get("stack", [None])[0], query.get("region", [None])[0]))
        if path == "/_cm/calls" and method == "GET":
            with self._lock:
                return _json(start_response, 200, dict(self.calls))
        if path == "/_cm/lifecycle-actions" and method == "GET":
            return _json(start_response, 200, self.lifecycle.snapshot())
        if path == "/_cm/lifecycle-actions" and method == "POST":
            try:
                doc = json.loads(body or b"{}")
                region = str(doc.pop("Region", "us-east-1"))
                return _json(start_response, 200, self.lifecycle.register(region, doc))
            except (ValueError, LifecycleActionError) as err:
                return _json(start_response, 400, {"error": str(err)})
        if path == "/_cm/sns-messages" and method == "GET":
            region = parse_qs(environ.get("QUERY_STRING", "")).get("region", ["us-east-1"])[0]
            return _json(start_response, 200, moto_sns_messages(region))
        if path == "/_cm/bridges" and method == "GET":
            return _json(start_response, 200, [{"Bridge": k, "Why": v} for k, v in CFN_BRIDGES.items()])
        if path == "/_cm/bridged" and method == "GET":
            query = parse_qs(environ.get("QUERY_STRING", ""))
            return _json(start_response, 200, BRIDGED.snapshot(query.get("stack", [None])[0],
                                                               query.get("region", [None])[0]))
        if path == "/_cm/eventbridge/route" and method == "POST":
            try:
                doc = json.loads(body or b"{}")
                if not isinstance(doc.get("Event"), dict):
                    raise ValueError("Event must be an object")
                return _json(start_response, 200, moto_route_event(
                    str(doc.get("Region", "us-east-1")), doc["Event"], str(doc.get("EventBusName", "default"))))
            except ValueError as err:
                return _json(start_response, 400, {"error": str(err)})
        if path == "/_cm/eventbridge/schedules" and method == "GET":
            region = parse_qs(environ.get("QUERY_STRING", "")).get("region", ["us-east-1"])[0]
            return _json(start_response, 200, moto_schedules(region))
        if path == "/_cm/faults" and method == "POST":
            try:
                return _json(start_response, 200, self.faults.add(json.loads(body or b"{}")))
            except ValueError as err:
                return _json(start_response, 400, {"error": str(err)})
        if path == "/_cm/faults" and method == "GET":
            return _json(start_response, 200, self.faults.snapshot())
        if path == "/_cm/faults" and method == "DELETE":
            self.faults.clear()
            return _json(start_response, 200, {"cleared": True})
        if path == "/_cm/reset" and method == "POST":
            with self._lock:
                self.calls.clear()
            self.faults.clear()
            self.lifecycle.reset()
            return _json(start_response, 200, {"reset": True})
        return _json(start_response, 404, {"error": f"no harness endpoint {method} {path}"})


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def build_app() -> Bridge:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    install_cfn_bridges()
    lifecycle = LifecycleActions(moto_hook_exists)
    _LIFECYCLE["actions"] = lifecycle
    return Bridge(DomainDispatcherApplication(create_backend_app), lifecycle)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--no-stdin-watch", action="store_true",
                        help="keep running when standard input closes")
    args = parser.parse_args(argv)

    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import make_server

    class QuietHandler(MotoRequestHandler):
        def log_request(self, *a: Any, **k: Any) -> None:  # one line per call is noise in tests
            pass

    server = make_server(args.host, args.port, build_app(), threaded=True, request_handler=QuietHandler)
    stop = threading.Event()

    def shutdown(*_: Any) -> None:
        if not stop.is_set():
            stop.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    if not args.no_stdin_watch:
        def watch_stdin() -> None:
            while sys.stdin.buffer.read(4096):
                pass
            shutdown()

        threading.Thread(target=watch_stdin, daemon=True).start()

    print(f"CM_EMULATOR_READY {server.server_port}", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
