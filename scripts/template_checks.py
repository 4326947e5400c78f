"""Least-privilege checks of template.yaml's IAM, on the template as CloudFormation
will see it (the SAM transform applied, so the functions' roles are plain
AWS::IAM::Role resources).

Usage: python scripts/template_checks.py template.yaml OUT.json
  Writes the transformed template to OUT.json (checkov then scans it too) and prints
  every IAM problem; exits 1 if there is one. Needs cfn-lint and aws-sam-translator
  (both in .tools, from scripts/setup-tools). The rules themselves (iam_problems) are
  plain Python over the transformed template, tested in tests/template/.

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
import sys
from typing import Any

# Actions AWS authorises on "*" only (Service Authorization Reference: no resource
# type), and why a function of this template calls them.
NO_RESOURCE_LEVEL = {
    "autoscaling:DescribeAutoScalingGroups": "the ECS sync, DNS updater and watchdog read the group's state",
    "ec2:DescribeInstances": "the DNS updater reads the launched instance's public address",
    "cloudwatch:PutMetricData": "the trigger's keep-alive metric (scoped by the cloudwatch:namespace condition)",
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
            policies = props.get("Policies", [])
        elif kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            policies = [{"PolicyName": name, "PolicyDocument": props.get("PolicyDocument", {})}]
        else:
            continue
        for policy in policies:
            document = policy.get("PolicyDocument", {})
            for i, statement in enumerate(_list(document.get("Statement", []))):
                sid = statement.get("Sid", str(i))
                problems.extend(statement_problems(f"{name}/{policy.get('PolicyName', '?')}/{sid}", statement))
    return problems


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
    print(f"template_checks: {roles} roles checked, {len(problems)} IAM problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
