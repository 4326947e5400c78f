"""template.yaml itself, on the template CloudFormation receives (the SAM transform
applied): names within their limits at the longest parameters, the deploy-time Rules,
the instance and data settings, and the order in which a stack delete removes things.

The SAM transform needs aws-sam-translator, which the project's tools environment
(.tools, from scripts/setup-tools) has: under another Python these tests run the
transform there."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from typing import Any

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TEMPLATE = os.path.join(ROOT, "template.yaml")
sys.path.insert(0, os.path.join(ROOT, "scripts"))

import template_checks as tc  # noqa: E402

UNAVAILABLE = {"Ref": "AWS::NoValue"}
# The domain part's zone: its own, or the one it adopts.
ZONE_IN_USE = {"Fn::If": ["CreateZone", {"Ref": "HostedZone"}, {"Ref": "ExistingHostedZoneId"}]}


def _transformed() -> dict[str, Any]:
    try:
        import samtranslator  # noqa: F401

        return json.loads(json.dumps(tc.transform(TEMPLATE), default=str))
    except ImportError:
        pass
    tools_python = os.path.join(ROOT, ".tools", "bin", "python")
    if not os.path.exists(tools_python):
        pytest.skip("the SAM transform needs aws-sam-translator: run scripts/setup-tools")
    code = (
        "import json, sys; sys.path.insert(0, 'scripts'); import template_checks as tc; "
        "json.dump(tc.transform('template.yaml'), sys.stdout, default=str)"
    )
    out = subprocess.run([tools_python, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    """template.yaml as CloudFormation receives it (SAM transform applied)."""
    return _transformed()


@pytest.fixture(scope="module")
def source() -> dict[str, Any]:
    """template.yaml as written: its Parameters and Rules are the transformed ones
    (test_the_rules_survive_the_sam_transform), and reading it needs only cfn-lint."""
    from cfnlint.decode import decode

    parsed, matches = decode(TEMPLATE)
    assert matches == []
    return json.loads(json.dumps(parsed))


def resources(template, kind):
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def values_for(template, **overrides) -> dict[str, str]:
    values = {n: str(p.get("Default", "")) for n, p in template["Parameters"].items()}
    values.update({"DomainName": "example.com", "AWS::Region": "us-east-1", "AWS::Partition": "aws"})
    values.update({k: str(v) for k, v in overrides.items()})
    return values


def condition(template, name: str, values: dict[str, str]) -> bool:
    """A condition of the template, evaluated on parameter values (all of them)."""
    value = tc.condition_value(template, name, values)
    assert value is not None, f"{name} is not decided by {values}"
    return value


# ----------------------------------------------------------------- names and limits


def test_every_name_is_within_its_limit_at_the_longest_parameters(template):
    checked, problems = tc.name_problems(template)
    assert problems == []
    assert checked > 40


@pytest.mark.parametrize("component, at_least", [("all", 100), ("domain", 20), ("base", 10), ("container", 65)])
def test_every_name_of_each_component_is_within_its_limit(template, component, at_least):
    checked, problems = tc.name_problems(template, component)
    assert problems == []
    assert checked >= at_least, checked


def test_the_domains_log_policy_name_is_the_tightest_of_its_kind_at_exactly_255(template):
    longest = tc.longest_parameters(template)
    assert len(longest["DomainName"]) == 221
    name = tc.evaluate(
        template["Resources"]["QueryLogResourcePolicy"]["Properties"]["PolicyName"], longest, template["Resources"]
    )
    assert len(name) == 255 == tc.NAME_LIMITS["AWS::Logs::ResourcePolicy"]["PolicyName"]
    # And the longest name under the domain, the registry entry, stays within DNS's 253.
    entry = tc.evaluate(template["Resources"]["RegistryEntry"]["Properties"]["Name"], longest, template["Resources"])
    assert len(entry) <= 253


@pytest.mark.parametrize("component", ["domain", "base"])
def test_shared_pieces_carry_no_container_name(template, component):
    """A domain or base stack serves many containers: ContainerName (which such a
    stack ignores) is in none of its names."""
    values = {n: str(p.get("Default", "")) for n, p in template["Parameters"].items()}
    values.update(tc.LONGEST_PSEUDO, Component=component, ContainerName="zzcontainerzz")
    decided = tc.decided_conditions(template, {"Component": component})
    deployed = {k: r for k, r in template["Resources"].items() if decided.get(r.get("Condition", ""), True)}
    assert deployed
    for logical_id, resource in deployed.items():
        text = json.dumps(tc.resolve(resource.get("Properties", {}), values, template["Resources"], decided))
        assert "zzcontainerzz" not in text, logical_id


def test_the_tightest_name_is_the_dns_updater_function_at_exactly_64(template):
    longest = tc.longest_parameters(template)
    assert [len(longest[p]) for p in ("BaseName", "Environment", "ContainerName")] == [10, 12, 19]
    functions = resources(template, "AWS::Lambda::Function")
    lengths = {
        k: len(tc.evaluate(f["Properties"]["FunctionName"], longest, template["Resources"]))
        for k, f in functions.items()
    }
    assert max(lengths.values()) == 64 and lengths["DnsRecordUpdaterFunction"] == 64, lengths


def test_one_more_character_would_be_refused(template):
    wider = json.loads(json.dumps(template))
    wider["Parameters"]["ContainerName"].update(MaxLength=20, AllowedPattern="^[a-z]([a-z0-9-]{0,18}[a-z0-9])?$")
    _, problems = tc.name_problems(wider)
    assert any(p.startswith("DnsRecordUpdaterFunction.FunctionName reaches 65 characters") for p in problems), problems


def test_a_named_resource_without_a_known_limit_is_reported(template):
    extra = json.loads(json.dumps(template))
    extra["Resources"]["Extra"] = {
        "Type": "AWS::Example::Thing",
        "Properties": {"ThingName": {"Fn::Sub": "${BaseName}-thing"}},
    }
    _, problems = tc.name_problems(extra)
    assert problems == ["Extra.ThingName (AWS::Example::Thing) depends on the parameters but has no limit in NAME_LIMITS"]


@pytest.mark.parametrize(
    "parameter, good, bad",
    [
        ("BaseName", ["cm", "a" * 10], ["", "Cm", "c-m", "1cm", "a" * 11]),
        ("Environment", ["dev", "prod2", "a" * 12], ["", "dev-", "de_v", "a" * 13]),
        ("ContainerName", ["mc", "my-mc", "a1", "a" * 19], ["", "mc-", "-mc", "Mc", "m.c", "a" * 20]),
        (
            "DomainName",
            # Empty: a base stack has no domain (the rules ask the other components for one).
            ["example.com", "a-b.co.uk", "xn--p1ai.xn--p1ai", ("a" * 63 + ".") * 3 + "a" * 29, ""],
            ["example", "example..com", "example.com.", ".example.com", "example-.com", "-example.com",
             "exa_mple.com", "EXAMPLE.COM", "a" * 64 + ".com", "example.c-", ("a" * 63 + ".") * 3 + "a" * 30],
        ),
    ],
)
def test_name_patterns_refuse_trailing_hyphens_and_double_dots(source, parameter, good, bad):
    declared = source["Parameters"][parameter]
    pattern, most = declared["AllowedPattern"], int(declared["MaxLength"])

    def accepted(value):
        return re.fullmatch(pattern, value) is not None and len(value) <= most

    assert [v for v in good if not accepted(v)] == []
    assert [v for v in bad if accepted(v)] == []


def test_global_names_never_collide_across_regions(template):
    # IAM is global: a role or instance profile is either named by CloudFormation
    # (unique per stack) or carries the region in its name.
    for kind, prop in (("AWS::IAM::Role", "RoleName"), ("AWS::IAM::InstanceProfile", "InstanceProfileName")):
        for logical_id, resource in resources(template, kind).items():
            name = resource["Properties"].get(prop)
            assert name is None or "AWS::Region" in json.dumps(name), f"{logical_id}: {name}"


# ----------------------------------------------------------------- deploy-time rules


def refused(template, region="us-east-1", **parameters):
    """What the Rules refuse, for parameters that pass their own constraints."""
    parameters.setdefault("DomainName", "example.com")
    parameters = {k: str(v) for k, v in parameters.items()}
    assert tc.parameter_problems(template, parameters) == []
    return tc.rule_failures(template, parameters, region)


def test_the_rules_and_parameters_survive_the_sam_transform(source, template):
    assert source["Rules"] == template["Rules"]
    assert source["Parameters"] == template["Parameters"]


ZONE = "Z0123456789ABCDEFGHIJ"
VPC = {"VpcId": "vpc-01234567", "SubnetIdA": "subnet-01234567", "SubnetIdB": "subnet-89abcdef"}


def test_the_defaults_in_us_east_1_are_accepted(source):
    assert refused(source) == []


@pytest.mark.parametrize(
    "region, parameters",
    [
        ("us-east-1", {"Component": "all"}),
        ("us-east-1", {"Component": "domain"}),
        ("us-east-1", {"Component": "domain", "ExistingHostedZoneId": ZONE}),
        ("us-east-1", {"Component": "domain", "ParentHostedZoneId": "Z99"}),
        ("us-east-1", {"Component": "domain", "StartTokenParameter": "/cm/dev/start-token"}),
        ("us-east-1", {"Component": "base", "DomainName": ""}),
        ("eu-west-1", {"Component": "base", "DomainName": ""}),
        ("eu-west-1", {"Component": "base", "DomainName": "", **VPC}),
        ("eu-west-1", {"Component": "container", "HostedZoneId": ZONE}),
        ("us-east-1", {"Component": "container", "HostedZoneId": ZONE}),
        ("ap-southeast-2", {"Component": "container", "HostedZoneId": ZONE, "UdpPorts": "2456,2457,2458"}),
    ],
)
def test_each_component_deploys_where_and_with_what_it_should(source, region, parameters):
    assert refused(source, region, **parameters) == []


@pytest.mark.parametrize("component", ["all", "domain"])
def test_the_domain_part_outside_us_east_1_is_refused(source, component):
    failures = refused(source, "eu-west-1", Component=component)
    assert len(failures) == 1 and "only in us-east-1" in failures[0], failures


def test_a_container_stack_needs_the_zone_of_the_domain_stack(source):
    failures = refused(source, "eu-west-1", Component="container")
    assert len(failures) == 1 and "Component=container needs HostedZoneId" in failures[0], failures
    assert refused(source, "eu-west-1", Component="container", HostedZoneId=ZONE) == []


@pytest.mark.parametrize("component", ["all", "domain", "container"])
def test_every_component_but_base_needs_a_domain(source, component):
    extra = {"HostedZoneId": ZONE} if component == "container" else {}
    failures = refused(source, Component=component, DomainName="", **extra)
    assert len(failures) == 1 and "DomainName is needed" in failures[0], failures


@pytest.mark.parametrize(
    "region, parameters, expected",
    [
        # The zone parameters, each for its one component.
        ("us-east-1", {"HostedZoneId": ZONE}, "HostedZoneId is for Component=container only"),
        ("us-east-1", {"Component": "domain", "HostedZoneId": ZONE}, "HostedZoneId is for Component=container only"),
        ("us-east-1", {"Component": "base", "HostedZoneId": ZONE}, "HostedZoneId is for Component=container only"),
        ("us-east-1", {"ExistingHostedZoneId": ZONE}, "ExistingHostedZoneId is for Component=domain only"),
        ("us-east-1", {"Component": "base", "ExistingHostedZoneId": ZONE}, "ExistingHostedZoneId is for Component=domain only"),
        (
            "eu-west-1",
            {"Component": "container", "HostedZoneId": ZONE, "ExistingHostedZoneId": ZONE},
            "A Component=container stack takes the domain's zone as HostedZoneId",
        ),
        (
            "eu-west-1",
            {"Component": "container", "HostedZoneId": ZONE, "ParentHostedZoneId": "Z99"},
            "ParentHostedZoneId goes to the stack that creates the hosted zone",
        ),
        ("eu-west-1", {"Component": "base", "ParentHostedZoneId": "Z99"}, "ParentHostedZoneId goes to the stack"),
        (
            "us-east-1",
            {"Component": "domain", "ExistingHostedZoneId": ZONE, "ParentHostedZoneId": "Z99"},
            "is delegated already",
        ),
        # A container takes its network from its region's base stack.
        (
            "eu-west-1",
            {"Component": "container", "HostedZoneId": ZONE, **VPC},
            "takes its VPC and subnets from its region's Component=base stack",
        ),
        (
            "eu-west-1",
            {"Component": "container", "HostedZoneId": ZONE, "SubnetIdA": "subnet-01234567"},
            "takes its VPC and subnets from its region's Component=base stack",
        ),
        ("us-east-1", {"SubnetIdA": "subnet-0123456789abcdef0"}, "VpcId, SubnetIdA and SubnetIdB go together"),
        (
            "us-east-1",
            {"VpcId": "vpc-0123456789abcdef0", "SubnetIdA": "subnet-0123456789abcdef0"},
            "VpcId, SubnetIdA and SubnetIdB go together",
        ),
        (
            "eu-west-1",
            {"Component": "base", "DomainName": "", "VpcId": "vpc-0123456789abcdef0"},
            "VpcId, SubnetIdA and SubnetIdB go together",
        ),
        (
            "us-east-1",
            {"VpcId": "vpc-01234567", "SubnetIdA": "subnet-01234567", "SubnetIdB": "subnet-01234567"},
            "two different subnets",
        ),
        # Half a secret or a nameless variable would be dropped without a word.
        ("us-east-1", {"Secret3Name": "SERVER_PASS"}, "Secret3Name and Secret3ValueFrom go together"),
        (
            "us-east-1",
            {"Secret6ValueFrom": "arn:aws:ssm:us-east-1:123456789012:parameter/cm/dev/mc/pass"},
            "Secret6Name and Secret6ValueFrom go together",
        ),
        ("us-east-1", {"EnvVar12Value": "x"}, "EnvVar12Value has no EnvVar12Name"),
        ("us-east-1", {"EnvVar1Name": "", "EnvVar1Value": "TRUE"}, "EnvVar1Value has no EnvVar1Name"),
        (
            "us-east-1",
            {"ExistingFileSystemId": "fs-0123456789abcdef0", "PersistentStorage": "none"},
            "ExistingFileSystemId needs PersistentStorage=efs",
        ),
        (
            "us-east-1",
            {"FileSystemDirectory": "/aws-backup-restore_2025-01-31T04-10-00-000Z", "PersistentStorage": "none"},
            "FileSystemDirectory needs PersistentStorage=efs",
        ),
        ("us-east-1", {"Architecture": "arm64"}, "must be a Graviton type"),
        ("us-east-1", {"Architecture": "arm64", "InstanceType": "t3a.large"}, "must be a Graviton type"),
        ("us-east-1", {"InstanceType": "t4g.medium"}, "needs Architecture=arm64"),
    ],
)
def test_impossible_combinations_are_refused_with_a_readable_reason(source, region, parameters, expected):
    failures = refused(source, region, **parameters)
    assert len(failures) == 1 and expected in failures[0], failures


def test_an_old_container_stack_is_told_what_changed(source):
    """A container stack's settings from before the domain/base split (the zone as
    ExistingHostedZoneId): both reasons, each naming the parameter to use."""
    failures = refused(source, "eu-west-1", Component="container", ExistingHostedZoneId=ZONE)
    assert len(failures) == 2, failures
    assert any("needs HostedZoneId" in f for f in failures)
    assert any("takes the domain's zone as HostedZoneId" in f for f in failures)


@pytest.mark.parametrize(
    "parameters",
    [
        VPC,
        {"ExistingFileSystemId": "fs-0123456789abcdef0"},
        {"ExistingFileSystemId": "fs-0123456789abcdef0", "FileSystemDirectory": "/aws-backup-restore_2025-01-31T04-10-00-000Z"},
        {"Architecture": "arm64", "InstanceType": "t4g.medium"},
        {"Architecture": "arm64", "InstanceType": "m7g.large"},
        {"InstanceType": "m7i.large", "CpuCredits": "unlimited"},
        {"Component": "domain", "SubnetIdA": "subnet-01234567"},
        {"EnvVar5Name": "MEMORY", "EnvVar5Value": ""},
        {"Secret1Name": "RCON_PASSWORD",
         "Secret1ValueFrom": "arn:aws:secretsmanager:us-east-1:123456789012:secret:cm/dev/mc/rcon-AbCdEf"},
    ],
)
def test_possible_combinations_are_accepted(source, parameters):
    assert refused(source, **parameters) == []


def test_every_samconfig_environment_passes_the_parameters_and_the_rules(source):
    environments = tc.samconfig_environments(os.path.join(ROOT, "samconfig.toml"))
    assert environments
    for name, (region, overrides) in environments.items():
        assert tc.parameter_problems(source, overrides) == [], name
        assert tc.rule_failures(source, overrides, region) == [], name


# ----------------------------------------------------------------- instances


def launch_template_data(template):
    return template["Resources"]["LaunchTemplate"]["Properties"]["LaunchTemplateData"]


def test_the_ami_is_resolved_from_its_ssm_parameter_at_each_launch(template):
    image = launch_template_data(template)["ImageId"]
    assert set(image) == {"Fn::If"} and image["Fn::If"][0] == "IsArm"
    arm, x86 = image["Fn::If"][1:]
    prefix = "resolve:ssm:/aws/service/ecs/optimized-ami/amazon-linux-2023/"
    assert arm == prefix + "arm64/recommended/image_id"
    assert x86 == prefix + "recommended/image_id"
    # Not a CloudFormation dynamic reference ({{resolve:ssm:...}}), which is read once
    # per deploy: EC2 reads the parameter when it launches the instance.
    assert "{{" not in json.dumps(template["Resources"]["LaunchTemplate"])


@pytest.mark.parametrize(
    "instance_type, burstable",
    [("t3.medium", True), ("t3a.large", True), ("t2.micro", True), ("t4g.small", True),
     ("m7g.large", False), ("c5.xlarge", False), ("m5.t3", False)],
)
def test_burstable_types_get_standard_cpu_credits_unless_asked(template, instance_type, burstable):
    credits = launch_template_data(template)["CreditSpecification"]
    assert credits == {"Fn::If": ["Burstable", {"CpuCredits": {"Ref": "CpuCredits"}}, UNAVAILABLE]}
    assert template["Parameters"]["CpuCredits"]["Default"] == "standard"
    assert condition(template, "Burstable", values_for(template, InstanceType=instance_type)) is burstable


def test_the_game_container_cannot_reach_the_instance_role(template):
    metadata = launch_template_data(template)["MetadataOptions"]
    assert metadata["HttpTokens"] == "required"
    assert metadata["HttpPutResponseHopLimit"] == 1
    task = template["Resources"]["TaskDefinition"]["Properties"]
    assert task["NetworkMode"] == "bridge"
    assert "TaskRoleArn" not in task


def port_slots(template):
    """(condition, protocol, container port, host port) of every port mapping."""
    (container,) = template["Resources"]["TaskDefinition"]["Properties"]["ContainerDefinitions"]
    slots = []
    for mapping in container["PortMappings"]:
        cond, body, otherwise = mapping["Fn::If"]
        assert otherwise == UNAVAILABLE
        slots.append((cond, body["Protocol"], body["ContainerPort"], body["HostPort"]))
    return slots


def test_every_game_port_is_published_on_the_same_host_port(template):
    slots = port_slots(template)
    # 8 TCP and 8 UDP slots, in order, each its own condition.
    assert [(c, p) for c, p, _, _ in slots] == [(f"Tcp{i}", "tcp") for i in range(1, 9)] + [
        (f"Udp{i}", "udp") for i in range(1, 9)
    ]
    for _, _, container_port, host_port in slots:
        assert container_port == host_port
    # Each opened over IPv4 and IPv6: 32 security group rules.
    assert len(template["Resources"]["InstanceSecurityGroup"]["Properties"]["SecurityGroupIngress"]) == 32


@pytest.mark.parametrize(
    "tcp, udp",
    [
        ("25565", ""),
        ("", "2456,2457,2458"),
        ("27015,27020,28015,28016", "1,65535"),
        ("", ""),
        ("1,2,3,4,5,6,7,8", "65535,65534,65533,65532,65531,65530,65529,65528"),
        ("25565,25575", "19132,19133,24454"),
    ],
)
def test_the_listed_ports_and_only_those_are_mapped_and_open_over_ipv4_and_ipv6(template, tcp, udp):
    values = values_for(template, TcpPorts=tcp, UdpPorts=udp)
    mapped = sorted(
        (protocol, int(tc.evaluate(port, values, {})))
        for cond, protocol, port, _ in port_slots(template)
        if condition(template, cond, values)
    )
    wanted = sorted([("tcp", int(p)) for p in tcp.split(",") if p] + [("udp", int(p)) for p in udp.split(",") if p])
    assert mapped == wanted
    opened = {"CidrIp": [], "CidrIpv6": []}
    for rule in template["Resources"]["InstanceSecurityGroup"]["Properties"]["SecurityGroupIngress"]:
        cond, body, otherwise = rule["Fn::If"]
        assert otherwise == UNAVAILABLE
        if not condition(template, cond, values):
            continue
        family = "CidrIp" if "CidrIp" in body else "CidrIpv6"
        assert body[family] == ("0.0.0.0/0" if family == "CidrIp" else "::/0")
        low, high = (int(tc.evaluate(body[k], values, {})) for k in ("FromPort", "ToPort"))
        assert low == high
        opened[family].append((body["IpProtocol"], low))
    assert sorted(opened["CidrIp"]) == wanted
    assert sorted(opened["CidrIpv6"]) == wanted


@pytest.mark.parametrize("ports", ["25565", "2456,2457,2458", "1,2,3,65535", "", "1,2,3,4,5,6,7,65535"])
def test_the_port_patterns_accept_up_to_eight_ports(source, ports):
    for name in ("TcpPorts", "UdpPorts"):
        assert re.fullmatch(source["Parameters"][name]["AllowedPattern"], ports)


@pytest.mark.parametrize(
    "ports", ["0", "65536", "1,2,3,4,5,6,7,8,9", "25565,", ",25565", "25565 ", "1-3", "01", "1,,2"]
)
def test_the_port_patterns_refuse_anything_else(source, ports):
    for name in ("TcpPorts", "UdpPorts"):
        assert re.fullmatch(source["Parameters"][name]["AllowedPattern"], ports) is None


# ----------------------------------------------------------------- data


def test_the_file_system_is_backed_up_and_kept(template):
    fs = template["Resources"]["FileSystem"]
    assert fs["Condition"] == "UseNewFileSystem"
    assert fs["DeletionPolicy"] == fs["UpdateReplacePolicy"] == "Retain"
    assert fs["Properties"]["Encrypted"] is True
    assert fs["Properties"]["BackupPolicy"] == {"Status": {"Ref": "FileSystemBackups"}}
    assert template["Parameters"]["FileSystemBackups"]["Default"] == "ENABLED"


def test_an_existing_file_system_replaces_the_new_one_everywhere(template):
    either = {"Fn::If": ["UseNewFileSystem", {"Ref": "FileSystem"}, {"Ref": "ExistingFileSystemId"}]}
    r = template["Resources"]
    assert r["MountTargetA"]["Properties"]["FileSystemId"] == either
    assert r["MountTargetB"]["Properties"]["FileSystemId"] == either
    volumes = r["TaskDefinition"]["Properties"]["Volumes"]["Fn::If"][1]
    assert volumes[0]["EFSVolumeConfiguration"]["FilesystemId"] == either
    # A restore lands in a directory of the file system; the container can be pointed there.
    assert volumes[0]["EFSVolumeConfiguration"]["RootDirectory"] == {"Ref": "FileSystemDirectory"}
    assert template["Parameters"]["FileSystemDirectory"]["Default"] == "/"
    assert template["Outputs"]["FileSystemId"]["Value"] == either
    # Nothing else refers to the file system the stack creates.
    assert json.dumps(template).count('{"Ref": "FileSystem"}') == 4
    efs = values_for(template, ExistingFileSystemId="fs-0123456789abcdef0")
    assert condition(template, "UseEfs", efs) and not condition(template, "UseNewFileSystem", efs)
    assert condition(template, "UseNewFileSystem", values_for(template))


# ----------------------------------------------------------------- deletes finish


def references(node) -> set[str]:
    """Logical ids and parameters a template fragment refers to."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref":
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value[0] if isinstance(value, list) else value.split(".", 1)[0])
            elif key == "Fn::Sub":
                text, local = (value, {}) if isinstance(value, str) else value
                found.update(
                    v.split(".", 1)[0] for v in re.findall(r"\$\{([^!}][^}]*)\}", text) if v not in local
                )
                found |= references(local)
            else:
                found |= references(value)
    elif isinstance(node, list):
        for value in node:
            found |= references(value)
    return found


def depends_on(template) -> dict[str, set[str]]:
    """Every resource -> every resource it depends on, directly or not. A stack delete
    removes a resource only after all that depend on it."""
    rs = template["Resources"]
    direct = {}
    for logical_id, resource in rs.items():
        deps = references(resource.get("Properties", {}))
        extra = resource.get("DependsOn", [])
        deps |= set([extra] if isinstance(extra, str) else extra)
        direct[logical_id] = {d for d in deps if d in rs}
    closure = {}
    for logical_id in rs:
        seen, todo = set(), list(direct[logical_id])
        while todo:
            d = todo.pop()
            if d not in seen:
                seen.add(d)
                todo.extend(direct[d])
        closure[logical_id] = seen
    return closure


def invokers_of(template, function: str) -> set[str]:
    """The rules, schedules and permissions that make ``function`` run."""
    out = set()
    for logical_id, resource in template["Resources"].items():
        kind, props = resource["Type"], resource.get("Properties", {})
        if kind in ("AWS::Events::Rule", "AWS::Scheduler::Schedule", "AWS::Lambda::Permission") and function in references(props):
            out.add(logical_id)
    return out


def group_event_rules(template) -> set[str]:
    return {
        k for k, r in resources(template, "AWS::Events::Rule").items()
        if r["Properties"].get("EventPattern", {}).get("source") == ["aws.autoscaling"]
    }


def test_the_group_is_deleted_before_all_its_terminating_instance_needs(template):
    deps = depends_on(template)
    rules = group_event_rules(template)
    assert len(rules) == 2
    permissions = {
        k for k, r in resources(template, "AWS::Lambda::Permission").items()
        if references(r["Properties"]) & rules
    }
    assert len(permissions) == 2
    needed = rules | permissions | {
        "AsgEcsSyncFunction", "DnsRecordUpdaterFunction", "Service", "Cluster", "MountTargetA", "MountTargetB",
    }
    assert needed - deps["AutoScalingGroup"] == set()
    # The hook is part of the group, not a resource CloudFormation could delete first.
    assert resources(template, "AWS::AutoScaling::LifecycleHook") == {}


def test_the_record_the_updater_rewrites_is_deleted_only_after_it_is_reset_and_nothing_runs(template):
    deps = depends_on(template)
    record = template["Resources"]["ContainerRecord"]["Properties"]
    updater = template["Resources"]["DnsRecordUpdaterFunction"]["Properties"]["Environment"]["Variables"]
    # CloudFormation deletes the record by its template value: the value the updater
    # writes back when the instance goes.
    assert record["Type"] == "A"
    assert record["ResourceRecords"] == [updater["UNAVAILABLE_IP"]]
    assert str(record["TTL"]) == str(updater["DNS_TTL"])
    assert updater["RECORD_TYPE"] == "A"
    # The group (whose terminating instance makes the updater reset it), the updater
    # and whatever invokes it are all deleted before the record.
    for dependant in {"AutoScalingGroup", "DnsRecordUpdaterFunction"} | invokers_of(template, "DnsRecordUpdaterFunction"):
        assert "ContainerRecord" in deps[dependant], dependant
    # The hosted zone goes last: after its records and after the updater.
    assert {"ContainerRecord", "HostedZone"} <= deps["DnsRecordUpdaterFunction"]
    # No other record of the container's name in the template (an AAAA the updater
    # deletes itself; the NS delegation lives in the parent zone).
    names = {
        k: r["Properties"]["Type"] for k, r in resources(template, "AWS::Route53::RecordSet").items()
    }
    assert names == {"ContainerRecord": "A", "Delegation": "NS", "RegistryEntry": "TXT"}
    assert template["Resources"]["Delegation"]["Properties"]["HostedZoneId"] == {"Ref": "ParentHostedZoneId"}
    # The registry entry has a name of its own, under _cm.
    assert template["Resources"]["RegistryEntry"]["Properties"]["Name"] == {
        "Fn::Sub": "${ContainerName}._cm.${DomainName}"
    }


def test_the_registry_entry_names_the_containers_group_and_metric(template):
    """The TXT record the control panel reads (cm_core::registry::format_value's
    format): this region, the stack's own group, the ContainerName dimension its
    alarms and probe use, the idle threshold; in the zone the container's A record is
    kept in; made after the group and deleted before it."""
    resources_ = template["Resources"]
    entry = resources_["RegistryEntry"]
    props = entry["Properties"]
    assert entry["Condition"] == "DeployContainer"
    assert entry["DependsOn"] in ("AutoScalingGroup", ["AutoScalingGroup"])
    assert props["Type"] == "TXT"
    updater = resources_["DnsRecordUpdaterFunction"]["Properties"]["Environment"]["Variables"]
    assert props["HostedZoneId"] == updater["HOSTED_ZONE_ID"]
    (value,) = props["ResourceRecords"]
    text = value["Fn::Sub"]
    assert text.startswith('"') and text.endswith('"')
    fields = dict(f.split("=", 1) for f in text.strip('"').split())
    group = resources_["AutoScalingGroup"]["Properties"]["AutoScalingGroupName"]["Fn::Sub"]
    metrics = json.dumps(resources_["IdleAlarm"]["Properties"]["Metrics"])
    assert fields == {
        "v": "cm1",
        "region": "${AWS::Region}",
        "asg": group,
        "metric": "${BaseName}-${Environment}-${ContainerName}",
        "threshold": "${IdleThreshold}",
    }
    assert '"Name": "ContainerName", "Value": {"Fn::Sub": "${BaseName}-${Environment}-${ContainerName}"}' in metrics


def test_the_control_panel_is_the_domains_and_may_do_only_what_it_needs(template):
    """Deployed with the domain part when a start token parameter is named; a function
    URL whose requests the function authenticates; a concurrency cap; the token
    parameter, the zone's records, and the domain's groups (any region) only."""
    panel = template["Resources"]["ControlPanelFunction"]
    assert panel["Condition"] == "DeployPanel"
    for component, parameter, deployed in [
        ("all", "/cm/dev/start-token", True),
        ("domain", "cm-start-token", True),
        ("container", "/cm/dev/start-token", False),
        ("base", "/cm/dev/start-token", False),
        ("all", "", False),
    ]:
        values = values_for(template, Component=component, StartTokenParameter=parameter)
        assert condition(template, "DeployPanel", values) is deployed, (component, parameter)
    props = panel["Properties"]
    # A cost cap only when asked for: new accounts cannot reserve any concurrency.
    assert props["ReservedConcurrentExecutions"] == {
        "Fn::If": ["PanelConcurrencyCapped", {"Ref": "ControlPanelConcurrency"}, {"Ref": "AWS::NoValue"}]
    }
    url = template["Resources"]["ControlPanelFunctionUrl"]
    assert url["Condition"] == "DeployPanel" and url["Properties"]["AuthType"] == "NONE"
    variables = props["Environment"]["Variables"]
    assert variables["HOSTED_ZONE_ID"] == ZONE_IN_USE
    assert variables["START_TOKEN_PARAMETER"] == {"Ref": "StartTokenParameter"}
    role = template["Resources"][props["Role"]["Fn::GetAtt"][0]]
    statements = {
        s["Sid"]: s
        for p in role["Properties"]["Policies"]
        for s in p["PolicyDocument"]["Statement"]
    }
    assert statements["ReadTheStartToken"]["Action"] == "ssm:GetParameter"
    assert "StartTokenParameter" in json.dumps(statements["ReadTheStartToken"]["Resource"])
    assert statements["ReadTheRegistry"]["Action"] == "route53:ListResourceRecordSets"
    assert statements["ReadTheRegistry"]["Resource"] == {
        "Fn::Sub": ["arn:${AWS::Partition}:route53:::hostedzone/${Zone}", {"Zone": ZONE_IN_USE}]
    }
    start = statements["StartAContainer"]
    assert start["Action"] == "autoscaling:UpdateAutoScalingGroup"
    assert start["Resource"]["Fn::Sub"].endswith(
        ":autoScalingGroupName/${BaseName}-asg-${Environment}-*"
    )
    assert template["Outputs"]["ControlPanelUrl"]["Condition"] == "DeployPanel"


# ----------------------------------------------------------------- parameters documented


def test_every_parameter_is_in_one_group_and_says_which_components_use_it(source):
    groups = source["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    grouped = [p for g in groups for p in g["Parameters"]]
    assert sorted(grouped) == sorted(source["Parameters"])
    components = {"all", "domain", "base", "container"}
    for name, parameter in source["Parameters"].items():
        if name == "Component":
            continue
        match = re.match(r"\[([a-z, ]+)(;[^\]]*)?\]", parameter.get("Description", ""))
        assert match, f"{name}: its description does not start with its components"
        named = {c.strip() for c in match.group(1).split(",")}
        assert named == {"every component"} or named <= components, (name, named)
