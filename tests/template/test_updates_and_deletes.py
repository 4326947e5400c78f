"""Stack updates and deletes, read off the template CloudFormation receives (the SAM
transform applied):

- every update of the ECS service is followed by an update of ``ServiceReconcile``, the
  custom resource through which the ECS sync puts the service back to the group's
  state (CloudFormation sends the template's ``DesiredCount: 0`` on each update of the
  service);
- a stack delete removes the Auto Scaling group (and with it its terminate hook)
  before anything its terminating instance needs, and the custom resource before the
  function that answers it.

The transform and the dependency graph are test_template.py's."""

from __future__ import annotations

from typing import Any

import pytest

from test_template import _transformed, depends_on, invokers_of, references

SERVICE = "Service"
RECONCILE = "ServiceReconcile"
SYNC = "AsgEcsSyncFunction"
UPDATER = "DnsRecordUpdaterFunction"
GROUP = "AutoScalingGroup"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return _transformed()


def test_the_reconcile_repeats_every_property_of_the_service(template):
    service = template["Resources"][SERVICE]["Properties"]
    reconcile = template["Resources"][RECONCILE]["Properties"]
    # Equal values: whatever changes the service's properties (a new task definition
    # revision, a parameter in a Sub, a literal edited in the template) changes the
    # custom resource's, so CloudFormation updates it after the service.
    differing = {k: (v, reconcile.get(k)) for k, v in service.items() if reconcile.get(k) != v}
    assert differing == {}
    missing = references(service) - references(reconcile)
    assert missing == set(), f"the Service refers to {missing}, ServiceReconcile does not"


def test_the_reconcile_runs_after_the_service_and_the_group_on_the_ecs_sync(template):
    resource = template["Resources"][RECONCILE]
    assert resource["Type"] == "Custom::ServiceReconcile"
    assert resource["Condition"] == template["Resources"][SERVICE]["Condition"]
    assert resource["Properties"]["ServiceToken"] == {"Fn::GetAtt": [SYNC, "Arn"]}
    depends = resource.get("DependsOn", [])
    assert SERVICE in ([depends] if isinstance(depends, str) else depends)
    # The group exists before the first request (the sync reads it), and the request
    # names the group, the cluster and the service the sync is configured with.
    assert resource["Properties"]["AutoScalingGroupName"] == {"Ref": GROUP}
    variables = template["Resources"][SYNC]["Properties"]["Environment"]["Variables"]
    assert resource["Properties"]["ServiceName"] == variables["ECS_SERVICE_NAME"]
    # The cluster in use: an all stack's own, a container stack's from its base stack.
    assert resource["Properties"]["Cluster"] == variables["ECS_CLUSTER_NAME"] == {
        "Fn::If": [
            "DeployAll",
            {"Ref": "Cluster"},
            {"Fn::ImportValue": {"Fn::Sub": "${BaseName}-${Environment}-ClusterName"}},
        ]
    }
    deps = depends_on(template)
    assert {SERVICE, GROUP, SYNC, "TaskDefinition", "Cluster"} <= deps[RECONCILE]


def test_a_delete_removes_the_reconcile_first_and_its_function_after_it(template):
    deps = depends_on(template)
    # Nothing depends on the custom resource: CloudFormation deletes it (the sync
    # answers at once) before anything it could need.
    assert [k for k, d in deps.items() if RECONCILE in d] == []
    assert SYNC in deps[RECONCILE]


def test_the_group_is_deleted_before_every_function_rule_schedule_and_permission_of_its_terminate(template):
    deps = depends_on(template)
    invokers = invokers_of(template, SYNC) | invokers_of(template, UPDATER)
    # Group events and the schedules that heal a missed one, each with its permission.
    assert len(invokers) == 8, invokers
    needed = invokers | {SYNC, UPDATER, SERVICE}
    assert needed - deps[GROUP] == set()
    # The terminate hook is part of the group: deleted with it, never before it.
    hooks = template["Resources"][GROUP]["Properties"]["LifecycleHookSpecificationList"]
    assert [h["LifecycleTransition"] for h in hooks] == ["autoscaling:EC2_INSTANCE_TERMINATING"]
    assert not [r for r in template["Resources"].values() if r["Type"] == "AWS::AutoScaling::LifecycleHook"]


def test_no_record_the_updater_writes_is_left_for_cloudformation_to_guess(template):
    # The only A record is the template's, at the updater's resting value, deleted after
    # the updater and the group; no AAAA record is in the template (the updater deletes
    # its own when the instance goes).
    records = {k: r["Properties"] for k, r in template["Resources"].items() if r["Type"] == "AWS::Route53::RecordSet"}
    addresses = {k: p["Type"] for k, p in records.items() if p["Type"] in ("A", "AAAA")}
    assert addresses == {"ContainerRecord": "A"}
    deps = depends_on(template)
    for dependant in {GROUP, UPDATER} | invokers_of(template, UPDATER):
        assert "ContainerRecord" in deps[dependant], dependant
