"""The least-privilege rules of scripts/template_checks.py, on small templates.

(`.ci/run` applies them to the real template.yaml after the SAM transform.)"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))

import template_checks  # noqa: E402


def role(statements, managed=(), principal=None):
    return {
        "Resources": {
            "FnRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": {
                        "Statement": [
                            {"Effect": "Allow", "Principal": principal or {"Service": ["lambda.amazonaws.com"]},
                             "Action": ["sts:AssumeRole"]}
                        ]
                    },
                    "ManagedPolicyArns": list(managed),
                    "Policies": [{"PolicyName": "P", "PolicyDocument": {"Statement": statements}}],
                },
            }
        }
    }


SCOPED = {
    "Sid": "Publish",
    "Effect": "Allow",
    "Action": "sns:Publish",
    "Resource": {"Ref": "Topic"},
}


def test_a_scoped_role_passes():
    basic = "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    read = {"Effect": "Allow", "Action": ["ec2:DescribeInstances", "autoscaling:DescribeAutoScalingGroups"],
            "Resource": "*"}
    metric = {"Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*",
              "Condition": {"StringEquals": {"cloudwatch:namespace": "ContainerManager"}}}
    assert template_checks.iam_problems(role([SCOPED, read, metric], managed=[{"Fn::Sub": basic}])) == []


def test_wildcard_actions_are_refused():
    for action in ("ecs:*", "ecs:Describe*", "*"):
        problems = template_checks.iam_problems(role([dict(SCOPED, Action=[action])]))
        assert problems == [f"FnRole/P/Publish: wildcard action {action!r}"]


def test_star_resource_only_for_actions_without_resource_level_permissions():
    problems = template_checks.iam_problems(role([dict(SCOPED, Resource="*")]))
    assert len(problems) == 1 and "sns:Publish on Resource \"*\"" in problems[0]


def test_put_metric_data_needs_its_namespace_condition():
    metric = {"Sid": "M", "Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*"}
    assert template_checks.iam_problems(role([metric])) == [
        "FnRole/P/M: cloudwatch:PutMetricData without a cloudwatch:namespace condition"
    ]


def test_not_action_and_foreign_principals_and_unreviewed_managed_policies_are_refused():
    not_action = {"Sid": "N", "Effect": "Allow", "NotAction": "iam:*", "Resource": {"Ref": "Topic"}}
    problems = template_checks.iam_problems(
        role([not_action], managed=["arn:aws:iam::aws:policy/AdministratorAccess"], principal={"AWS": "*"})
    )
    assert any("NotAction" in p for p in problems)
    assert any("AdministratorAccess" in p for p in problems)
    assert any("is not an AWS service" in p for p in problems)


def test_deny_statements_are_not_judged():
    deny = {"Effect": "Deny", "Action": "*", "Resource": "*"}
    assert template_checks.iam_problems(role([deny])) == []
