"""Tests of the emulator's two bridges and its harness endpoints.

botocore speaks CloudWatch's RPCv2-CBOR protocol too, so it serves here as an
implementation of the protocol independent from the Rust SDK's.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import urllib.error
import urllib.request

import boto3
import botocore.config
import botocore.exceptions
import cbor2
import pytest
from werkzeug.serving import make_server

import cm_emulator

TOKEN = "bcd4a7b2-5b4a-4c1a-9bcd-0123456789ab"


@pytest.fixture()
def endpoint():
    server = make_server("127.0.0.1", 0, cm_emulator.build_app(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    yield url
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"))
    server.shutdown()
    thread.join()


def client(service: str, endpoint: str, config=None):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=config,
    )


def harness(endpoint: str, path: str, body: dict | None = None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"{endpoint}{path}", data=data, method="POST" if data else "GET")
    try:
        with urllib.request.urlopen(req) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def make_group(endpoint: str, name: str = "cm-asg-test-1", hook: str = "drain") -> None:
    ec2 = client("ec2", endpoint)
    image = ec2.describe_images()["Images"][0]["ImageId"]
    autoscaling = client("autoscaling", endpoint)
    autoscaling.create_launch_configuration(
        LaunchConfigurationName=f"{name}-lc", ImageId=image, InstanceType="t3.micro"
    )
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchConfigurationName=f"{name}-lc",
        MinSize=0,
        MaxSize=1,
        DesiredCapacity=0,
        AvailabilityZones=["us-east-1a"],
    )
    autoscaling.put_lifecycle_hook(
        AutoScalingGroupName=name,
        LifecycleHookName=hook,
        LifecycleTransition="autoscaling:EC2_INSTANCE_TERMINATING",
        HeartbeatTimeout=600,
        DefaultResult="CONTINUE",
    )


# -- pure helpers ----------------------------------------------------------------


def test_cbor_to_json_turns_timestamps_and_blobs_into_json_protocol_values():
    when = dt.datetime(2026, 11, 23, 12, 0, 0, tzinfo=dt.timezone.utc)
    decoded = cbor2.loads(cbor2.dumps({"Timestamp": when, "Blob": b"\x00\x01", "N": [1, {"x": 2.5}]},
                                      datetime_as_timestamp=True))
    assert cm_emulator.cbor_to_json(decoded) == {
        "Timestamp": when.timestamp(),
        "Blob": "AAE=",
        "N": [1, {"x": 2.5}],
    }


def test_json_to_cbor_tags_timestamp_members_only():
    encoded = cm_emulator.encode_cbor(
        {"MetricDataResults": [{"Label": "x", "Timestamps": [1700000000, 1700000060.5], "Values": [1.0, 2.0]}]}
    )
    # cbor2 decodes tag 1 (and only tag 1) into a datetime: untagged numbers stay numbers.
    result = cbor2.loads(encoded)["MetricDataResults"][0]
    utc = dt.timezone.utc
    assert result["Timestamps"] == [dt.datetime.fromtimestamp(1700000000, utc),
                                    dt.datetime.fromtimestamp(1700000060.5, utc)]
    assert result["Values"] == [1.0, 2.0]
    assert encoded.count(b"\xc1") == 2  # major type 6, tag 1


def test_json_error_becomes_cbor_error_with_shape_id():
    body = cm_emulator.json_error_to_cbor(400, b'{"__type": "ResourceNotFound", "message": "nope"}')
    assert cbor2.loads(body) == {"__type": "com.amazonaws.cloudwatch#ResourceNotFound", "message": "nope"}
    html = cm_emulator.json_error_to_cbor(500, b"<html>boom</html>")
    assert cbor2.loads(html)["__type"] == "com.amazonaws.cloudwatch#InternalFailure"


def test_operation_name_for_each_protocol():
    auth = "AWS4-HMAC-SHA256 Credential=AK/20261123/us-east-1/monitoring/aws4_request, SignedHeaders=host"
    assert (
        cm_emulator.operation_name(
            {"HTTP_AUTHORIZATION": auth, "PATH_INFO": cm_emulator.RPCV2_PREFIX + "PutMetricData"}, b""
        )
        == "monitoring:PutMetricData"
    )
    query_auth = auth.replace("monitoring", "autoscaling")
    assert (
        cm_emulator.operation_name(
            {"HTTP_AUTHORIZATION": query_auth, "PATH_INFO": "/",
             "CONTENT_TYPE": "application/x-www-form-urlencoded"},
            b"Action=UpdateAutoScalingGroup&Version=2011-01-01",
        )
        == "autoscaling:UpdateAutoScalingGroup"
    )


# -- bridge 1: CloudWatch over RPCv2-CBOR --------------------------------------------


def test_put_metric_data_over_cbor_reaches_moto_and_reads_back(endpoint):
    cloudwatch = client("cloudwatch", endpoint)
    assert cloudwatch.meta.service_model.protocol == "smithy-rpc-v2-cbor"
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    cloudwatch.put_metric_data(
        Namespace="ContainerManager",
        MetricData=[{"MetricName": "DnsQueries", "Value": 2.0, "Unit": "Count", "Timestamp": now,
                     "Dimensions": [{"Name": "ContainerName", "Value": "mc"}]}],
    )
    metrics = cloudwatch.list_metrics(Namespace="ContainerManager")["Metrics"]
    assert metrics == [{"Namespace": "ContainerManager", "MetricName": "DnsQueries",
                        "Dimensions": [{"Name": "ContainerName", "Value": "mc"}]}]
    stats = cloudwatch.get_metric_statistics(
        Namespace="ContainerManager", MetricName="DnsQueries",
        Dimensions=[{"Name": "ContainerName", "Value": "mc"}],
        StartTime=now - dt.timedelta(minutes=5), EndTime=now + dt.timedelta(minutes=5),
        Period=60, Statistics=["Maximum"],
    )["Datapoints"]
    assert [p["Maximum"] for p in stats] == [2.0]
    assert isinstance(stats[0]["Timestamp"], dt.datetime)
    status, calls = harness(endpoint, "/_cm/calls")
    assert status == 200 and calls["monitoring:PutMetricData"] == 1


def test_cloudwatch_error_comes_back_as_a_cbor_error(endpoint):
    cloudwatch = client("cloudwatch", endpoint)
    with pytest.raises(botocore.exceptions.ClientError) as err:
        cloudwatch.get_dashboard(DashboardName="missing")
    assert err.value.response["Error"]["Code"] == "ResourceNotFound"


def test_garbage_cbor_is_a_400_not_a_crash(endpoint):
    req = urllib.request.Request(
        endpoint + cm_emulator.RPCV2_PREFIX + "PutMetricData", data=b"\xff\xff\x00", method="POST",
        headers={"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor"},
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req)
    assert err.value.code == 400
    assert cbor2.loads(err.value.read())["__type"].endswith("SerializationException")


# -- bridge 2: CompleteLifecycleAction ----------------------------------------------------


def test_complete_lifecycle_action_by_token_then_duplicate_is_validation_error(endpoint):
    make_group(endpoint)
    status, action = harness(endpoint, "/_cm/lifecycle-actions", {
        "AutoScalingGroupName": "cm-asg-test-1", "LifecycleHookName": "drain",
        "InstanceId": "i-0123456789abcdef0", "LifecycleActionToken": TOKEN,
    })
    assert status == 200 and action["LifecycleActionToken"] == TOKEN
    autoscaling = client("autoscaling", endpoint)
    autoscaling.complete_lifecycle_action(
        AutoScalingGroupName="cm-asg-test-1", LifecycleHookName="drain",
        LifecycleActionToken=TOKEN, LifecycleActionResult="CONTINUE",
        InstanceId="i-0123456789abcdef0",
    )
    _, state = harness(endpoint, "/_cm/lifecycle-actions")
    assert state["pending"] == []
    assert [(a["InstanceId"], a["LifecycleActionResult"]) for a in state["completed"]] == [
        ("i-0123456789abcdef0", "CONTINUE")
    ]
    with pytest.raises(botocore.exceptions.ClientError) as err:
        autoscaling.complete_lifecycle_action(
            AutoScalingGroupName="cm-asg-test-1", LifecycleHookName="drain",
            LifecycleActionToken=TOKEN, LifecycleActionResult="CONTINUE",
        )
    assert err.value.response["Error"]["Code"] == "ValidationError"
    assert "No active Lifecycle Action found" in err.value.response["Error"]["Message"]


def test_complete_lifecycle_action_by_instance_and_wrong_hook(endpoint):
    make_group(endpoint)
    harness(endpoint, "/_cm/lifecycle-actions", {
        "AutoScalingGroupName": "cm-asg-test-1", "LifecycleHookName": "drain", "InstanceId": "i-1",
    })
    autoscaling = client("autoscaling", endpoint)
    with pytest.raises(botocore.exceptions.ClientError):
        autoscaling.complete_lifecycle_action(
            AutoScalingGroupName="cm-asg-test-1", LifecycleHookName="other",
            LifecycleActionResult="CONTINUE", InstanceId="i-1",
        )
    autoscaling.complete_lifecycle_action(
        AutoScalingGroupName="cm-asg-test-1", LifecycleHookName="drain",
        LifecycleActionResult="ABANDON", InstanceId="i-1",
    )
    _, state = harness(endpoint, "/_cm/lifecycle-actions")
    assert state["completed"][0]["LifecycleActionResult"] == "ABANDON"


def test_registering_an_action_for_a_hook_that_does_not_exist_is_refused(endpoint):
    make_group(endpoint)
    status, body = harness(endpoint, "/_cm/lifecycle-actions", {
        "AutoScalingGroupName": "cm-asg-test-1", "LifecycleHookName": "nope", "InstanceId": "i-1",
    })
    assert status == 400 and "No lifecycle hook nope" in body["error"]


def test_other_autoscaling_calls_still_reach_moto(endpoint):
    make_group(endpoint)
    autoscaling = client("autoscaling", endpoint)
    autoscaling.update_auto_scaling_group(AutoScalingGroupName="cm-asg-test-1", DesiredCapacity=1)
    group = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["cm-asg-test-1"])
    assert group["AutoScalingGroups"][0]["DesiredCapacity"] == 1
    _, calls = harness(endpoint, "/_cm/calls")
    assert calls["autoscaling:UpdateAutoScalingGroup"] == 1


def test_published_sns_messages_are_readable(endpoint):
    sns = client("sns", endpoint)
    topic = sns.create_topic(Name="cm-topic-test-mc")["TopicArn"]
    sns.publish(TopicArn=topic, Subject="mc is stopping", Message="mc is being stopped: idle.",
                MessageAttributes={"event_type": {"DataType": "String", "StringValue": "idle"}})
    status, messages = harness(endpoint, "/_cm/sns-messages?region=us-east-1")
    assert status == 200
    assert [(m["TopicArn"], m["Subject"], m["Message"]) for m in messages] == [
        (topic, "mc is stopping", "mc is being stopped: idle.")
    ]
    assert messages[0]["MessageAttributes"] == {"event_type": {"DataType": "String", "StringValue": "idle"}}


# -- fault injection -------------------------------------------------------------


def no_retries(service: str, endpoint: str):
    return client(service, endpoint, botocore.config.Config(retries={"total_max_attempts": 1, "mode": "standard"}))


@pytest.mark.parametrize(
    "service, operation, call, kind, code, status",
    [
        ("autoscaling", "UpdateAutoScalingGroup",
         lambda c: c.update_auto_scaling_group(AutoScalingGroupName="g", DesiredCapacity=1),
         "throttle", "Throttling", 400),
        ("sns", "Publish", lambda c: c.publish(TopicArn="arn:aws:sns:us-east-1:123456789012:t", Message="m"),
         "unavailable", "ServiceUnavailable", 503),
        ("ecs", "UpdateService", lambda c: c.update_service(cluster="c", service="s", desiredCount=1),
         "throttle", "ThrottlingException", 400),
        ("ec2", "DescribeInstances", lambda c: c.describe_instances(), "throttle", "RequestLimitExceeded", 400),
        ("route53", "GET /2013-04-01/hostedzone/Z1/rrset", lambda c: c.list_resource_record_sets(HostedZoneId="Z1"),
         "throttle", "Throttling", 400),
    ],
)
def test_injected_faults_speak_each_services_protocol(endpoint, service, operation, call, kind, code, status):
    assert harness(endpoint, "/_cm/faults", {"operation": f"{service}:{operation}", "kind": kind, "count": 1})[0] == 200
    with pytest.raises(botocore.exceptions.ClientError) as err:
        call(no_retries(service, endpoint))
    assert err.value.response["Error"]["Code"] == code
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert harness(endpoint, "/_cm/faults")[1] == []


def test_cloudwatch_faults_in_cbor_and_json_carry_the_query_compatible_code(endpoint):
    harness(endpoint, "/_cm/faults", {"operation": "monitoring:PutMetricData", "kind": "throttle", "count": 2})
    # RPCv2-CBOR, as the Rust SDK sends it.
    auth = "AWS4-HMAC-SHA256 Credential=AK/20261124/us-east-1/monitoring/aws4_request, SignedHeaders=host"
    request = urllib.request.Request(
        endpoint + cm_emulator.RPCV2_PREFIX + "PutMetricData",
        data=cbor2.dumps({"Namespace": "CM", "MetricData": [{"MetricName": "m", "Value": 1.0}]}),
        method="POST",
        headers={"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor", "Authorization": auth},
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request)
    assert err.value.code == 400
    assert err.value.headers["x-amzn-query-error"] == "Throttling;Sender"
    assert cbor2.loads(err.value.read())["__type"] == "com.amazonaws.cloudwatch#Throttling"
    # Whatever protocol boto3 picks for CloudWatch.
    cloudwatch = no_retries("cloudwatch", endpoint)
    put = lambda: cloudwatch.put_metric_data(Namespace="CM", MetricData=[{"MetricName": "m", "Value": 1.0}])
    with pytest.raises(botocore.exceptions.ClientError) as err:
        put()
    assert err.value.response["Error"]["Code"] == "Throttling"
    put()  # the third call reaches moto
    assert harness(endpoint, "/_cm/calls")[1]["monitoring:PutMetricData"] == 3


def test_bad_fault_requests_are_refused(endpoint):
    for doc in ({"operation": "x:Y", "kind": "explode"}, {"kind": "throttle"},
                {"operation": "x:Y", "kind": "throttle", "count": 0}):
        status, answer = harness(endpoint, "/_cm/faults", doc)
        assert status == 400 and answer["error"], doc


# -- bridge 3: CloudFormation ------------------------------------------------------


def deploy(endpoint: str, template: dict, parameters: dict | None = None, name: str = "cm-bridge-test",
           region: str = "us-east-1"):
    """Creates the stack; (its description, its resources by logical id)."""
    cloudformation = client("cloudformation", endpoint) if region == "us-east-1" else boto3.client(
        "cloudformation", endpoint_url=endpoint, region_name=region, aws_access_key_id="test",
        aws_secret_access_key="test")
    cloudformation.create_stack(
        StackName=name, TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in (parameters or {}).items()])
    stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    events = cloudformation.describe_stack_events(StackName=name)["StackEvents"]
    stack["Failed"] = {e["LogicalResourceId"]: e.get("ResourceStatusReason", "") for e in events
                       if e["ResourceStatus"].endswith("_FAILED")}
    resources = cloudformation.describe_stack_resources(StackName=name)["StackResources"]
    return stack, {r["LogicalResourceId"]: r for r in resources}


def outputs(stack: dict) -> dict:
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs") or []}


def bridged(endpoint: str, logical_id: str) -> dict:
    _, items = harness(endpoint, "/_cm/bridged?stack=cm-bridge-test")
    found = [i for i in items if i["LogicalResourceId"] == logical_id]
    assert len(found) == 1, items
    return found[0]


# A function (and the role Lambda requires), for templates that need one.
ROLE = {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {
    "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                            "Action": "sts:AssumeRole"}]}}}
FUNCTION = {
    "Type": "AWS::Lambda::Function",
    "Properties": {
        "FunctionName": "cm-bridge-fn", "Runtime": "provided.al2023", "Handler": "bootstrap",
        "Role": {"Fn::GetAtt": ["Role", "Arn"]}, "Code": {"ZipFile": "placeholder"},
    },
}


def test_every_bridge_is_listed_with_why_it_is_faithful(endpoint):
    status, bridges = harness(endpoint, "/_cm/bridges")
    assert status == 200
    assert [b["Bridge"] for b in bridges] == list(cm_emulator.CFN_BRIDGES)
    assert all(len(b["Why"]) > 40 for b in bridges)


def test_alarm_is_made_with_put_metric_alarm_and_listed_as_bridged(endpoint):
    template = {
        "Resources": {
            "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "cm-bridge-topic"}},
            "Idle": {"Type": "AWS::CloudWatch::Alarm", "Properties": {
                "AlarmName": "cm-bridge-idle", "ComparisonOperator": "LessThanOrEqualToThreshold",
                "Threshold": 2500, "EvaluationPeriods": 30, "DatapointsToAlarm": 30,
                "TreatMissingData": "breaching", "AlarmActions": [{"Ref": "Topic"}],
                "Metrics": [
                    {"Id": "network", "ReturnData": False, "MetricStat": {
                        "Metric": {"Namespace": "AWS/EC2", "MetricName": "NetworkIn",
                                   "Dimensions": [{"Name": "AutoScalingGroupName", "Value": "g"}]},
                        "Period": 60, "Stat": "Sum"}},
                    {"Id": "activity", "Expression": "FILL(network, 0) / 60", "ReturnData": True},
                ]}},
        },
        "Outputs": {"Name": {"Value": {"Ref": "Idle"}}, "Arn": {"Value": {"Fn::GetAtt": ["Idle", "Arn"]}}},
    }
    stack, resources = deploy(endpoint, template)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack["Failed"]
    alarm = client("cloudwatch", endpoint).describe_alarms(AlarmNames=["cm-bridge-idle"])["MetricAlarms"][0]
    assert alarm["AlarmActions"] == ["arn:aws:sns:us-east-1:123456789012:cm-bridge-topic"]
    assert [m["Id"] for m in alarm["Metrics"]] == ["network", "activity"]
    assert outputs(stack) == {"Name": "cm-bridge-idle", "Arn": alarm["AlarmArn"]}
    assert resources["Idle"]["PhysicalResourceId"] == "cm-bridge-idle"
    item = bridged(endpoint, "Idle")
    assert (item["Bridge"], item["ResourceType"], item["Properties"]["Threshold"]) == (
        "AWS::CloudWatch::Alarm", "AWS::CloudWatch::Alarm", 2500)
    client("cloudformation", endpoint).delete_stack(StackName="cm-bridge-test")
    assert client("cloudwatch", endpoint).describe_alarms(AlarmNames=["cm-bridge-idle"])["MetricAlarms"] == []
    assert harness(endpoint, "/_cm/bridged?stack=cm-bridge-test")[1] == []


def test_subscription_filter_event_invoke_config_and_sns_subscription(endpoint):
    template = {
        "Resources": {
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "cm-bridge-failures"}},
            "Role": ROLE,
            "Function": FUNCTION,
            "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": "/aws/route53/mc.example.com"}},
            "Filter": {"Type": "AWS::Logs::SubscriptionFilter", "Properties": {
                "LogGroupName": {"Ref": "Logs"}, "FilterPattern": "",
                "DestinationArn": {"Fn::GetAtt": ["Function", "Arn"]}}},
            "InvokeConfig": {"Type": "AWS::Lambda::EventInvokeConfig", "Properties": {
                "FunctionName": {"Ref": "Function"}, "Qualifier": "$LATEST", "MaximumRetryAttempts": 2,
                "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": ["Queue", "Arn"]}}}}},
            "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "cm-bridge-topic"}},
            "Email": {"Type": "AWS::SNS::Subscription", "Properties": {
                "TopicArn": {"Ref": "Topic"}, "Protocol": "email", "Endpoint": "owner@example.com"}},
        },
    }
    stack, resources = deploy(endpoint, template)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack["Failed"]
    filters = client("logs", endpoint).describe_subscription_filters(
        logGroupName="/aws/route53/mc.example.com")["subscriptionFilters"]
    assert [f["destinationArn"] for f in filters] == [
        "arn:aws:lambda:us-east-1:123456789012:function:cm-bridge-fn"]
    assert filters[0]["filterName"].startswith("cm-bridge-test-Filter-")
    assert resources["Filter"]["PhysicalResourceId"] == filters[0]["filterName"]
    config = client("lambda", endpoint).get_function_event_invoke_config(FunctionName="cm-bridge-fn")
    assert config["MaximumRetryAttempts"] == 2
    assert config["DestinationConfig"]["OnFailure"]["Destination"].endswith(":cm-bridge-failures")
    subscriptions = client("sns", endpoint).list_subscriptions()["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions] == [("email", "owner@example.com")]
    assert resources["Email"]["PhysicalResourceId"] == subscriptions[0]["SubscriptionArn"]
    assert {bridged(endpoint, i)["Bridge"] for i in ("Filter", "InvokeConfig", "Email")} == {
        "AWS::Logs::SubscriptionFilter", "AWS::Lambda::EventInvokeConfig", "AWS::SNS::Subscription"}


def test_hosted_zone_record_and_query_log_as_route53_keeps_them(endpoint):
    template = {
        "Resources": {
            "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": "/aws/route53/mc.example.com"}},
            "Zone": {"Type": "AWS::Route53::HostedZone", "Properties": {
                "Name": "mc.example.com", "HostedZoneConfig": {"Comment": "Container Manager mc"},
                "QueryLoggingConfig": {"CloudWatchLogsLogGroupArn": {"Fn::GetAtt": ["Logs", "Arn"]}}}},
            "Record": {"Type": "AWS::Route53::RecordSet", "Properties": {
                "HostedZoneId": {"Ref": "Zone"}, "Name": "mc.example.com", "Type": "A", "TTL": "1",
                "ResourceRecords": ["0.0.0.0"]}},
        },
        "Outputs": {
            "NameServers": {"Value": {"Fn::Join": [",", {"Fn::GetAtt": ["Zone", "NameServers"]}]}},
            "ZoneId": {"Value": {"Fn::GetAtt": ["Zone", "Id"]}},
            "Record": {"Value": {"Ref": "Record"}},
            "LogsArn": {"Value": {"Fn::GetAtt": ["Logs", "Arn"]}},
        },
    }
    stack, resources = deploy(endpoint, template)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack["Failed"]
    zone_id = resources["Zone"]["PhysicalResourceId"]
    out = outputs(stack)
    assert zone_id.startswith("Z") and out["ZoneId"] == zone_id
    assert out["Record"] == "mc.example.com"
    assert out["LogsArn"] == "arn:aws:logs:us-east-1:123456789012:log-group:/aws/route53/mc.example.com:*"
    route53 = client("route53", endpoint)
    zone = route53.get_hosted_zone(Id=zone_id)
    assert zone["HostedZone"]["Name"] == "mc.example.com."
    assert zone["HostedZone"]["Config"]["Comment"] == "Container Manager mc"
    assert out["NameServers"].split(",") == zone["DelegationSet"]["NameServers"]
    logging = route53.list_query_logging_configs()["QueryLoggingConfigs"]
    assert [(c["HostedZoneId"], c["CloudWatchLogsLogGroupArn"]) for c in logging] == [(zone_id, out["LogsArn"])]
    # The functions' UPSERT replaces the template's record: one A record, fully qualified.
    route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [{
        "Action": "UPSERT", "ResourceRecordSet": {"Name": "mc.example.com", "Type": "A", "TTL": 1,
                                                  "ResourceRecords": [{"Value": "192.0.2.10"}]}}]})
    records = [r for r in route53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
               if r["Type"] == "A"]
    assert [(r["Name"], r["ResourceRecords"]) for r in records] == [
        ("mc.example.com.", [{"Value": "192.0.2.10"}])]


def test_security_group_rules_over_ipv4_and_ipv6_and_novalue_in_a_list(endpoint):
    template = {
        "Parameters": {"UdpPorts": {"Type": "String", "Default": ""}},
        "Conditions": {"Udp": {"Fn::Not": [{"Fn::Equals": [{"Ref": "UdpPorts"}, ""]}]}},
        "Resources": {
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.42.0.0/16"}},
            "Group": {"Type": "AWS::EC2::SecurityGroup", "Properties": {
                "GroupName": "cm-bridge-sg", "GroupDescription": "players", "VpcId": {"Ref": "Vpc"},
                "SecurityGroupIngress": [
                    {"IpProtocol": "tcp", "FromPort": "25565", "ToPort": "25565", "CidrIp": "0.0.0.0/0",
                     "Description": "v4"},
                    {"IpProtocol": "tcp", "FromPort": "25565", "ToPort": "25565", "CidrIpv6": "::/0",
                     "Description": "v6"},
                    {"Fn::If": ["Udp", {"IpProtocol": "udp", "FromPort": 1, "ToPort": 1, "CidrIp": "0.0.0.0/0"},
                                {"Ref": "AWS::NoValue"}]},
                ],
                "SecurityGroupEgress": [{"IpProtocol": "-1", "CidrIp": "0.0.0.0/0", "Description": "out"}]}},
        },
    }
    stack, resources = deploy(endpoint, template)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack["Failed"]
    group = client("ec2", endpoint).describe_security_groups(
        GroupIds=[resources["Group"]["PhysicalResourceId"]])["SecurityGroups"][0]
    assert [(p["IpProtocol"], p["FromPort"], p["IpRanges"], p["Ipv6Ranges"]) for p in group["IpPermissions"]] == [
        ("tcp", 25565, [{"CidrIp": "0.0.0.0/0", "Description": "v4"}], [{"CidrIpv6": "::/0", "Description": "v6"}])]
    assert [(p["IpProtocol"], p["IpRanges"]) for p in group["IpPermissionsEgress"]] == [
        ("-1", [{"CidrIp": "0.0.0.0/0", "Description": "out"}])]
    assert len(bridged(endpoint, "Group")["Properties"]["SecurityGroupIngress"]) == 2


def test_public_subnet_and_ami_resolved_at_launch(endpoint):
    template = {
        "Resources": {
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.42.0.0/16"}},
            "Subnet": {"Type": "AWS::EC2::Subnet", "Properties": {
                "VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.42.0.0/24", "MapPublicIpOnLaunch": True,
                "AvailabilityZone": "us-east-1a"}},
        },
    }
    _, resources = deploy(endpoint, template)
    ec2 = client("ec2", endpoint)
    parameter = "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id"
    ami = client("ssm", endpoint).get_parameter(Name=parameter)["Parameter"]["Value"]
    instance = ec2.run_instances(ImageId=f"resolve:ssm:{parameter}", MinCount=1, MaxCount=1,
                                 SubnetId=resources["Subnet"]["PhysicalResourceId"])["Instances"][0]
    described = ec2.describe_instances(InstanceIds=[instance["InstanceId"]])["Reservations"][0]["Instances"][0]
    assert described["ImageId"] == ami and ami.startswith("ami-")
    assert described.get("PublicIpAddress")
    with pytest.raises(botocore.exceptions.ClientError) as err:
        ec2.run_instances(ImageId="resolve:ssm:/no/such/parameter", MinCount=1, MaxCount=1)
    assert err.value.response["Error"]["Code"] == "InvalidAMIID.NotFound"


def test_group_hooks_task_definition_and_function_configuration(endpoint):
    ec2 = client("ec2", endpoint)
    image = ec2.describe_images()["Images"][0]["ImageId"]
    template = {
        "Parameters": {"IdleMinutes": {"Type": "Number", "Default": 30}},
        "Resources": {
            "Template": {"Type": "AWS::EC2::LaunchTemplate", "Properties": {
                "LaunchTemplateName": "cm-bridge-lt", "LaunchTemplateData": {"ImageId": image,
                                                                             "InstanceType": "t3.medium"}}},
            "Group": {"Type": "AWS::AutoScaling::AutoScalingGroup", "Properties": {
                "AutoScalingGroupName": "cm-bridge-asg", "MinSize": "0", "MaxSize": "1",
                "AvailabilityZones": ["us-east-1a"],
                "LaunchTemplate": {"LaunchTemplateId": {"Ref": "Template"},
                                   "Version": {"Fn::GetAtt": ["Template", "LatestVersionNumber"]}},
                "LifecycleHookSpecificationList": [{
                    "LifecycleHookName": "cm-bridge-drain", "HeartbeatTimeout": 600, "DefaultResult": "CONTINUE",
                    "LifecycleTransition": "autoscaling:EC2_INSTANCE_TERMINATING"}]}},
            "Task": {"Type": "AWS::ECS::TaskDefinition", "Properties": {
                "Family": "cm-bridge-task", "NetworkMode": "bridge", "RequiresCompatibilities": ["EC2"],
                "ExecutionRoleArn": "arn:aws:iam::123456789012:role/exec",
                "Volumes": [{"Name": "data", "EFSVolumeConfiguration": {
                    "FilesystemId": "fs-0123456789abcdef0", "RootDirectory": "/", "TransitEncryption": "ENABLED"}}],
                "ContainerDefinitions": [{"Name": "mc", "Image": "itzg/minecraft-server", "Memory": 3584,
                                          "Essential": True, "MountPoints": [{"SourceVolume": "data",
                                                                              "ContainerPath": "/data"}],
                                          "LogConfiguration": {"LogDriver": "awslogs", "Options": {
                                              "awslogs-group": "/ecs/mc"}}}]}},
            "Role": ROLE,
            "Function": {"Type": "AWS::Lambda::Function", "Properties": dict(
                FUNCTION["Properties"], Architectures=["arm64"],
                LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG", "SystemLogLevel": "WARN"},
                Tags=[{"Key": "cm:record", "Value": "mc.example.com"}],
                Environment={"Variables": {"IDLE_MINUTES": {"Ref": "IdleMinutes"}, "STOP": "false"}})},
        },
    }
    stack, _ = deploy(endpoint, template)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack["Failed"]
    hooks = client("autoscaling", endpoint).describe_lifecycle_hooks(
        AutoScalingGroupName="cm-bridge-asg")["LifecycleHooks"]
    assert [(h["LifecycleHookName"], h["LifecycleTransition"], h["HeartbeatTimeout"], h["DefaultResult"])
            for h in hooks] == [("cm-bridge-drain", "autoscaling:EC2_INSTANCE_TERMINATING", 600, "CONTINUE")]
    task = client("ecs", endpoint).describe_task_definition(taskDefinition="cm-bridge-task")["taskDefinition"]
    assert task["networkMode"] == "bridge" and task["requiresCompatibilities"] == ["EC2"]
    assert task["executionRoleArn"] == "arn:aws:iam::123456789012:role/exec"
    assert task["volumes"] == [{"name": "data", "efsVolumeConfiguration": {
        "fileSystemId": "fs-0123456789abcdef0", "rootDirectory": "/", "transitEncryption": "ENABLED"}}]
    assert task["containerDefinitions"][0]["logConfiguration"]["options"] == {"awslogs-group": "/ecs/mc"}
    lambda_ = client("lambda", endpoint)
    config = lambda_.get_function_configuration(FunctionName="cm-bridge-fn")
    assert config["Architectures"] == ["arm64"]
    assert config["LoggingConfig"] == {"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG",
                                       "SystemLogLevel": "WARN", "LogGroup": "/aws/lambda/cm-bridge-fn"}
    assert config["Environment"]["Variables"] == {"IDLE_MINUTES": "30", "STOP": "false"}
    assert lambda_.list_tags(Resource=config["FunctionArn"])["Tags"] == {"cm:record": "mc.example.com"}


RULES_TEMPLATE = {
    "Parameters": {
        "Component": {"Type": "String", "Default": "all", "AllowedValues": ["all", "dns", "container"]},
        "ContainerName": {"Type": "String", "Default": "mc", "AllowedPattern": "^[a-z]([a-z0-9-]{0,17}[a-z0-9])?$",
                          "MaxLength": 19, "ConstraintDescription": "a DNS label"},
        "IdleMinutes": {"Type": "Number", "Default": 30, "MinValue": 5, "MaxValue": 1440},
    },
    "Rules": {
        "DnsInUsEast1": {
            "RuleCondition": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Component"}, "container"]}]},
            "Assertions": [{"Assert": {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]},
                            "AssertDescription": "DNS components deploy only in us-east-1."}]},
    },
    "Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "cm-bridge-topic"}}},
}


@pytest.mark.parametrize("region, parameters, message", [
    ("eu-west-1", {}, "DNS components deploy only in us-east-1."),
    ("us-east-1", {"Component": "everything"}, "Parameter 'Component' must be one of AllowedValues"),
    ("us-east-1", {"ContainerName": "mc-"}, "Parameter 'ContainerName' failed to satisfy constraint: a DNS label"),
    ("us-east-1", {"IdleMinutes": "4"}, "Parameter 'IdleMinutes' must be a number not less than 5"),
])
def test_rules_and_parameter_constraints_refuse_before_anything_is_made(endpoint, region, parameters, message):
    with pytest.raises(botocore.exceptions.ClientError) as err:
        deploy(endpoint, RULES_TEMPLATE, parameters, region=region)
    assert err.value.response["Error"]["Code"] == "ValidationError"
    assert err.value.response["Error"]["Message"] == message
    sns = boto3.client("sns", endpoint_url=endpoint, region_name=region, aws_access_key_id="test",
                       aws_secret_access_key="test")
    assert sns.list_topics()["Topics"] == []


def test_a_deploy_within_the_rules_is_made(endpoint):
    stack, resources = deploy(endpoint, RULES_TEMPLATE, {"Component": "container", "IdleMinutes": "60"},
                              region="eu-west-1")
    assert stack["StackStatus"] == "CREATE_COMPLETE" and list(resources) == ["Topic"]


def test_a_resource_that_cannot_be_made_fails_the_stack_with_its_reason(endpoint):
    template = {
        "Conditions": {"Never": {"Fn::Equals": ["a", "b"]}},
        "Resources": {
            "First": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": "/cm/same"}},
            "Second": {"Type": "AWS::Logs::LogGroup", "DependsOn": "First",
                       "Properties": {"LogGroupName": "/cm/same"}},
            "Skipped": {"Type": "AWS::SNS::Topic", "Condition": "Never"},
        },
        "Outputs": {"Group": {"Value": {"Ref": "Second"}}},
    }
    stack, resources = deploy(endpoint, template)
    assert stack["StackStatus"] == "CREATE_FAILED"
    assert "Outputs" not in stack
    assert list(resources) == ["First"]
    events = client("cloudformation", endpoint).describe_stack_events(StackName="cm-bridge-test")["StackEvents"]
    failed = {e["LogicalResourceId"]: e.get("ResourceStatusReason", "") for e in events
              if e["ResourceStatus"] == "CREATE_FAILED"}
    assert "already exists" in failed["Second"], failed
    assert failed["cm-bridge-test"] == "The following resource(s) failed to create: [Second]."


def test_resources_whose_condition_is_false_are_not_listed(endpoint):
    template = {
        "Conditions": {"Never": {"Fn::Equals": ["a", "b"]}},
        "Resources": {
            "Kept": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "cm-bridge-kept"}},
            "Skipped": {"Type": "AWS::SNS::Topic", "Condition": "Never", "Properties": {"TopicName": "x"}},
        },
    }
    _, resources = deploy(endpoint, template)
    assert list(resources) == ["Kept"]
    listed = client("cloudformation", endpoint).list_stack_resources(StackName="cm-bridge-test")
    assert [r["LogicalResourceId"] for r in listed["StackResourceSummaries"]] == ["Kept"]


def test_rule_expressions_evaluate_like_cloudformation():
    values = {"Component": "container", "AWS::Region": "eu-west-1", "Zones": ["a", "b"]}
    assert cm_emulator.rule_value({"Fn::Equals": [{"Ref": "Component"}, "container"]}, values) is True
    assert cm_emulator.rule_value({"Fn::Not": [{"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}]}, values)
    assert cm_emulator.rule_value({"Fn::Contains": [["all", "dns"], {"Ref": "Component"}]}, values) is False
    assert cm_emulator.rule_value({"Fn::EachMemberIn": [{"Ref": "Zones"}, ["a", "b", "c"]]}, values) is True
    with pytest.raises(cm_emulator.StackRefused):
        cm_emulator.rule_value({"Ref": "Missing"}, values)


def test_an_update_replaces_the_task_definition_and_keeps_the_function_configuration(endpoint):
    template = {
        "Parameters": {"Image": {"Type": "String", "Default": "itzg/minecraft-server:latest"},
                       "LogLevel": {"Type": "String", "Default": "INFO"},
                       "Name": {"Type": "String", "Default": "mc"}},
        "Resources": {
            "Task": {"Type": "AWS::ECS::TaskDefinition", "Properties": {
                "Family": "cm-bridge-task", "NetworkMode": "bridge",
                "ContainerDefinitions": [{"Name": "mc", "Image": {"Ref": "Image"}, "Memory": 512}]}},
            "Role": ROLE,
            "Function": {"Type": "AWS::Lambda::Function", "Properties": dict(
                FUNCTION["Properties"], Code={"S3Bucket": "cm-bridge-code", "S3Key": "fn.zip"},
                LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": {"Ref": "LogLevel"}},
                Environment={"Variables": {"DOMAIN_NAME": {"Fn::Sub": "${Name}.example.com"}}})},
        },
    }
    s3 = client("s3", endpoint)
    s3.create_bucket(Bucket="cm-bridge-code")
    s3.put_object(Bucket="cm-bridge-code", Key="fn.zip", Body=b"PK\x05\x06" + b"\x00" * 18)
    deploy(endpoint, template)
    client("cloudformation", endpoint).update_stack(
        StackName="cm-bridge-test", TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": "Image", "ParameterValue": "itzg/minecraft-server:java21"},
                    {"ParameterKey": "LogLevel", "ParameterValue": "DEBUG"},
                    {"ParameterKey": "Name", "ParameterValue": "mc2"}])
    ecs = client("ecs", endpoint)
    latest = ecs.describe_task_definition(taskDefinition="cm-bridge-task")["taskDefinition"]
    assert (latest["revision"], latest["networkMode"], latest["containerDefinitions"][0]["image"]) == (
        2, "bridge", "itzg/minecraft-server:java21")
    assert ecs.describe_task_definition(taskDefinition="cm-bridge-task:1")["taskDefinition"]["status"] == "INACTIVE"
    stack = client("cloudformation", endpoint).describe_stacks(StackName="cm-bridge-test")["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    config = client("lambda", endpoint).get_function_configuration(FunctionName="cm-bridge-fn")
    assert config["LoggingConfig"]["ApplicationLogLevel"] == "DEBUG"
    assert config["Environment"]["Variables"] == {"DOMAIN_NAME": "mc2.example.com"}


def test_a_resource_that_cannot_be_updated_fails_the_update_with_its_reason(endpoint):
    def template(retries: int) -> dict:
        return {"Resources": {
            "Role": ROLE,
            "Function": FUNCTION,
            "InvokeConfig": {"Type": "AWS::Lambda::EventInvokeConfig", "Properties": {
                "FunctionName": {"Ref": "Function"}, "Qualifier": "$LATEST", "MaximumRetryAttempts": retries}},
        }}

    deploy(endpoint, template(2))
    cloudformation = client("cloudformation", endpoint)
    cloudformation.update_stack(StackName="cm-bridge-test", TemplateBody=json.dumps(template(3)))
    assert cloudformation.describe_stacks(StackName="cm-bridge-test")["Stacks"][0]["StackStatus"] == "UPDATE_FAILED"
    events = cloudformation.describe_stack_events(StackName="cm-bridge-test")["StackEvents"]
    failed = {e["LogicalResourceId"]: e.get("ResourceStatusReason", "") for e in events
              if e["ResourceStatus"] == "UPDATE_FAILED"}
    assert "less than or equal to 2" in failed["InvokeConfig"], failed
    assert failed["cm-bridge-test"] == "The following resource(s) failed to update: [InvokeConfig]."


def custom_requests(endpoint: str, state: str | None = None) -> list:
    _, items = harness(endpoint, "/_cm/custom-resources" + (f"?state={state}" if state else ""))
    return items


def put_answer(request: dict, status: str, reason: str = "", data: dict | None = None,
               physical_id: str = "cm-bridge-reconcile") -> int:
    body = json.dumps({"Status": status, "Reason": reason, "PhysicalResourceId": physical_id,
                       "StackId": request["StackId"], "RequestId": request["RequestId"],
                       "LogicalResourceId": request["LogicalResourceId"], "NoEcho": False,
                       "Data": data or {}}).encode()
    put = urllib.request.Request(request["ResponseURL"], data=body, method="PUT")
    with urllib.request.urlopen(put) as resp:
        return resp.status


CUSTOM_TEMPLATE = {
    "Parameters": {"Image": {"Type": "String", "Default": "itzg/minecraft-server:latest"}},
    "Resources": {
        "Role": ROLE,
        "Function": FUNCTION,
        "Task": {"Type": "AWS::ECS::TaskDefinition", "Properties": {
            "Family": "cm-bridge-task", "NetworkMode": "bridge",
            "ContainerDefinitions": [{"Name": "mc", "Image": {"Ref": "Image"}, "Memory": 512}]}},
        "Reconcile": {"Type": "Custom::ServiceReconcile", "Properties": {
            "ServiceToken": {"Fn::GetAtt": ["Function", "Arn"]}, "TaskDefinition": {"Ref": "Task"},
            "DesiredCount": 0, "Deployment": {"MinimumHealthyPercent": 0, "Enabled": True}}},
    },
    "Outputs": {"Count": {"Value": {"Fn::GetAtt": ["Reconcile", "DesiredCount"]}}},
}


def test_a_custom_resource_waits_for_its_answer_on_create_update_and_delete(endpoint):
    cloudformation = client("cloudformation", endpoint)
    stack, _ = deploy(endpoint, CUSTOM_TEMPLATE)
    assert stack["StackStatus"] == "CREATE_IN_PROGRESS"
    [create] = custom_requests(endpoint, "pending")
    request = create["Request"]
    assert (create["RequestType"], create["StackName"], request["LogicalResourceId"]) == (
        "Create", "cm-bridge-test", "Reconcile")
    assert request["ResourceType"] == "Custom::ServiceReconcile"
    assert request["ServiceToken"].endswith(":function:cm-bridge-fn")
    # Property values as strings, as CloudFormation passes them.
    assert request["ResourceProperties"]["DesiredCount"] == "0"
    assert request["ResourceProperties"]["Deployment"] == {"MinimumHealthyPercent": "0", "Enabled": "true"}
    assert request["ResourceProperties"]["TaskDefinition"].endswith("task-definition/cm-bridge-task:1")
    assert "PhysicalResourceId" not in request
    assert put_answer(request, "SUCCESS", data={"DesiredCount": "0"}) == 200
    described = cloudformation.describe_stacks(StackName="cm-bridge-test")["Stacks"][0]
    assert described["StackStatus"] == "CREATE_COMPLETE"
    assert outputs(described) == {"Count": "0"}
    resources = cloudformation.describe_stack_resources(StackName="cm-bridge-test")["StackResources"]
    assert {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources}["Reconcile"] == "cm-bridge-reconcile"

    # A new image replaces the task definition: the custom resource refers to it, so it
    # is updated too (with the new ARN), and the stack waits for the answer.
    cloudformation.update_stack(StackName="cm-bridge-test", TemplateBody=json.dumps(CUSTOM_TEMPLATE),
                                Parameters=[{"ParameterKey": "Image", "ParameterValue": "itzg/minecraft-server:java21"}])
    assert cloudformation.describe_stacks(StackName="cm-bridge-test")["Stacks"][0]["StackStatus"] == "UPDATE_IN_PROGRESS"
    [update] = custom_requests(endpoint, "pending")
    request = update["Request"]
    assert request["RequestType"] == "Update"
    assert request["PhysicalResourceId"] == "cm-bridge-reconcile"
    assert request["ResourceProperties"]["TaskDefinition"].endswith(":2")
    assert request["OldResourceProperties"]["TaskDefinition"].endswith(":1")
    followed = [i["LogicalResourceId"] for i in harness(endpoint, "/_cm/bridged?stack=cm-bridge-test")[1]
                if i["Bridge"] == "Stack updates: dependents of a replaced resource"]
    assert followed == ["Reconcile"]
    put_answer(request, "FAILED", reason="UpdateService c/s failed: boom")
    assert cloudformation.describe_stacks(StackName="cm-bridge-test")["Stacks"][0]["StackStatus"] == "UPDATE_FAILED"
    events = cloudformation.describe_stack_events(StackName="cm-bridge-test")["StackEvents"]
    failed = {e["LogicalResourceId"]: e.get("ResourceStatusReason", "") for e in events
              if e["ResourceStatus"] == "UPDATE_FAILED"}
    assert failed["Reconcile"] == "UpdateService c/s failed: boom"

    # The delete waits for the Delete's answer before it goes on.
    def answer_the_delete() -> None:
        for _ in range(100):
            pending = custom_requests(endpoint, "pending")
            if pending:
                put_answer(pending[0]["Request"], "SUCCESS")
                return
            threading.Event().wait(0.05)

    answering = threading.Thread(target=answer_the_delete)
    answering.start()
    cloudformation.delete_stack(StackName="cm-bridge-test")
    answering.join()
    delete = [i for i in custom_requests(endpoint) if i["RequestType"] == "Delete"]
    assert [(d["State"], d["Request"]["PhysicalResourceId"]) for d in delete] == [("answered", "cm-bridge-reconcile")]
    assert cloudformation.describe_stacks(StackName=stack["StackId"])["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"


def test_an_answer_that_does_not_match_its_request_fails_the_resource(endpoint):
    deploy(endpoint, CUSTOM_TEMPLATE)
    [create] = custom_requests(endpoint, "pending")
    request = dict(create["Request"], RequestId="someone-else")
    put_answer(dict(request, ResponseURL=create["Request"]["ResponseURL"]), "SUCCESS")
    cloudformation = client("cloudformation", endpoint)
    assert cloudformation.describe_stacks(StackName="cm-bridge-test")["Stacks"][0]["StackStatus"] == "CREATE_FAILED"
    events = cloudformation.describe_stack_events(StackName="cm-bridge-test")["StackEvents"]
    reasons = [e.get("ResourceStatusReason", "") for e in events if e["LogicalResourceId"] == "Reconcile"]
    assert any(r.startswith("Invalid response object: RequestId") for r in reasons), reasons


def test_a_record_changed_since_the_stack_made_it_fails_the_delete(endpoint):
    template = {"Resources": {
        "Zone": {"Type": "AWS::Route53::HostedZone", "Properties": {"Name": "mc.example.com"}},
        "Record": {"Type": "AWS::Route53::RecordSet", "Properties": {
            "HostedZoneId": {"Ref": "Zone"}, "Name": "mc.example.com", "Type": "A", "TTL": "1",
            "ResourceRecords": ["0.0.0.0"]}},
    }}
    stack, resources = deploy(endpoint, template)
    zone = resources["Zone"]["PhysicalResourceId"]
    route53 = client("route53", endpoint)
    route53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [{
        "Action": "UPSERT", "ResourceRecordSet": {"Name": "mc.example.com.", "Type": "A", "TTL": 1,
                                                  "ResourceRecords": [{"Value": "203.0.113.7"}]}}]})
    cloudformation = client("cloudformation", endpoint)
    cloudformation.delete_stack(StackName="cm-bridge-test")
    described = cloudformation.describe_stacks(StackName="cm-bridge-test")["Stacks"][0]
    assert described["StackStatus"] == "DELETE_FAILED"
    events = cloudformation.describe_stack_events(StackName="cm-bridge-test")["StackEvents"]
    failed = {e["LogicalResourceId"]: e.get("ResourceStatusReason", "") for e in events
              if e["ResourceStatus"] == "DELETE_FAILED"}
    assert "do not match the current values" in failed["Record"], failed
    # Put back to the template's value, the record and then the zone go.
    route53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [{
        "Action": "UPSERT", "ResourceRecordSet": {"Name": "mc.example.com.", "Type": "A", "TTL": 1,
                                                  "ResourceRecords": [{"Value": "0.0.0.0"}]}}]})
    cloudformation.delete_stack(StackName="cm-bridge-test")
    assert cloudformation.describe_stacks(StackName=stack["StackId"])["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"
    assert route53.list_hosted_zones()["HostedZones"] == []


def test_a_group_delete_waits_on_its_terminate_hook(endpoint):
    make_group(endpoint, name="cm-asg-test-1", hook="drain")
    autoscaling = client("autoscaling", endpoint)
    autoscaling.set_desired_capacity(AutoScalingGroupName="cm-asg-test-1", DesiredCapacity=1)
    from moto.autoscaling.models import autoscaling_backends

    group = autoscaling_backends["123456789012"]["us-east-1"].autoscaling_groups["cm-asg-test-1"]
    instance = group.instance_states[0].instance.id
    done = threading.Event()
    deleting = threading.Thread(target=lambda: (group.delete("123456789012", "us-east-1"), done.set()))
    deleting.start()
    for _ in range(100):
        pending = harness(endpoint, "/_cm/lifecycle-actions")[1]["pending"]
        if pending:
            break
        threading.Event().wait(0.05)
    assert [(p["InstanceId"], p["LifecycleHookName"]) for p in pending] == [(instance, "drain")]
    assert group.instance_states[0].lifecycle_state == "Terminating:Wait"
    assert not done.is_set()
    autoscaling.complete_lifecycle_action(AutoScalingGroupName="cm-asg-test-1", LifecycleHookName="drain",
                                          InstanceId=instance, LifecycleActionResult="CONTINUE")
    deleting.join(timeout=10)
    assert done.is_set()
    assert autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["cm-asg-test-1"])["AutoScalingGroups"] == []


# A stack that exports a name only when Component is base (the template's base part),
# and one that imports it (a container part).
EXPORTING = {
    "Parameters": {"Component": {"Type": "String"}},
    "Conditions": {"Base": {"Fn::Equals": [{"Ref": "Component"}, "base"]}},
    "Resources": {
        "Topic": {"Type": "AWS::SNS::Topic", "Condition": "Base", "Properties": {"TopicName": "cm-bridge-base"}},
        "Always": {"Type": "AWS::SNS::Topic", "Properties": {}},
    },
    "Outputs": {"TopicArn": {"Condition": "Base", "Value": {"Ref": "Topic"},
                             "Export": {"Name": "cm-test-TopicArn"}}},
}
IMPORTING = {"Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {
    "Fn::Sub": ["cm-bridge-${Name}", {"Name": {"Fn::Select": [5, {"Fn::Split": [
        ":", {"Fn::ImportValue": "cm-test-TopicArn"}]}]}}]}}}}}


def test_an_output_is_exported_once_created_and_only_if_its_condition_holds(endpoint):
    cloudformation = client("cloudformation", endpoint)
    # Conditioned off: no export, so it claims no name.
    stack, _ = deploy(endpoint, EXPORTING, {"Component": "domain"}, name="cm-bridge-domain")
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert cloudformation.list_exports()["Exports"] == []
    base, _ = deploy(endpoint, EXPORTING, {"Component": "base"}, name="cm-bridge-base")
    assert base["StackStatus"] == "CREATE_COMPLETE"
    assert base["Outputs"][0]["ExportName"] == "cm-test-TopicArn"
    arn = "arn:aws:sns:us-east-1:123456789012:cm-bridge-base"
    assert [(e["Name"], e["Value"]) for e in cloudformation.list_exports()["Exports"]] == [("cm-test-TopicArn", arn)]
    # Another stack of the region exporting the same name fails, as CloudFormation's does.
    again, _ = deploy(endpoint, EXPORTING, {"Component": "base"}, name="cm-bridge-base-2")
    assert again["StackStatus"] == "CREATE_FAILED"
    assert again["Failed"]["cm-bridge-base-2"] == \
        "Export with name cm-test-TopicArn is already exported by stack cm-bridge-base"
    # Fn::ImportValue reads it; another region has exports of its own.
    importing, resources = deploy(endpoint, IMPORTING, name="cm-bridge-container")
    assert importing["StackStatus"] == "CREATE_COMPLETE"
    assert resources["Queue"]["PhysicalResourceId"].endswith("/cm-bridge-cm-bridge-base")
    elsewhere, _ = deploy(endpoint, IMPORTING, name="cm-bridge-container", region="eu-west-1")
    assert elsewhere["StackStatus"] != "CREATE_COMPLETE"
    # The export goes with its stack.
    cloudformation.delete_stack(StackName="cm-bridge-base")
    assert cloudformation.list_exports()["Exports"] == []


def test_container_instance_attributes_and_the_cluster_query_language(endpoint):
    ec2 = client("ec2", endpoint)
    image = ec2.describe_images()["Images"][0]["ImageId"]
    instances = [i["InstanceId"] for i in ec2.run_instances(
        ImageId=image, MinCount=2, MaxCount=2, InstanceType="t3.micro")["Instances"]]
    ecs = client("ecs", endpoint)
    ecs.create_cluster(clusterName="cm-cluster-test")
    arns = []
    for instance, container in zip(instances, ["mc", "valheim"]):
        registered = ecs.register_container_instance(
            cluster="cm-cluster-test",
            instanceIdentityDocument=json.dumps({"instanceId": instance, "region": "us-east-1"}),
            attributes=[{"name": "cm.container", "value": container}])
        arns.append(registered["containerInstance"]["containerInstanceArn"])
    described = ecs.describe_container_instances(cluster="cm-cluster-test", containerInstances=arns)
    assert [{a["name"]: a.get("value") for a in ci["attributes"]}["cm.container"]
            for ci in described["containerInstances"]] == ["mc", "valheim"]
    listed = ecs.list_attributes(cluster="cm-cluster-test", targetType="container-instance",
                                 attributeName="cm.container", attributeValue="valheim")
    assert [a["targetId"] for a in listed["attributes"]] == [arns[1]]

    def matching(expression: str) -> list[str]:
        return ecs.list_container_instances(cluster="cm-cluster-test", filter=expression)["containerInstanceArns"]

    assert matching("attribute:cm.container == mc") == [arns[0]]
    assert matching("attribute:cm.container != mc") == [arns[1]]
    assert sorted(matching("attribute:cm.container exists")) == sorted(arns)
    assert matching(f"attribute:cm.container == valheim and ec2InstanceId == {instances[1]}") == [arns[1]]
    assert matching(f"attribute:cm.container == mc and ec2InstanceId == {instances[1]}") == []
    assert sorted(ecs.list_container_instances(cluster="cm-cluster-test")["containerInstanceArns"]) == sorted(arns)
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        matching("attribute:cm.container in [mc, valheim]")
    assert refused.value.response["Error"]["Code"] == "InvalidParameterException"


def test_cluster_query_expressions_evaluate_like_ecs():
    attributes = {"cm.container": "mc", "ecs.instance-type": "t3.medium"}
    assert cm_emulator.cluster_query_matches("attribute:cm.container == mc", "i-1", attributes)
    assert not cm_emulator.cluster_query_matches("attribute:cm.container == mcx", "i-1", attributes)
    assert cm_emulator.cluster_query_matches("attribute:other != x", "i-1", attributes)
    assert not cm_emulator.cluster_query_matches("attribute:other exists", "i-1", attributes)
    assert cm_emulator.cluster_query_matches(
        "attribute:ecs.instance-type == t3.medium and ec2InstanceId == i-1", "i-1", attributes)
    with pytest.raises(ValueError):
        cm_emulator.cluster_query_matches("attribute:cm.container =~ m.*", "i-1", attributes)


def test_a_task_runs_until_it_is_stopped(endpoint):
    ec2 = client("ec2", endpoint)
    image = ec2.describe_images()["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro")["Instances"][0]
    ecs = client("ecs", endpoint)
    ecs.create_cluster(clusterName="cm-cluster-test")
    registered = ecs.register_container_instance(
        cluster="cm-cluster-test",
        instanceIdentityDocument=json.dumps({"instanceId": instance["InstanceId"], "region": "us-east-1"}))
    ecs.register_task_definition(family="cm-task-test", containerDefinitions=[
        {"name": "mc", "image": "itzg/minecraft-server", "memory": 512}])
    task = ecs.start_task(cluster="cm-cluster-test", taskDefinition="cm-task-test",
                          containerInstances=[registered["containerInstance"]["containerInstanceArn"]],
                          group="service:cm-service-test")["tasks"][0]["taskArn"]
    for _ in range(10):
        described = ecs.describe_tasks(cluster="cm-cluster-test", tasks=[task])["tasks"][0]
        assert described["lastStatus"] == "RUNNING"
    ecs.stop_task(cluster="cm-cluster-test", task=task, reason="Essential container in task exited")
    assert ecs.describe_tasks(cluster="cm-cluster-test", tasks=[task])["tasks"][0]["lastStatus"] == "STOPPED"
