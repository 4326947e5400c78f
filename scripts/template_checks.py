"""Checks of template.yaml on the template as CloudFormation will see it (the SAM
transform applied, so the functions' roles are plain AWS::IAM::Role resources): IAM
least privilege, and every resource name within its AWS limit.

Usage: python scripts/template_checks.py template.yaml OUT.json
  Writes the transformed template to OUT.json (checkov then scans it too) and prints
  every problem; exits 1 if there is one. Needs cfn-lint and aws-sam-translator (both
  in .tools, from scripts/setup-tools). The checks themselves (iam_problems,
  name_problems, rule_failures and parameter_problems, which evaluate the template's
  Rules and parameter constraints offline, deployed_resources, which evaluates its
  Conditions) are plain Python over the template, tested in tests/template/.

Names: every parameter that can reach a name gets its longest value (MaxLength
characters that its AllowedPattern accepts, the longest AllowedValue, or MaxValue),
and every name property listed in NAME_LIMITS is evaluated with them and compared
with its limit; a name property that depends on the parameters but has no limit
listed is a problem too. This is done once per Component: the resources that
component does not deploy are left out, and each Fn::If that the component decides
takes its branch (one that it does not decide takes the longer branch).

The rules:
- no wildcard in an action (``ecs:*``, ``ecs:Describe*``): every action is named;
- ``Resource: "*"`` only for actions that have no resource-level permission in AWS,
  each listed below with why the function needs it; PutMetricData only with its
  namespace condition;
- no NotAction / NotResource, and no principal but an AWS service in trust policies;
- AWS managed policies only from the list below, each with why.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
from typing import Any, NamedTuple

# Actions AWS authorises on "*" only (Service Authorization Reference: no resource
# type), and why a function of this template calls them.
NO_RESOURCE_LEVEL = {
    "autoscaling:DescribeAutoScalingGroups": "the ECS sync, DNS updater and watchdog read the group's state",
    "ec2:DescribeInstances": "the DNS updater reads the launched instance's public address",
    "cloudwatch:PutMetricData": "the trigger's keep-alive metric (scoped by the cloudwatch:namespace condition)",
    "cloudwatch:GetMetricData": "the control panel reads the presence probe's Players of each container",
}

# AWS managed policies the template may attach, and why.
MANAGED_POLICIES = {
    "service-role/AWSLambdaBasicExecutionRole": "SAM's default for a function: its own logs",
    "service-role/AmazonEC2ContainerServiceforEC2Role": (
        "the ECS agent on the instance; AWS keeps it in step with the agent's calls"
    ),
    "AmazonSSMManagedInstanceCore": "Session Manager access to the instance instead of SSH",
    "service-role/AmazonECSTaskExecutionRolePolicy": "pulling the image and writing the container's logs",
}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


NO_VALUE = {"Ref": "AWS::NoValue"}


def alternatives(node: Any) -> list[Any]:
    """Every value ``node`` can take through its (nested) Fn::If, AWS::NoValue left
    out: a policy or statement that exists only under a condition is judged as if it
    were always there."""
    if isinstance(node, dict) and set(node) == {"Fn::If"}:
        _, yes, no = node["Fn::If"]
        return alternatives(yes) + alternatives(no)
    return [] if node == NO_VALUE else [node]


def _items(node: Any) -> list[Any]:
    """The entries of a list that may be an Fn::If of lists, or hold Fn::If entries."""
    out = []
    for whole in alternatives(node):
        for item in _list(whole):
            out.extend(alternatives(item))
    return out


def _managed_name(arn: Any) -> str | None:
    """``service-role/X`` or ``X`` from an AWS managed policy ARN (plain or !Sub)."""
    if isinstance(arn, dict) and "Fn::Sub" in arn:
        arn = _list(arn["Fn::Sub"])[0]
    if isinstance(arn, str) and ":iam::aws:policy/" in arn:
        return arn.split(":iam::aws:policy/", 1)[1]
    return None


def statement_problems(where: str, statement: dict[str, Any]) -> list[str]:
    problems = []
    if statement.get("Effect") != "Allow":
        return problems
    for key in ("NotAction", "NotResource"):
        if key in statement:
            problems.append(f"{where}: {key} grants everything but a list")
    actions = [a for a in _list(statement.get("Action", [])) if isinstance(a, str)]
    for action in actions:
        if "*" in action:
            problems.append(f"{where}: wildcard action {action!r}")
    if "*" in _list(statement.get("Resource", [])):
        for action in actions:
            if action not in NO_RESOURCE_LEVEL:
                problems.append(
                    f"{where}: {action} on Resource \"*\": it has resource-level permissions, name the resource"
                )
        if "cloudwatch:PutMetricData" in actions:
            condition = statement.get("Condition", {}).get("StringEquals", {})
            if "cloudwatch:namespace" not in condition:
                problems.append(f"{where}: cloudwatch:PutMetricData without a cloudwatch:namespace condition")
    return problems


def iam_problems(template: dict[str, Any]) -> list[str]:
    """Every least-privilege problem of the IAM roles and policies in a (transformed)
    CloudFormation template."""
    problems = []
    for name, resource in template.get("Resources", {}).items():
        kind, props = resource.get("Type"), resource.get("Properties", {})
        if kind == "AWS::IAM::Role":
            trust = props.get("AssumeRolePolicyDocument", {}).get("Statement", [])
            for i, statement in enumerate(_list(trust)):
                principal = statement.get("Principal", {})
                if not isinstance(principal, dict) or set(principal) != {"Service"}:
                    problems.append(f"{name} trust statement {i}: principal {principal!r} is not an AWS service")
            for arn in props.get("ManagedPolicyArns", []):
                managed = _managed_name(arn)
                if managed is None or managed not in MANAGED_POLICIES:
                    problems.append(f"{name}: managed policy {arn!r} is not on the reviewed list")
            policies = _items(props.get("Policies", []))
        elif kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            policies = [{"PolicyName": name, "PolicyDocument": props.get("PolicyDocument", {})}]
        else:
            continue
        for policy in policies:
            if not isinstance(policy, dict):
                problems.append(f"{name}: a policy that is not an object: {policy!r}")
                continue
            document = policy.get("PolicyDocument", {})
            for i, statement in enumerate(_items(document.get("Statement", []))):
                sid = statement.get("Sid", str(i))
                problems.extend(statement_problems(f"{name}/{policy.get('PolicyName', '?')}/{sid}", statement))
    return problems


# ------------------------------------------------------------------ names and limits

# AWS's limits on the names (and name-like strings) the template sets, per resource
# type and property path ("[]" walks a list). Service quotas pages and API references.
NAME_LIMITS: dict[str, dict[str, int]] = {
    "AWS::Lambda::Function": {"FunctionName": 64, "Description": 256},
    "AWS::IAM::Role": {"RoleName": 64},
    "AWS::IAM::InstanceProfile": {"InstanceProfileName": 128},
    "AWS::IAM::Policy": {"PolicyName": 128},
    "AWS::IAM::ManagedPolicy": {"ManagedPolicyName": 128},
    "AWS::Logs::LogGroup": {"LogGroupName": 512},
    "AWS::Logs::ResourcePolicy": {"PolicyName": 255},
    "AWS::Logs::SubscriptionFilter": {"FilterName": 512, "LogGroupName": 512},
    # A DNS name: 253 characters written without the trailing dot.
    "AWS::Route53::HostedZone": {"Name": 253, "HostedZoneConfig.Comment": 256},
    "AWS::Route53::RecordSet": {"Name": 253},
    "AWS::SQS::Queue": {"QueueName": 80},
    "AWS::SNS::Topic": {"TopicName": 256, "DisplayName": 100},
    "AWS::EC2::SecurityGroup": {"GroupName": 255, "GroupDescription": 255},
    "AWS::EC2::LaunchTemplate": {"LaunchTemplateName": 128},
    "AWS::AutoScaling::AutoScalingGroup": {
        "AutoScalingGroupName": 255,
        "LifecycleHookSpecificationList[].LifecycleHookName": 255,
    },
    "AWS::AutoScaling::LifecycleHook": {"LifecycleHookName": 255},
    "AWS::ECS::Cluster": {"ClusterName": 255},
    "AWS::ECS::TaskDefinition": {"Family": 255, "ContainerDefinitions[].Name": 255},
    "AWS::ECS::Service": {"ServiceName": 255},
    # Repeats the service's properties (its name among them): the service's limit.
    "Custom::ServiceReconcile": {"ServiceName": 255},
    "AWS::CloudWatch::Alarm": {"AlarmName": 255, "AlarmDescription": 1024},
    "AWS::Events::Rule": {"Name": 64, "Description": 512},
    "AWS::Scheduler::Schedule": {"Name": 64, "Description": 512},
    "AWS::Lambda::EventInvokeConfig": {},
    "AWS::Lambda::Permission": {},
}

# Limits that hold wherever the property appears (tags, metric dimensions).
ANY_RESOURCE_LIMITS = {
    "Tags[].Key": 128,
    "Tags[].Value": 256,
    "FileSystemTags[].Value": 256,
    "LaunchTemplateData.TagSpecifications[].Tags[].Value": 256,
    "Dimensions[].Value": 1024,
    "Metrics[].MetricStat.Metric.Dimensions[].Value": 1024,
}

# The longest values of the pseudo parameters.
LONGEST_PSEUDO = {
    "AWS::Region": "us-isof-south-1",  # the longest region names have 15 characters
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws-us-gov",
    "AWS::StackName": "s" * 128,
    "AWS::URLSuffix": "amazonaws.com.cn",
    "AWS::StackId": "arn:aws-us-gov:cloudformation:us-isof-south-1:123456789012:stack/" + "s" * 128 + "/" + "0" * 36,
}

# What a Ref to a resource returns, at its longest, when that is not the resource's own
# name property.
LONGEST_REF = {
    "AWS::EFS::MountTarget": "fsmt-" + "0" * 17,
    "AWS::EFS::FileSystem": "fs-" + "0" * 17,
    "AWS::Route53::HostedZone": "Z" + "0" * 31,
}

# The property whose value a Ref to the resource returns, where that is its name.
REF_IS_PROPERTY = {
    "AWS::Route53::RecordSet": "Name",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::ECS::Cluster": "ClusterName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::AutoScaling::AutoScalingGroup": "AutoScalingGroupName",
    "AWS::Lambda::Function": "FunctionName",
}


class Unbounded(str):
    """A value whose length the template does not bound; its text says why."""


def _domain_like(length: int) -> str:
    """A domain name of exactly ``length`` characters: 63-character labels."""
    labels, left = [], length
    while left > 0:
        take = min(63, left)
        if 0 < left - take - 1 < 2:  # leave room for a final label of 2+ characters
            take = left - 3
        labels.append("a" * take)
        left -= take + 1
    return ".".join(labels)


def longest_value(name: str, parameter: dict[str, Any]) -> str:
    """The longest value ``parameter`` accepts, or an Unbounded saying why not."""
    if "AllowedValues" in parameter:
        return max((str(v) for v in parameter["AllowedValues"]), key=len)
    if parameter.get("Type") == "Number":
        if "MaxValue" in parameter:
            return str(parameter["MaxValue"])
        return Unbounded(f"parameter {name} has no MaxValue")
    if "MaxLength" not in parameter:
        return Unbounded(f"parameter {name} has no MaxLength")
    length = int(parameter["MaxLength"])
    pattern = parameter.get("AllowedPattern")
    for candidate in ("a" * length, _domain_like(length)):
        if pattern is None or re.fullmatch(pattern, candidate):
            return candidate
    return Unbounded(f"parameter {name}: no value of MaxLength {length} matches its AllowedPattern")


def longest_parameters(template: dict[str, Any]) -> dict[str, str]:
    values = {name: longest_value(name, p) for name, p in template.get("Parameters", {}).items()}
    values.update(LONGEST_PSEUDO)
    return values


def exports_of(template: dict[str, Any]) -> dict[str, Any]:
    """The template's own exports, export name (as written) -> value: one template is
    several components, so an Fn::ImportValue of one of them (a container stack's of
    its base stack's exports) has the value that output has in the base stack."""
    return {
        json.dumps(o["Export"]["Name"], sort_keys=True): o["Value"]
        for o in template.get("Outputs", {}).values()
        if isinstance(o, dict) and "Export" in o
    }


class Scope(NamedTuple):
    """What ``evaluate`` and ``resolve`` evaluate a template fragment in, given to them
    after the fragment: the parameter ``values``, the template's ``resources``, the
    conditions ``decided`` (by ``decided_conditions``; None: none) and the template's
    ``exports`` (by ``exports_of``)."""

    values: dict[str, str]
    resources: dict[str, Any]
    decided: dict[str, bool] | None = None
    exports: dict[str, Any] | None = None


def evaluate(node: Any, *scope: Any) -> Any:
    """``node`` with its intrinsic functions applied to the ``values`` of its ``Scope``.
    An Fn::If takes the branch of its condition where ``decided`` has it; otherwise both
    branches are possible and it takes the longer. An Fn::ImportValue of one of
    ``exports`` is that export's value. Strings, lists, or Unbounded."""
    values, resources, decided, exports = within = Scope(*scope)

    def ev(n: Any) -> Any:
        return evaluate(n, *within)

    def ref(name: str) -> str:
        if name in values:
            return values[name]
        resource = resources.get(name)
        if resource is None:
            return Unbounded(f"Ref {name}: no such parameter or resource")
        kind = resource.get("Type")
        if kind in LONGEST_REF:
            return LONGEST_REF[kind]
        prop = REF_IS_PROPERTY.get(kind)
        if prop and prop in resource.get("Properties", {}):
            return ev(resource["Properties"][prop])
        return Unbounded(f"Ref {name} ({kind}): its length is not known")

    if isinstance(node, bool):
        return str(node).lower()
    if isinstance(node, (int, float)):
        return str(node)
    if isinstance(node, str):
        return str(node)
    if isinstance(node, list):
        return [ev(n) for n in node]
    if not isinstance(node, dict) or len(node) != 1:
        return Unbounded("not a string")
    (fn, arg), = node.items()
    if fn == "Ref":
        return ref(arg)
    if fn == "Fn::If":
        if decided is not None and arg[0] in decided:
            return ev(arg[1] if decided[arg[0]] else arg[2])
        branches = [ev(arg[1]), ev(arg[2])]
        for b in branches:
            if isinstance(b, Unbounded):
                return b
        strings = [b for b in branches if isinstance(b, str)]
        return max(strings, key=len) if strings else branches[0]
    if fn == "Fn::Sub":
        text, local = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
        local_values = {k: ev(v) for k, v in local.items()}
        out = []
        for literal, bang, var in re.findall(r"([^$]*)(?:\$\{(!?)([^}]*)\})?", text):
            out.append(literal)
            if not var:
                continue
            if bang:
                out.append("${" + var + "}")
                continue
            value = local_values[var] if var in local_values else (
                ref(var) if "." not in var else Unbounded(f"${{{var}}}: an attribute")
            )
            if isinstance(value, Unbounded):
                return value
            out.append(str(value))
        return "".join(out)
    if fn == "Fn::Join":
        parts = ev(arg[1])
        if isinstance(parts, Unbounded):
            return parts
        for p in parts:
            if isinstance(p, Unbounded):
                return p
        return str(arg[0]).join(str(p) for p in parts)
    if fn == "Fn::Split":
        whole = ev(arg[1])
        return whole if isinstance(whole, Unbounded) else whole.split(str(arg[0]))
    if fn == "Fn::Select":
        items = ev(arg[1])
        if isinstance(items, Unbounded):
            return items
        index = int(ev(arg[0]))
        return items[index] if index < len(items) else ""
    if fn == "Fn::GetAtt":
        target = arg if isinstance(arg, list) else arg.split(".", 1)
        return Unbounded(f"Fn::GetAtt {'.'.join(target)}: its length is not known")
    if fn == "Fn::ImportValue":
        key = json.dumps(arg, sort_keys=True)
        if exports and key in exports:
            return ev(exports[key])
        return Unbounded(f"Fn::ImportValue {key}: not an export of this template")
    return Unbounded(f"{fn}: not evaluated")


_DROPPED = object()


def resolve(node: Any, *scope: Any) -> Any:
    """A whole template fragment (properties, lists) with its intrinsic functions
    evaluated in its ``Scope`` as ``evaluate`` does: each decided Fn::If replaced by its
    branch, an AWS::NoValue left out of its list or object; an undecided Fn::If stays,
    with both branches resolved."""
    within = Scope(*scope)
    decided = within.decided

    def r(n: Any) -> Any:
        if isinstance(n, list):
            return [x for x in (r(v) for v in n) if x is not _DROPPED]
        if not isinstance(n, dict):
            return n
        if n == NO_VALUE:
            return _DROPPED
        if len(n) == 1:
            (fn, arg), = n.items()
            if fn == "Fn::If":
                if decided is not None and arg[0] in decided:
                    return r(arg[1] if decided[arg[0]] else arg[2])
                yes, no = (r(x) for x in arg[1:])
                return {"Fn::If": [arg[0], *(NO_VALUE if x is _DROPPED else x for x in (yes, no))]}
            if fn == "Ref" or fn.startswith("Fn::"):
                return evaluate(n, *within)
        return {k: x for k, x in ((k, r(v)) for k, v in n.items()) if x is not _DROPPED}

    out = r(node)
    return None if out is _DROPPED else out


# ------------------------------------------------------------------ conditions

def condition_value(template: dict[str, Any], name: str, values: dict[str, str]) -> bool | None:
    """The template's condition ``name`` on the parameter ``values`` given: True,
    False, or None when it depends on a parameter that ``values`` leaves out."""
    conditions = template.get("Conditions", {})

    def c(node: Any) -> bool | None:
        if not isinstance(node, dict) or len(node) != 1:
            raise ValueError(f"condition {name}: {node!r} is not a condition function")
        (fn, arg), = node.items()
        if fn == "Condition":
            return c(conditions[arg])
        if fn == "Fn::Equals":
            a, b = (evaluate(x, values, {}) for x in arg)
            if isinstance(a, Unbounded) or isinstance(b, Unbounded):
                return None
            return str(a) == str(b)
        if fn == "Fn::Not":
            inner = c(arg[0])
            return None if inner is None else not inner
        if fn == "Fn::And":
            parts = [c(x) for x in arg]
            return False if False in parts else (None if None in parts else True)
        if fn == "Fn::Or":
            parts = [c(x) for x in arg]
            return True if True in parts else (None if None in parts else False)
        raise ValueError(f"condition {name}: {fn} is not evaluated")

    return c(conditions[name])


def decided_conditions(template: dict[str, Any], values: dict[str, str]) -> dict[str, bool]:
    """Every condition of the template that ``values`` decide, with its value."""
    decided = {}
    for name in template.get("Conditions", {}):
        value = condition_value(template, name, values)
        if value is not None:
            decided[name] = value
    return decided


def parameter_values(template: dict[str, Any], parameters: dict[str, str], region: str = "us-east-1") -> dict[str, str]:
    """Every parameter's value (``parameters``, the rest at their defaults) and the
    pseudo parameters of ``region``."""
    values = {n: str(p["Default"]) for n, p in template.get("Parameters", {}).items() if "Default" in p}
    values.update({n: str(v) for n, v in parameters.items()})
    values.update({"AWS::Region": region, "AWS::AccountId": "123456789012", "AWS::Partition": "aws"})
    return values


def deployed_resources(template: dict[str, Any], parameters: dict[str, str], region: str = "us-east-1") -> dict[str, Any]:
    """The resources a stack of the (transformed) template creates with ``parameters``
    (the rest at their defaults): those without a condition or whose condition holds."""
    values = parameter_values(template, parameters, region)
    out = {}
    for logical_id, resource in template.get("Resources", {}).items():
        cond = resource.get("Condition")
        if cond is None or condition_value(template, cond, values):
            out[logical_id] = resource
    return out


def components(template: dict[str, Any]) -> list[str]:
    return [str(v) for v in template.get("Parameters", {}).get("Component", {}).get("AllowedValues", [None])]


def _at(node: Any, path: str) -> list[tuple[str, Any]]:
    """The values at ``path`` ("A.B[].C") under ``node``, with their concrete paths."""
    found = [("", node)]
    for step in path.split("."):
        many = step.endswith("[]")
        key = step[:-2] if many else step
        nxt = []
        for where, value in found:
            if not isinstance(value, dict) or key not in value:
                continue
            child = value[key]
            if many:
                if isinstance(child, list):
                    nxt.extend((f"{where}.{key}[{i}]".lstrip("."), c) for i, c in enumerate(child))
            else:
                nxt.append((f"{where}.{key}".lstrip("."), child))
        found = nxt
    return found


def _pure_reference(node: Any) -> bool:
    return isinstance(node, dict) and len(node) == 1 and next(iter(node)) in ("Ref", "Fn::GetAtt")


def name_problems(template: dict[str, Any], component: str | None = None) -> tuple[int, list[str]]:
    """(how many names were checked, every name over its limit or unbounded) at the
    longest parameter values, in a CloudFormation template (SAM transform applied).
    With a ``component``: the names of a stack of that Component (what it does not
    deploy left out, what it decides decided)."""
    resources = template.get("Resources", {})
    longest = longest_parameters(template)
    defaults = {n: str(p.get("Default", "")) for n, p in template.get("Parameters", {}).items()}
    defaults.update(LONGEST_PSEUDO)
    decided = None
    if component is not None:
        longest["Component"] = defaults["Component"] = component
        decided = decided_conditions(template, {"Component": component})
    exports = exports_of(template)
    problems, checked = [], 0
    for logical_id, resource in resources.items():
        if decided is not None and decided.get(resource.get("Condition", ""), True) is False:
            continue
        kind, props = resource.get("Type", ""), resource.get("Properties", {})
        limits = dict(ANY_RESOURCE_LIMITS)
        limits.update(NAME_LIMITS.get(kind, {}))
        for path, limit in limits.items():
            for where, node in _at(props, path):
                value = evaluate(node, longest, resources, decided, exports)
                checked += 1
                if isinstance(value, Unbounded):
                    problems.append(f"{logical_id}.{where}: cannot bound its length ({value})")
                elif not isinstance(value, str):
                    problems.append(f"{logical_id}.{where}: not a string")
                elif len(value) > limit:
                    problems.append(
                        f"{logical_id}.{where} reaches {len(value)} characters at the longest "
                        f"parameters (AWS allows {limit}): {value}"
                    )
        # A name-like property without a listed limit, set from the parameters.
        for key, node in props.items():
            if not (key.endswith("Name") or key == "Family") or key in limits or _pure_reference(node):
                continue
            if evaluate(node, longest, resources, decided, exports) != evaluate(node, defaults, resources, decided, exports):
                problems.append(f"{logical_id}.{key} ({kind}) depends on the parameters but has no limit in NAME_LIMITS")
    return checked, problems


# ------------------------------------------------------------------ rules, offline

def rule_value(node: Any, values: dict[str, str]) -> Any:
    """A Rules expression evaluated on parameter ``values`` (pseudo parameters too)."""
    if isinstance(node, list):
        return [rule_value(n, values) for n in node]
    if not isinstance(node, dict):
        return str(node)
    (fn, arg), = node.items()
    if fn == "Ref":
        return values[arg]
    if fn == "Fn::Equals":
        a, b = (rule_value(x, values) for x in arg)
        return a == b
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
    raise ValueError(f"{fn} is not evaluated offline")


def rule_failures(template: dict[str, Any], parameters: dict[str, str], region: str) -> list[str]:
    """The AssertDescription of every assertion of the template's Rules that fails for
    ``parameters`` (the rest at their defaults) in ``region``; [] when CloudFormation
    would accept them."""
    declared = template.get("Parameters", {})
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise ValueError(f"not parameters of the template: {unknown}")
    values = {n: str(p["Default"]) for n, p in declared.items() if "Default" in p}
    values.update({n: str(v) for n, v in parameters.items()})
    missing = sorted(set(declared) - set(values))
    if missing:
        raise ValueError(f"parameters without a default need a value: {missing}")
    values.update({"AWS::Region": region, "AWS::AccountId": "123456789012", "AWS::Partition": "aws"})
    failures = []
    for rule in template.get("Rules", {}).values():
        if "RuleCondition" in rule and not rule_value(rule["RuleCondition"], values):
            continue
        for assertion in rule["Assertions"]:
            if not rule_value(assertion["Assert"], values):
                failures.append(" ".join(str(assertion.get("AssertDescription", assertion)).split()))
    return failures


def constraint_violations(declared: dict[str, Any], text: str) -> list[tuple[str, Any]]:
    """The constraints of a parameter (``declared``: its declaration in Parameters) that
    the value ``text`` breaks, as CloudFormation checks them, each as (constraint, its
    limit): AllowedValues, AllowedPattern, MinLength, MaxLength, and for a Number
    parameter ``("Number", None)`` when the value is not a number, else MinValue and
    MaxValue. The template checks here and the local AWS emulator's CloudFormation
    (tests/emulator/cm_emulator.py) both refuse parameter values by it, each with its
    own messages."""
    broken: list[tuple[str, Any]] = []
    allowed = declared.get("AllowedValues")
    if allowed is not None and text not in [str(v) for v in allowed]:
        broken.append(("AllowedValues", allowed))
    pattern = declared.get("AllowedPattern")
    if pattern is not None and re.fullmatch(pattern, text) is None:
        broken.append(("AllowedPattern", pattern))
    if "MinLength" in declared and len(text) < int(declared["MinLength"]):
        broken.append(("MinLength", declared["MinLength"]))
    if "MaxLength" in declared and len(text) > int(declared["MaxLength"]):
        broken.append(("MaxLength", declared["MaxLength"]))
    if declared.get("Type") == "Number":
        try:
            number = float(text)
        except ValueError:
            return broken + [("Number", None)]
        if "MinValue" in declared and number < float(declared["MinValue"]):
            broken.append(("MinValue", declared["MinValue"]))
        if "MaxValue" in declared and number > float(declared["MaxValue"]):
            broken.append(("MaxValue", declared["MaxValue"]))
    return broken


# How parameter_problems words each broken constraint.
PARAMETER_PROBLEMS = {
    "AllowedValues": "{name}={value!r} is not one of {limit}",
    "AllowedPattern": "{name}={value!r} does not match its AllowedPattern",
    "MinLength": "{name}={value!r} is shorter than {limit}",
    "MaxLength": "{name}={value!r} is longer than {limit}",
    "Number": "{name}={value!r} is not a number",
    "MinValue": "{name}={value} is under {limit}",
    "MaxValue": "{name}={value} is over {limit}",
}


def parameter_problems(template: dict[str, Any], parameters: dict[str, str]) -> list[str]:
    """What CloudFormation would refuse in ``parameters`` before the Rules: a value
    outside its parameter's AllowedValues, AllowedPattern, lengths or bounds."""
    declared = template.get("Parameters", {})
    problems = []
    for name, value in parameters.items():
        if name not in declared:
            problems.append(f"{name} is not a parameter of the template")
            continue
        value = str(value)
        problems.extend(
            PARAMETER_PROBLEMS[constraint].format(name=name, value=value, limit=limit)
            for constraint, limit in constraint_violations(declared[name], value)
        )
    return problems


def samconfig_environments(path: str) -> dict[str, tuple[str, dict[str, str]]]:
    """samconfig.toml's environments: name -> (region, parameter overrides)."""
    import tomllib

    with open(path, "rb") as f:
        config = tomllib.load(f)
    environments = {}
    for name, commands in config.items():
        if not isinstance(commands, dict) or "deploy" not in commands:
            continue
        region = commands.get("global", {}).get("parameters", {}).get("region", "us-east-1")
        overrides = commands["deploy"]["parameters"].get("parameter_overrides", "")
        pairs = dict(item.split("=", 1) for item in shlex.split(overrides))
        environments[name] = (region, pairs)
    return environments


def transform(path: str) -> dict[str, Any]:
    """The template after the SAM transform, offline (the functions' local CodeUri
    replaced by an S3 location, as `sam package` does)."""
    from cfnlint.decode import decode
    from samtranslator.translator.transform import transform as sam_transform

    class NoManagedPolicyLookup:
        """Policies are inline statements and ARNs: nothing to look up in IAM."""

        def load(self) -> dict[str, str]:
            return {}

    template, matches = decode(path)
    if matches or template is None:
        raise SystemExit(f"cannot read {path}: {matches}")
    for resource in template.get("Resources", {}).values():
        props = resource.get("Properties", {})
        if resource.get("Type") == "AWS::Serverless::Function" and "CodeUri" in props:
            props["CodeUri"] = "s3://packaged/code.zip"
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    return sam_transform(template, {}, NoManagedPolicyLookup())


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    transformed = transform(argv[1])
    with open(argv[2], "w", encoding="utf-8") as out:
        json.dump(transformed, out, indent=1, default=str)
    problems = iam_problems(transformed)
    roles = sum(1 for r in transformed.get("Resources", {}).values() if r.get("Type") == "AWS::IAM::Role")
    for problem in problems:
        print(f"IAM: {problem}")
    names, name_issues = 0, []  # per Component, summed
    for component in components(transformed):
        checked, issues = name_problems(transformed, component)
        names += checked
        name_issues += [f"Component={component}: {issue}" for issue in issues]
    for problem in name_issues:
        print(f"name: {problem}")
    samconfig = os.path.join(os.path.dirname(os.path.abspath(argv[1])), "samconfig.toml")
    rule_issues = []
    environments = samconfig_environments(samconfig) if os.path.exists(samconfig) else {}
    for env, (region, overrides) in environments.items():
        for failure in parameter_problems(transformed, overrides) or rule_failures(transformed, overrides, region):
            rule_issues.append(f"samconfig.toml [{env}] in {region}: {failure}")
    for problem in rule_issues:
        print(f"rules: {problem}")
    print(
        f"template_checks: {roles} roles checked, {len(problems)} IAM problems; "
        f"{names} names checked at the longest parameters, {len(name_issues)} problems; "
        f"{len(transformed.get('Rules', {}))} rules, {len(environments)} samconfig environments, "
        f"{len(rule_issues)} refused; resources at the defaults: "
        + ", ".join(
            f"{c} {len(deployed_resources(transformed, {'Component': c}))}" for c in components(transformed)
        )
    )
    return 1 if problems or name_issues or rule_issues else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
