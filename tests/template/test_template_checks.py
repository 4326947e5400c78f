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


def test_a_policy_or_statement_under_a_condition_is_judged_too():
    no_value = {"Ref": "AWS::NoValue"}
    wide = {"Sid": "Wide", "Effect": "Allow", "Action": "s3:*", "Resource": "*"}
    conditional_policy = role([SCOPED])
    conditional_policy["Resources"]["FnRole"]["Properties"]["Policies"] = [
        {"Fn::If": ["HasFile", {"PolicyName": "Q", "PolicyDocument": {"Statement": [wide]}}, no_value]}
    ]
    problems = template_checks.iam_problems(conditional_policy)
    assert "FnRole/Q/Wide: wildcard action 's3:*'" in problems
    conditional_statement = role([{"Fn::If": ["HasFile", wide, no_value]}])
    assert "FnRole/P/Wide: wildcard action 's3:*'" in template_checks.iam_problems(conditional_statement)


def test_parameter_problems_are_what_cloudformation_refuses_before_the_rules():
    template = {
        "Parameters": {
            "Name": {"Type": "String", "AllowedPattern": "^[a-z]+$", "MaxLength": 5},
            "Kind": {"Type": "String", "AllowedValues": ["a", "b"]},
            "Count": {"Type": "Number", "MinValue": 1, "MaxValue": 3},
        }
    }
    assert template_checks.parameter_problems(template, {"Name": "abc", "Kind": "b", "Count": "2"}) == []
    problems = template_checks.parameter_problems(
        template, {"Name": "abcdef1", "Kind": "c", "Count": "4", "Other": "x"}
    )
    assert problems == [
        "Name='abcdef1' does not match its AllowedPattern",
        "Name='abcdef1' is longer than 5",
        "Kind='c' is not one of ['a', 'b']",
        "Count=4 is over 3",
        "Other is not a parameter of the template",
    ]


COMPONENTS = {
    "Parameters": {
        "Component": {"Type": "String", "Default": "all", "AllowedValues": ["all", "base", "container"]},
        "Base": {"Type": "String", "Default": "cm", "MaxLength": 3},
        "Subnet": {"Type": "String", "Default": ""},
    },
    "Conditions": {
        "DeployAll": {"Fn::Equals": [{"Ref": "Component"}, "all"]},
        "DeployBase": {"Fn::Or": [{"Condition": "DeployAll"}, {"Fn::Equals": [{"Ref": "Component"}, "base"]}]},
        "CreateVpc": {"Fn::And": [{"Condition": "DeployBase"}, {"Fn::Equals": [{"Ref": "Subnet"}, ""]}]},
    },
    "Resources": {
        "Cluster": {
            "Type": "AWS::ECS::Cluster",
            "Condition": "DeployBase",
            "Properties": {"ClusterName": {"Fn::If": [
                "DeployAll", {"Fn::Sub": "${Base}-cluster-with-a-long-suffix"}, {"Fn::Sub": "${Base}-cluster"}
            ]}},
        },
        "Service": {
            "Type": "AWS::ECS::Service",
            "Properties": {"ServiceName": {"Fn::Sub": [
                "${ClusterName}-service",
                {"ClusterName": {"Fn::If": [
                    "DeployAll", {"Ref": "Cluster"}, {"Fn::ImportValue": {"Fn::Sub": "${Base}-ClusterName"}}
                ]}},
            ]}},
        },
    },
    "Outputs": {
        "ClusterName": {"Value": {"Ref": "Cluster"}, "Export": {"Name": {"Fn::Sub": "${Base}-ClusterName"}}},
    },
}


def test_conditions_are_decided_by_what_is_known():
    decided = template_checks.decided_conditions(COMPONENTS, {"Component": "container"})
    assert decided == {"DeployAll": False, "DeployBase": False, "CreateVpc": False}
    # CreateVpc of a base stack depends on Subnet, which is not given.
    assert template_checks.decided_conditions(COMPONENTS, {"Component": "base"}) == {
        "DeployAll": False, "DeployBase": True,
    }
    assert template_checks.condition_value(COMPONENTS, "CreateVpc", {"Component": "base", "Subnet": ""}) is True


def test_an_import_of_the_templates_own_export_is_evaluated_and_each_component_decides_its_branches():
    longest = template_checks.longest_parameters(COMPONENTS)
    exports = template_checks.exports_of(COMPONENTS)
    service = COMPONENTS["Resources"]["Service"]["Properties"]["ServiceName"]
    decided = template_checks.decided_conditions(COMPONENTS, {"Component": "container"})
    assert template_checks.evaluate(service, longest, COMPONENTS["Resources"], decided, exports) == "aaa-cluster-service"
    # Undecided: the longer branch, as before.
    assert template_checks.evaluate(service, longest, COMPONENTS["Resources"], None, exports) == (
        "aaa-cluster-with-a-long-suffix-service"
    )
    # A container stack makes no cluster: only the service's name is checked.
    checked, problems = template_checks.name_problems(COMPONENTS, "container")
    assert (checked, problems) == (1, [])
    assert template_checks.name_problems(COMPONENTS, "all")[0] == 2
    unknown = template_checks.evaluate({"Fn::ImportValue": "elsewhere"}, longest, {}, None, exports)
    assert isinstance(unknown, template_checks.Unbounded)


def test_resolve_takes_decided_branches_and_drops_no_value():
    no_value = {"Ref": "AWS::NoValue"}
    node = {"A": {"Fn::If": ["C", no_value, "x"]}, "L": [{"Fn::If": ["C", no_value, 1]}, {"Ref": "P"}]}
    assert template_checks.resolve(node, {"P": "p"}, {}, {"C": True}) == {"L": ["p"]}
    assert template_checks.resolve(node, {"P": "p"}, {}, {"C": False}) == {"A": "x", "L": [1, "p"]}
