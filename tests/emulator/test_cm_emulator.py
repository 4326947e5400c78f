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
