"""template.yaml's components (Component = all | domain | base | container), on the
template CloudFormation receives (the SAM transform applied) with each component's
conditions evaluated: what each stack makes, what it shares with the others (the
domain's zone, the base's exports), and the container settings (ports, environment,
secrets). samconfig.toml's worked example is checked here too.

The transform and the helpers are test_template.py's."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections import Counter
from typing import Any

import pytest

from test_template import ROOT, _transformed, depends_on, invokers_of, references, tc

ZONE = "Z0123456789ABCDEFGHIJ"
VPC = {"VpcId": "vpc-01234567", "SubnetIdA": "subnet-01234567", "SubnetIdB": "subnet-89abcdef"}
NO_VALUE = {"Ref": "AWS::NoValue"}
BASE_EXPORTS = ["VpcId", "SubnetIdA", "SubnetIdB", "ClusterName"]
CLUSTER_IN_USE = {
    "Fn::If": [
        "DeployAll",
        {"Ref": "Cluster"},
        {"Fn::ImportValue": {"Fn::Sub": "${BaseName}-${Environment}-ClusterName"}},
    ]
}

# The parameters of a stack of each component, as its samconfig.toml environment
# gives them (the rest at their defaults).
STACKS = {
    "all": ("us-east-1", {"Component": "all", "DomainName": "example.com"}),
    "domain": ("us-east-1", {"Component": "domain", "DomainName": "example.com"}),
    "base": ("eu-west-1", {"Component": "base"}),
    "container": ("eu-west-1", {"Component": "container", "DomainName": "example.com", "HostedZoneId": ZONE}),
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return _transformed()


class Stack:
    """A stack of the template: its parameters, the conditions they decide, the
    resources and outputs it makes, with every decided Fn::If replaced by its branch."""

    def __init__(self, template: dict[str, Any], region: str, parameters: dict[str, str]):
        assert tc.parameter_problems(template, parameters) == []
        assert tc.rule_failures(template, parameters, region) == [], parameters
        self.template = template
        self.values = tc.parameter_values(template, parameters, region)
        self.decided = tc.decided_conditions(template, self.values)
        # Every condition is decided: all the parameters have a value.
        assert set(self.decided) == set(template["Conditions"])
        self.resources = {
            k: prune(r, self.decided)
            for k, r in tc.deployed_resources(template, parameters, region).items()
        }
        self.outputs = {
            k: prune(o, self.decided)
            for k, o in template.get("Outputs", {}).items()
            if self.decided.get(o.get("Condition", ""), True)
        }

    def of_type(self, kind: str) -> dict[str, Any]:
        return {k: r for k, r in self.resources.items() if r["Type"] == kind}

    def types(self) -> Counter:
        return Counter(r["Type"] for r in self.resources.values())

    def props(self, logical_id: str) -> dict[str, Any]:
        return self.resources[logical_id]["Properties"]

    def value(self, node: Any) -> Any:
        """A fragment evaluated on the stack's parameters."""
        return tc.resolve(node, self.values, self.template["Resources"], self.decided, tc.exports_of(self.template))

    def imports(self) -> list[Any]:
        found = []

        def walk(node):
            if isinstance(node, dict):
                for key, value in node.items():
                    if key == "Fn::ImportValue":
                        found.append(value)
                    else:
                        walk(value)
            elif isinstance(node, list):
                for value in node:
                    walk(value)

        walk(self.resources)
        walk(self.outputs)
        return found


def prune(node: Any, decided: dict[str, bool]) -> Any:
    """``node`` with each decided Fn::If replaced by its branch and AWS::NoValue
    dropped; every other function kept as written."""
    dropped = object()

    def p(n):
        if isinstance(n, list):
            return [x for x in (p(v) for v in n) if x is not dropped]
        if isinstance(n, dict):
            if n == NO_VALUE:
                return dropped
            if set(n) == {"Fn::If"} and n["Fn::If"][0] in decided:
                cond, yes, no = n["Fn::If"]
                return p(yes if decided[cond] else no)
            return {k: x for k, x in ((k, p(v)) for k, v in n.items()) if x is not dropped}
        return n

    return p(node)


def stack(template, component: str, region: str | None = None, **parameters) -> Stack:
    default_region, base = STACKS[component]
    return Stack(template, region or default_region, {**base, **{k: str(v) for k, v in parameters.items()}})


# ----------------------------------------------------------------- what each makes


def test_a_domain_stack_is_one_zone_one_query_log_one_policy_one_filter_and_the_router(template):
    s = stack(template, "domain")
    assert s.types() == Counter({
        "AWS::Route53::HostedZone": 1,
        "AWS::Logs::LogGroup": 2,  # the query log and the router's own log
        "AWS::Logs::ResourcePolicy": 1,
        "AWS::Logs::SubscriptionFilter": 1,
        "AWS::Lambda::Permission": 1,
        "AWS::Lambda::Function": 1,
        "AWS::Lambda::EventInvokeConfig": 1,
        "AWS::IAM::Role": 1,
        "AWS::SQS::Queue": 1,
    })
    assert set(s.resources) == {
        "HostedZone", "QueryLogGroup", "QueryLogResourcePolicy", "DnsQueryTriggerLogGroup",
        "DnsQueryTriggerFunction", "DnsQueryTriggerFunctionRole", "DnsQueryTriggerFunctionQueryLog",
        "DnsQueryTriggerFunctionQueryLogPermission", "DnsQueryTriggerFunctionEventInvokeConfig", "DnsFailureQueue",
    }
    # The zone logs its queries to the group, whose one filter feeds the router.
    assert s.props("HostedZone")["QueryLoggingConfig"] == {
        "CloudWatchLogsLogGroupArn": {"Fn::GetAtt": ["QueryLogGroup", "Arn"]}
    }
    (subscription,) = s.of_type("AWS::Logs::SubscriptionFilter").values()
    assert subscription["Properties"]["LogGroupName"] == {"Ref": "QueryLogGroup"}
    assert subscription["Properties"]["FilterPattern"] == ""
    assert subscription["Properties"]["DestinationArn"] == {"Fn::GetAtt": ["DnsQueryTriggerFunction", "Arn"]}
    assert s.value(s.props("QueryLogGroup")["LogGroupName"]) == "/aws/route53/example.com"
    assert s.value(s.props("QueryLogResourcePolicy")["PolicyName"]) == "cm-logpolicy-dev-example.com"
    assert s.value(s.props("DnsQueryTriggerFunction")["FunctionName"]) == "cm-function-dev-router"
    assert set(s.outputs) == {"HostedZoneId", "NameServers", "QueryLogGroupArn"}
    assert s.outputs["HostedZoneId"]["Value"] == {"Ref": "HostedZone"}
    assert s.imports() == []
    assert not any("Export" in o for o in s.outputs.values())


def test_a_domain_stack_adopts_an_existing_zone_and_still_logs_and_routes_it(template):
    s = stack(template, "domain", ExistingHostedZoneId=ZONE)
    assert s.of_type("AWS::Route53::HostedZone") == {}
    assert {"QueryLogGroup", "QueryLogResourcePolicy", "DnsQueryTriggerFunctionQueryLog", "DnsQueryTriggerFunction"} <= set(s.resources)
    assert s.props("DnsQueryTriggerFunction")["Environment"]["Variables"]["HOSTED_ZONE_ID"] == {"Ref": "ExistingHostedZoneId"}
    assert set(s.outputs) == {"HostedZoneId", "QueryLogGroupArn"}  # no NameServers: not its zone
    assert s.outputs["HostedZoneId"]["Value"] == {"Ref": "ExistingHostedZoneId"}


def test_a_domain_stack_with_a_parent_and_a_start_token_adds_the_delegation_and_the_panel(template):
    s = stack(template, "domain", ParentHostedZoneId="Z99", StartTokenParameter="/cm/dev/start-token")
    added = set(s.resources) - set(stack(template, "domain").resources)
    assert added == {
        "Delegation", "ControlPanelLogGroup", "ControlPanelFunction", "ControlPanelFunctionRole",
        "ControlPanelFunctionUrl", "ControlPanelFunctionUrlPublicPermissions",
        "ControlPanelFunctionURLInvokeAllowPublicAccess",
    }, added
    assert s.props("ControlPanelFunction")["Environment"]["Variables"]["HOSTED_ZONE_ID"] == {"Ref": "HostedZone"}
    assert "ControlPanelUrl" in s.outputs


def test_a_base_stack_is_the_vpc_and_one_cluster_exported(template):
    s = stack(template, "base")
    assert s.types() == Counter({
        "AWS::EC2::VPC": 1,
        "AWS::EC2::InternetGateway": 1,
        "AWS::EC2::VPCGatewayAttachment": 1,
        "AWS::EC2::RouteTable": 1,
        "AWS::EC2::Route": 1,
        "AWS::EC2::Subnet": 2,
        "AWS::EC2::SubnetRouteTableAssociation": 2,
        "AWS::ECS::Cluster": 1,
    })
    assert s.value(s.props("Cluster")["ClusterName"]) == "cm-cluster-dev"
    assert s.value(s.props("Vpc")["Tags"]) == [{"Key": "Name", "Value": "cm-vpc-dev"}]
    exports = {k: s.value(o["Export"]["Name"]) for k, o in s.outputs.items() if "Export" in o}
    assert exports == {k: f"cm-dev-{k}" for k in BASE_EXPORTS}
    assert set(s.outputs) == set(BASE_EXPORTS)
    assert s.outputs["VpcId"]["Value"] == {"Ref": "Vpc"}
    assert s.outputs["SubnetIdA"]["Value"] == {"Ref": "PublicSubnetA"}
    assert s.outputs["SubnetIdB"]["Value"] == {"Ref": "PublicSubnetB"}
    assert s.outputs["ClusterName"]["Value"] == {"Ref": "Cluster"}
    assert s.imports() == []


def test_a_base_stack_on_an_existing_network_makes_only_the_cluster_and_exports_the_network(template):
    s = stack(template, "base", **VPC)
    assert set(s.resources) == {"Cluster"}
    assert s.outputs["VpcId"]["Value"] == {"Ref": "VpcId"}
    assert s.outputs["SubnetIdA"]["Value"] == {"Ref": "SubnetIdA"}
    assert s.outputs["SubnetIdB"]["Value"] == {"Ref": "SubnetIdB"}


def test_a_container_stack_shares_the_zone_and_the_base_and_makes_its_own_records(template):
    s = stack(template, "container")
    kinds = s.types()
    for shared in ("AWS::Route53::HostedZone", "AWS::Logs::ResourcePolicy", "AWS::Logs::SubscriptionFilter",
                   "AWS::EC2::VPC", "AWS::EC2::Subnet", "AWS::EC2::InternetGateway", "AWS::ECS::Cluster"):
        assert kinds[shared] == 0, shared
    assert "DnsQueryTriggerFunction" not in s.resources and "ControlPanelFunction" not in s.resources
    # Its own A record and registry entry, in the domain's zone.
    records = {k: r["Properties"] for k, r in s.of_type("AWS::Route53::RecordSet").items()}
    assert {k: p["Type"] for k, p in records.items()} == {"ContainerRecord": "A", "RegistryEntry": "TXT"}
    for p in records.values():
        assert p["HostedZoneId"] == {"Ref": "HostedZoneId"}
    assert s.value(records["ContainerRecord"]["Name"]) == "mc.example.com"
    assert s.value(records["RegistryEntry"]["Name"]) == "mc._cm.example.com"
    updater = s.props("DnsRecordUpdaterFunction")
    assert updater["Environment"]["Variables"]["HOSTED_ZONE_ID"] == {"Ref": "HostedZoneId"}
    assert {"Key": "cm:record", "Value": {"Ref": "ContainerRecord"}} in updater["Tags"]
    # The four base exports of its region, and nothing else imported.
    imported = {json.dumps(i, sort_keys=True) for i in s.imports()}
    assert imported == {
        json.dumps({"Fn::Sub": "${BaseName}-${Environment}-" + name}, sort_keys=True) for name in BASE_EXPORTS
    }
    # Exactly the names a base stack exports (the same template's outputs).
    base = stack(template, "base")
    assert imported == {json.dumps(o["Export"]["Name"], sort_keys=True) for o in base.outputs.values()}
    assert not any("Export" in o for o in s.outputs.values())
    assert set(s.outputs) == {"ContainerAddress", "AutoScalingGroupName", "TopicArn", "FileSystemId"}


def test_an_all_stack_is_the_three_parts_together_without_imports_or_exports(template):
    everything = stack(template, "all")
    parts = [stack(template, c) for c in ("domain", "base", "container")]
    assert set(everything.resources) == set().union(*(set(p.resources) for p in parts))
    assert sum(len(p.resources) for p in parts) == len(everything.resources)
    assert everything.imports() == []
    assert not any("Export" in o for o in everything.outputs.values())
    # Its own zone and cluster; today's names, with the container's in them.
    for logical_id in ("ContainerRecord", "RegistryEntry"):
        assert everything.props(logical_id)["HostedZoneId"] == {"Ref": "HostedZone"}
    assert everything.props("Service")["Cluster"] == {"Ref": "Cluster"}
    assert everything.value(everything.props("Cluster")["ClusterName"]) == "cm-cluster-dev-mc"
    assert everything.value(everything.props("DnsQueryTriggerFunction")["FunctionName"]) == "cm-function-dev-mc-trigger"
    assert everything.value(everything.props("QueryLogResourcePolicy")["PolicyName"]) == "cm-logpolicy-dev-example.com"


@pytest.mark.parametrize("component", ["all", "container"])
def test_a_container_stack_delete_resets_its_record_before_deleting_it(template, component):
    """In a container stack as in an all stack: the group (whose terminating instance
    makes the updater write the record back to its template value), the updater and
    whatever invokes it all go before the A record; the registry entry goes before the
    group."""
    s = stack(template, component)
    deployed = {"Resources": s.resources}
    deps = depends_on(deployed)
    for dependant in {"AutoScalingGroup", "DnsRecordUpdaterFunction"} | invokers_of(deployed, "DnsRecordUpdaterFunction"):
        assert "ContainerRecord" in deps[dependant], dependant
    assert "AutoScalingGroup" in deps["RegistryEntry"]
    assert not any("RegistryEntry" in d for d in deps.values())


VARIANTS = [
    ("all", {}),
    ("all", {**VPC, "PersistentStorage": "none", "StartTokenParameter": "cm-token", "ParentHostedZoneId": "Z99"}),
    ("all", {"ExistingFileSystemId": "fs-0123456789abcdef0", "WebhookUrlsParameter": "/cm/dev/hooks",
             "GameProtocol": "a2s", "NotificationEmail": "a@example.com"}),
    ("domain", {}),
    ("domain", {"ExistingHostedZoneId": ZONE, "StartTokenParameter": "/cm/dev/start-token"}),
    ("domain", {"ParentHostedZoneId": "Z99"}),
    ("base", {}),
    ("base", VPC),
    ("container", {}),
    ("container", {"PersistentStorage": "none", "GameProtocol": "minecraft-java", "WebhookUrlsParameter": "hooks"}),
    ("container", {"Secret1Name": "PASS", "Secret1ValueFrom": "arn:aws:ssm:eu-west-1:123456789012:parameter/cm/dev/mc/pass",
                   "EnvironmentFileArn": "arn:aws:s3:::bucket/cm/mc.env"}),
]


@pytest.mark.parametrize("component, parameters", VARIANTS)
def test_each_component_refers_only_to_what_it_makes(template, component, parameters):
    """CloudFormation refuses a stack whose resources or outputs refer to (Ref,
    GetAtt, Sub, DependsOn) a resource its conditions leave out."""
    s = stack(template, component, **parameters)
    known = set(s.resources) | set(template["Parameters"]) | {
        "AWS::Region", "AWS::AccountId", "AWS::Partition", "AWS::StackName", "AWS::StackId", "AWS::URLSuffix",
        "AWS::NoValue",
    }
    for logical_id, resource in {**s.resources, **{f"Outputs.{k}": o for k, o in s.outputs.items()}}.items():
        body = {k: v for k, v in resource.items() if k not in ("Condition", "Metadata")}
        depends = resource.get("DependsOn", [])
        missing = (references(body) | set([depends] if isinstance(depends, str) else depends)) - known
        assert missing == set(), f"{component} {parameters}: {logical_id} refers to {missing}"
        # Fn::If left in a deployed resource are only those of undecidable conditions:
        # none, with every parameter given.
        assert '"Fn::If"' not in json.dumps(body), logical_id


def test_scripts_transform_template_gives_every_component_its_resources():
    """The emulator deploys the output of scripts/transform-template, once per
    component: each function keeps its crate, and each component's stack is there."""
    tools_python = os.path.join(ROOT, ".tools", "bin", "python")
    if not os.path.exists(tools_python):
        pytest.skip("scripts/transform-template needs .tools: run scripts/setup-tools")
    out = subprocess.run(
        [os.path.join(ROOT, "scripts", "transform-template")], cwd=ROOT, capture_output=True, text=True, check=True
    )
    transformed = json.loads(out.stdout)
    functions = {k: r for k, r in transformed["Resources"].items() if r["Type"] == "AWS::Lambda::Function"}
    assert functions and all(r["Metadata"]["CodeUri"].startswith("functions/") for r in functions.values())
    counts = {}
    for component, (region, parameters) in STACKS.items():
        counts[component] = len(Stack(transformed, region, parameters).resources)
    assert counts == {"all": 64, "domain": 10, "base": 10, "container": 44}, counts


# ----------------------------------------------------------------- the router


def test_the_router_has_the_contracts_environment_and_permissions(template):
    for component in ("all", "domain"):
        s = stack(template, component)
        props = s.props("DnsQueryTriggerFunction")
        assert props["Environment"]["Variables"] == {
            "AWS_ENDPOINT_URL": {"Ref": "LocalEndpointUrl"},
            "DOMAIN_NAME": {"Ref": "DomainName"},
            "HOSTED_ZONE_ID": {"Ref": "HostedZone"},
            "RECORD_TYPE": "A",
            "METRIC_NAMESPACE": "ContainerManager",
            "METRIC_NAME": "DnsQueries",
            "METRIC_UNIT": "Count",
            "REGISTRY_TTL_SECONDS": "60",
        }
        role = s.props(props["Role"]["Fn::GetAtt"][0])
        assert [s.value(arn) for arn in role["ManagedPolicyArns"]] == [
            "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
        ]
        statements = [st for p in role["Policies"] for st in p["PolicyDocument"]["Statement"]]
        # SAM's own statement for the on-failure destination, then the template's.
        assert statements[0] == {
            "Action": "sqs:SendMessage", "Effect": "Allow", "Resource": {"Fn::GetAtt": ["DnsFailureQueue", "Arn"]},
        }
        assert {st["Sid"]: (st["Action"], s.value(st["Resource"])) for st in statements[1:]} == {
            "ReadTheRegistry": ("route53:ListResourceRecordSets", "arn:aws:route53:::hostedzone/Z" + "0" * 31),
            "StartAContainer": (
                "autoscaling:UpdateAutoScalingGroup",
                "arn:aws:autoscaling:*:123456789012:autoScalingGroup:*:autoScalingGroupName/cm-asg-dev-*",
            ),
            "KeepAliveMetric": ("cloudwatch:PutMetricData", "*"),
        }


# ----------------------------------------------------------------- the shared cluster


def test_a_container_runs_only_on_its_own_instance_of_the_shared_cluster(template):
    for component in ("all", "container"):
        s = stack(template, component)
        user_data = s.props("LaunchTemplate")["LaunchTemplateData"]["UserData"]["Fn::Base64"]["Fn::Sub"]
        script, variables = user_data
        assert 'echo "ECS_CLUSTER=${ClusterName}" >> /etc/ecs/ecs.config' in script
        assert """echo 'ECS_INSTANCE_ATTRIBUTES={"cm.container":"${ContainerName}"}' >> /etc/ecs/ecs.config""" in script
        assert variables["ClusterName"] == prune(CLUSTER_IN_USE, s.decided)
        task = s.props("TaskDefinition")
        assert task["PlacementConstraints"] == [
            {"Type": "memberOf", "Expression": {"Fn::Sub": "attribute:cm.container == ${ContainerName}"}}
        ]


def test_the_cluster_in_use_is_everywhere_the_same(template):
    """The service, the reconcile, the ECS sync's and the watchdog's ECS_CLUSTER_NAME,
    their IAM resources and the watchdog's event pattern: the all stack's own cluster,
    or the container stack's base's."""
    r = template["Resources"]
    assert r["Service"]["Properties"]["Cluster"] == CLUSTER_IN_USE
    assert r["ServiceReconcile"]["Properties"]["Cluster"] == CLUSTER_IN_USE
    for fn in ("AsgEcsSyncFunction", "WatchdogFunction"):
        assert r[fn]["Properties"]["Environment"]["Variables"]["ECS_CLUSTER_NAME"] == CLUSTER_IN_USE
    sync_role = r[r["AsgEcsSyncFunction"]["Properties"]["Role"]["Fn::GetAtt"][0]]["Properties"]
    ecs = [st for p in sync_role["Policies"] for st in p["PolicyDocument"]["Statement"] if "ecs:" in json.dumps(st["Action"])]
    assert len(ecs) == 5
    for st in ecs:
        text, variables = st["Resource"]["Fn::Sub"]
        assert re.search(r":ecs:\$\{AWS::Region\}:\$\{AWS::AccountId\}:[a-z-]+/\$\{ClusterName\}(/|$)", text), text
        assert variables == {"ClusterName": CLUSTER_IN_USE}
    # Evaluated: the container stack's names are the base's.
    s = stack(template, "container")
    names = {s.value(st["Resource"]) for st in ecs}
    assert names == {
        "arn:aws:ecs:eu-west-1:123456789012:service/cm-cluster-dev/cm-service-dev-mc",
        "arn:aws:ecs:eu-west-1:123456789012:cluster/cm-cluster-dev",
        "arn:aws:ecs:eu-west-1:123456789012:container-instance/cm-cluster-dev/*",
        "arn:aws:ecs:eu-west-1:123456789012:task/cm-cluster-dev/*",
    }


def test_the_watchdog_hears_only_its_own_services_tasks_stop(template):
    s = stack(template, "container")
    (rule,) = [
        r for r in s.of_type("AWS::Events::Rule").values()
        if r["Properties"].get("EventPattern", {}).get("source") == ["aws.ecs"]
    ]
    detail = rule["Properties"]["EventPattern"]["detail"]
    service = s.value(s.props("Service")["ServiceName"])
    assert [s.value(g) for g in detail["group"]] == [f"service:{service}"] == ["service:cm-service-dev-mc"]
    assert [s.value(c) for c in detail["clusterArn"]] == ["arn:aws:ecs:eu-west-1:123456789012:cluster/cm-cluster-dev"]
    assert detail["lastStatus"] == ["STOPPED"]


# ----------------------------------------------------------------- container settings


def container_definition(template) -> dict[str, Any]:
    (container,) = template["Resources"]["TaskDefinition"]["Properties"]["ContainerDefinitions"]
    return container


def test_twelve_environment_variable_slots_and_an_environment_file(template):
    container = container_definition(template)
    assert container["Environment"] == [
        {"Fn::If": [f"HasEnv{i}", {"Name": {"Ref": f"EnvVar{i}Name"}, "Value": {"Ref": f"EnvVar{i}Value"}}, NO_VALUE]}
        for i in range(1, 13)
    ]
    assert container["EnvironmentFiles"] == {
        "Fn::If": ["HasEnvironmentFile", [{"Type": "s3", "Value": {"Ref": "EnvironmentFileArn"}}], NO_VALUE]
    }
    s = stack(template, "container", EnvVar1Name="EULA", EnvVar12Name="MOTD", EnvVar12Value="hi",
              EnvironmentFileArn="arn:aws:s3:::my-bucket/cm/dev/mc.env")
    task = s.value(s.props("TaskDefinition"))
    (deployed,) = task["ContainerDefinitions"]
    assert deployed["Environment"] == [{"Name": "EULA", "Value": "TRUE"}, {"Name": "MOTD", "Value": "hi"}]
    assert deployed["EnvironmentFiles"] == [{"Type": "s3", "Value": "arn:aws:s3:::my-bucket/cm/dev/mc.env"}]
    # Without a file, no EnvironmentFiles at all.
    plain = stack(template, "container")
    (deployed,) = plain.value(plain.props("TaskDefinition"))["ContainerDefinitions"]
    assert "EnvironmentFiles" not in deployed and "Secrets" not in deployed


@pytest.mark.parametrize(
    "arn, accepted",
    [
        ("arn:aws:s3:::my-bucket/cm/prod/valheim.env", True),
        ("arn:aws:s3:::my.bucket-1/a b/x.env", False),
        ("arn:aws-cn:s3:::bucket/x.env", True),
        ("arn:aws:s3:::my-bucket/cm/prod/valheim.txt", False),
        ("s3://my-bucket/x.env", False),
        ("arn:aws:s3:::my-bucket", False),
        ("", True),
    ],
)
def test_the_environment_file_is_an_s3_object_arn_ending_in_env(template, arn, accepted):
    assert (tc.parameter_problems(template, {"EnvironmentFileArn": arn}) == []) is accepted


def test_six_secret_slots_hold_only_references(template):
    container = container_definition(template)
    assert container["Secrets"] == {
        "Fn::If": [
            "HasSecrets",
            [
                {"Fn::If": [f"HasSecret{i}", {"Name": {"Ref": f"Secret{i}Name"}, "ValueFrom": {"Ref": f"Secret{i}ValueFrom"}}, NO_VALUE]}
                for i in range(1, 7)
            ],
            NO_VALUE,
        ]
    }
    # A secret's parameters reach only the Secrets list: no environment variable, tag,
    # output or other resource carries them.
    for i in range(1, 7):
        for name in (f"Secret{i}Name", f"Secret{i}ValueFrom"):
            users = {k for k, r in template["Resources"].items() if name in references(r)}
            assert users == {"TaskDefinition"}, (name, users)
            assert name not in references(container["Environment"])
            assert name not in references(template.get("Outputs", {}))
    arn = "arn:aws:ssm:eu-west-1:123456789012:parameter/cm/dev/mc/server-pass"
    s = stack(template, "container", Secret2Name="SERVER_PASS", Secret2ValueFrom=arn)
    (deployed,) = s.value(s.props("TaskDefinition"))["ContainerDefinitions"]
    assert deployed["Secrets"] == [{"Name": "SERVER_PASS", "ValueFrom": arn}]


@pytest.mark.parametrize(
    "value_from, accepted",
    [
        ("arn:aws:ssm:eu-west-1:123456789012:parameter/cm/prod/valheim/server-pass", True),
        ("arn:aws:secretsmanager:eu-west-1:123456789012:secret:cm/prod/valheim/pass-AbCdEf", True),
        ("arn:aws:secretsmanager:eu-west-1:123456789012:secret:cm/prod/valheim/rcon-AbCdEf:password::", True),
        ("hunter2", False),  # a value, not a reference
        ("/cm/prod/valheim/server-pass", False),  # a name: the ARN says which region
        ("arn:aws:s3:::bucket/secret", False),
        ("arn:aws:ssm:eu-west-1:1234:parameter/x", False),
    ],
)
def test_a_secret_is_given_as_the_arn_of_a_parameter_or_secret_never_as_its_value(template, value_from, accepted):
    problems = tc.parameter_problems(template, {"Secret1ValueFrom": value_from})
    assert (problems == []) is accepted, problems


def execution_role_statements(s: Stack) -> dict[str, tuple[Any, Any]]:
    role = s.value(s.props("TaskExecutionRole"))
    assert role["ManagedPolicyArns"] == [
        "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
    ]
    return {
        st["Sid"]: (st["Action"], st["Resource"])
        for p in role.get("Policies", [])
        for st in p["PolicyDocument"]["Statement"]
    }


def test_the_execution_role_reads_only_the_containers_own_secrets_and_file(template):
    # Nothing to read: no statement at all.
    assert execution_role_statements(stack(template, "container")) == {}
    secret = stack(
        template, "container",
        Secret1Name="SERVER_PASS", Secret1ValueFrom="arn:aws:ssm:eu-west-1:123456789012:parameter/cm/dev/mc/pass",
    )
    assert execution_role_statements(secret) == {
        "ReadTheContainersParameters": (
            "ssm:GetParameters", "arn:aws:ssm:eu-west-1:123456789012:parameter/cm/dev/mc/*",
        ),
        "ReadTheContainersSecrets": (
            "secretsmanager:GetSecretValue", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:cm/dev/mc/*",
        ),
    }
    env_file = stack(template, "container", EnvironmentFileArn="arn:aws:s3:::my-bucket/cm/dev/mc.env")
    assert execution_role_statements(env_file) == {
        "ReadTheEnvironmentFile": ("s3:GetObject", "arn:aws:s3:::my-bucket/cm/dev/mc.env"),
        "FindTheEnvironmentFilesBucket": ("s3:GetBucketLocation", "arn:aws:s3:::my-bucket"),
    }


def test_eight_port_slots_of_each_protocol(template):
    s = stack(template, "container", TcpPorts="1,2,3,4,5,6,7,8", UdpPorts="9,10,11,12,13,14,15,16")
    (deployed,) = s.value(s.props("TaskDefinition"))["ContainerDefinitions"]
    assert [(m["Protocol"], int(m["ContainerPort"]), int(m["HostPort"])) for m in deployed["PortMappings"]] == [
        ("tcp", p, p) for p in range(1, 9)
    ] + [("udp", p, p) for p in range(9, 17)]
    ingress = s.value(s.props("InstanceSecurityGroup"))["SecurityGroupIngress"]
    assert len(ingress) == 32
    assert sorted({(r["IpProtocol"], int(r["FromPort"])) for r in ingress}) == sorted(
        [("tcp", p) for p in range(1, 9)] + [("udp", p) for p in range(9, 17)]
    )


# ----------------------------------------------------------------- the worked example


def test_samconfig_is_the_worked_example_in_deploy_order(template):
    environments = tc.samconfig_environments(os.path.join(ROOT, "samconfig.toml"))
    assert list(environments) == ["default", "domain", "base-us-east-1", "base-eu-west-1", "minecraft", "bedrock", "valheim"]
    component = {name: overrides.get("Component", "all") for name, (_, overrides) in environments.items()}
    assert component == {
        "default": "all", "domain": "domain", "base-us-east-1": "base", "base-eu-west-1": "base",
        "minecraft": "container", "bedrock": "container", "valheim": "container",
    }
    regions = {name: region for name, (region, _) in environments.items()}
    assert regions["domain"] == "us-east-1"
    domain = environments["domain"][1]
    bases = {region for name, (region, o) in environments.items() if component[name] == "base"}
    assert bases == {"us-east-1", "eu-west-1"}
    for name, (region, overrides) in environments.items():
        if component[name] != "container":
            continue
        # Each container in a region with a base, of the domain's system and domain,
        # in the domain's zone (the placeholder the comments tell to replace).
        assert region in bases, name
        assert (overrides["BaseName"], overrides["Environment"], overrides["DomainName"]) == (
            domain["BaseName"], domain["Environment"], domain["DomainName"],
        ), name
        assert overrides["HostedZoneId"] == ZONE, name
    assert regions["minecraft"] == "us-east-1" and regions["bedrock"] == regions["valheim"] == "eu-west-1"
    bedrock = environments["bedrock"][1]
    assert (bedrock["UdpPorts"], bedrock["GameProtocol"], bedrock["GamePort"]) == ("19132", "minecraft-bedrock", "19132")
    assert bedrock["ContainerImage"].startswith("itzg/minecraft-bedrock-server")


def test_the_valheim_password_is_a_secret_reference_and_no_password_is_in_clear(template):
    environments = tc.samconfig_environments(os.path.join(ROOT, "samconfig.toml"))
    region, valheim = environments["valheim"]
    assert valheim["Secret1Name"] == "SERVER_PASS"
    assert valheim["Secret1ValueFrom"] == f"arn:aws:ssm:{region}:123456789012:parameter/cm/prod/valheim/server-pass"
    for name, (region, overrides) in environments.items():
        for key, value in overrides.items():
            if re.fullmatch(r"EnvVar\d+Name", key):
                assert not re.search(r"PASS|SECRET|TOKEN|KEY", value), (name, value)
        # Each secret under its container's own prefix, in its region: the only ones
        # the execution role may read.
        s = Stack(template, region, overrides)
        allowed = execution_role_statements(s) if s.decided.get("DeployContainer") else {}
        for i in range(1, 7):
            value_from = overrides.get(f"Secret{i}ValueFrom")
            if value_from:
                patterns = [resource for _, resource in allowed.values()]
                assert any(re.fullmatch(re.escape(p).replace(r"\*", ".*"), value_from) for p in patterns), value_from
