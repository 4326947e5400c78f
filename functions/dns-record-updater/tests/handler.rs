//! The fast tier: `handle` with the in-memory [`FakeCloud`], the sample events of
//! `events/asg/` and the configuration `sam local invoke` uses (`events/env.json`).
//! Every case of the emulator tier, and the DNS updater's reliability cases: bad
//! input, duplicates, events out of order, and failed calls.

use cm_core::Error;
use cm_testkit::env_json::function_env;
use cm_testkit::events::asg_sample;
use dns_record_updater::decide::{Addresses, RecordSet, RecordType};
use dns_record_updater::fake::Published;
use dns_record_updater::{handle, Action, Config, Event, FakeCloud, Found, Outcome};
use serde_json::{json, Value};

const GROUP: &str = "cm-asg-dev-mc";
const ZONE: &str = "Z0123456789ABCDEFGHIJ";
const NAME: &str = "mc.example.com";
const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:cm-topic-dev-mc";
/// The instance of the sample events.
const A: &str = "i-0a1b2c3d4e5f60718";
const B: &str = "i-0b2c3d4e5f6071829";
const IP_A: &str = "203.0.113.7";
const IP_B: &str = "203.0.113.8";

const LAUNCH: &str = "launch-successful.json";
const LAUNCH_FROM_POOL: &str = "launch-from-warm-pool.json";
const LAUNCH_INTO_POOL: &str = "launch-into-warm-pool.json";
const TERMINATE: &str = "terminate-lifecycle-action.json";

/// The function's entry of events/env.json, with `change` applied (`None`: removed).
fn config_with(change: &[(&str, Option<&str>)]) -> Config {
    Config::from_env(function_env("DnsRecordUpdaterFunction", change))
        .expect("a valid configuration")
}

fn config() -> Config {
    config_with(&[])
}

/// The sample event `events/asg/<sample>` for `instance`.
fn event(sample: &str, instance: &str) -> Value {
    asg_sample(sample, GROUP, instance)
}

fn launch(instance: &str) -> Value {
    event(LAUNCH, instance)
}

fn terminate(instance: &str) -> Value {
    event(TERMINATE, instance)
}

fn ipv4(ip: &str) -> Addresses {
    Addresses {
        ipv4: Some(ip.parse().expect("an IPv4 address")),
        ipv6: Vec::new(),
    }
}

/// The zone with the record at the unavailable IP (as the template creates it), and
/// the group with instance A in service at IP_A.
fn cloud() -> FakeCloud {
    let cloud = FakeCloud::new(GROUP, ZONE);
    cloud.put_record(RecordSet {
        name: NAME.into(),
        kind: RecordType::A,
        ttl: 1,
        values: vec!["0.0.0.0".into()],
    });
    cloud.add_instance(A, "InService", ipv4(IP_A));
    cloud
}

fn record(cloud: &FakeCloud, kind: RecordType) -> Option<String> {
    cloud.record(NAME, kind).map(|r| r.values.join(","))
}

fn messages(cloud: &FakeCloud) -> Vec<(String, String)> {
    cloud
        .published()
        .into_iter()
        .map(|p| (p.message.text, p.message.event_type))
        .collect()
}

async fn run(cloud: &FakeCloud, event: &Value) -> Result<Outcome, Error> {
    handle(&config(), cloud, event).await
}

#[tokio::test]
async fn a_launch_points_the_name_at_the_instance_and_says_so_once() {
    let cloud = cloud();
    let outcome = run(&cloud, &launch(A)).await.expect("success");
    assert_eq!(outcome.event, Event::Launch);
    assert_eq!(outcome.instance_id.as_deref(), Some(A));
    assert_eq!(record(&cloud, RecordType::A).as_deref(), Some(IP_A));
    assert_eq!(
        cloud.published(),
        vec![Published {
            topic: TOPIC.into(),
            message: dns_record_updater::decide::Message {
                event_type: "launch".into(),
                subject: "mc is up".into(),
                text: format!("mc is up at {IP_A}"),
            },
        }]
    );

    // The same event again (at-least-once delivery): a quiet no-op.
    let again = run(&cloud, &launch(A))
        .await
        .expect("a duplicate is no error");
    assert_eq!(again.event, Event::Launch);
    assert!(again.actions.is_empty(), "{:?}", again.actions);
    assert_eq!(
        again.note,
        Some(format!("mc.example.com already points at {IP_A}"))
    );
    assert_eq!(messages(&cloud).len(), 1, "no second message");
    assert_eq!(cloud.recorder.count("ChangeResourceRecordSets"), 1);
    assert_eq!(cloud.recorder.count("Publish"), 1);
}

#[tokio::test]
async fn a_launch_out_of_the_warm_pool_is_followed() {
    let cloud = cloud();
    let outcome = run(&cloud, &event(LAUNCH_FROM_POOL, A))
        .await
        .expect("success");
    assert_eq!(outcome.event, Event::Launch);
    assert_eq!(record(&cloud, RecordType::A).as_deref(), Some(IP_A));
}

#[tokio::test]
async fn a_launch_into_the_warm_pool_is_ignored_and_reads_nothing() {
    let cloud = cloud();
    cloud.set_lifecycle_state(A, "Warmed:Pending");
    let outcome = run(&cloud, &event(LAUNCH_INTO_POOL, A))
        .await
        .expect("success");
    assert_eq!(outcome.event, Event::Ignored);
    assert!(outcome.actions.is_empty());
    assert!(
        outcome
            .note
            .as_deref()
            .unwrap_or_default()
            .contains("warm pool"),
        "{outcome:?}"
    );
    assert!(
        cloud.recorder.calls().is_empty(),
        "{:?}",
        cloud.recorder.calls()
    );
    assert_eq!(record(&cloud, RecordType::A).as_deref(), Some("0.0.0.0"));
}

#[tokio::test]
async fn a_terminate_points_the_name_at_the_unavailable_ip() {
    let cloud = cloud();
    run(&cloud, &launch(A)).await.expect("launch");
    cloud.set_lifecycle_state(A, "Terminating:Wait");
    let outcome = run(&cloud, &terminate(A)).await.expect("terminate");
    assert_eq!(outcome.event, Event::Terminate);
    assert_eq!(record(&cloud, RecordType::A).as_deref(), Some("0.0.0.0"));
    assert_eq!(
        messages(&cloud).last().cloned(),
        Some(("mc is shutting down".to_string(), "terminate".to_string()))
    );
    let Some(Action::Publish { subject, .. }) = outcome.actions.last() else {
        panic!("a message: {outcome:?}")
    };
    assert_eq!(subject, "mc is shutting down");
}

#[tokio::test]
async fn a_repeated_terminate_changes_and_announces_once() {
    let cloud = cloud();
    run(&cloud, &launch(A)).await.expect("launch");
    cloud.set_lifecycle_state(A, "Terminating:Wait");
    let first = run(&cloud, &terminate(A)).await.expect("terminate");
    assert_eq!(first.actions.len(), 2, "{first:?}");
    let again = run(&cloud, &terminate(A)).await.expect("again");
    assert!(again.actions.is_empty(), "{again:?}");
    assert_eq!(
        again.note.as_deref(),
        Some("mc.example.com already points at 0.0.0.0")
    );
    assert_eq!(cloud.recorder.count("ChangeResourceRecordSets"), 2);
    assert_eq!(messages(&cloud).len(), 2, "one 'up', one 'shutting down'");
}

#[tokio::test]
async fn a_terminate_while_a_newer_instance_is_in_service_keeps_the_record() {
    let cloud = cloud();
    cloud.add_instance(B, "InService", ipv4(IP_B));
    run(&cloud, &launch(B))
        .await
        .expect("launch of the new one");
    cloud.set_lifecycle_state(A, "Terminating:Wait");
    let outcome = run(&cloud, &terminate(A)).await.expect("terminate");
    assert_eq!(outcome.event, Event::Terminate);
    assert!(outcome.actions.is_empty(), "{outcome:?}");
    assert!(
        outcome.note.as_deref().unwrap_or_default().contains(B),
        "{outcome:?}"
    );
    assert_eq!(record(&cloud, RecordType::A).as_deref(), Some(IP_B));
    assert_eq!(messages(&cloud).len(), 1, "only the launch was announced");
}

#[tokio::test]
async fn a_launch_delivered_after_its_terminate_is_ignored_as_stale() {
    let cloud = cloud();
    run(&cloud, &launch(A)).await.expect("launch");
    cloud.set_lifecycle_state(A, "Terminating:Wait");
    run(&cloud, &terminate(A)).await.expect("terminate");
    cloud.terminate_instance(A);
    cloud.recorder.clear();

    let late = run(&cloud, &launch(A))
        .await
        .expect("a late launch is no error");
    assert_eq!(late.event, Event::Ignored);
    assert!(
        late.note
            .as_deref()
            .unwrap_or_default()
            .starts_with("stale launch"),
        "{late:?}"
    );
    assert!(
        cloud.recorder.writes().is_empty(),
        "{:?}",
        cloud.recorder.writes()
    );
    assert_eq!(record(&cloud, RecordType::A).as_deref(), Some("0.0.0.0"));
    assert_eq!(messages(&cloud).len(), 2);
}

#[tokio::test]
async fn duplicate_and_out_of_order_events_end_in_the_right_state() {
    let cloud = cloud();
    // The same launch twice: the name points at A, and people hear about it once.
    for _ in 0..2 {
        run(&cloud, &launch(A)).await.expect("launch of A");
    }
    assert_eq!(record(&cloud, RecordType::A).as_deref(), Some(IP_A));
    assert_eq!(messages(&cloud).len(), 1, "one 'up' message");

    // The group scales in; the terminate arrives twice.
    cloud.set_lifecycle_state(A, "Terminating:Wait");
    for _ in 0..2 {
        run(&cloud, &terminate(A)).await.expect("terminate of A");
    }
    cloud.terminate_instance(A);
    assert_eq!(record(&cloud, RecordType::A).as_deref(), Some("0.0.0.0"));

    // A's launch arrives late: stale.
    let late = run(&cloud, &launch(A)).await.expect("late launch");
    assert_eq!(late.event, Event::Ignored);

    // Up again on B; then a stale terminate of A (registered late) arrives: B keeps
    // the name.
    cloud.add_instance(B, "InService", ipv4(IP_B));
    run(&cloud, &launch(B)).await.expect("launch of B");
    assert_eq!(record(&cloud, RecordType::A).as_deref(), Some(IP_B));
    cloud.add_instance(A, "Terminating:Wait", Addresses::default());
    let stale = run(&cloud, &terminate(A)).await.expect("stale terminate");
    assert!(stale.actions.is_empty(), "{stale:?}");
    assert_eq!(
        record(&cloud, RecordType::A).as_deref(),
        Some(IP_B),
        "B keeps the name"
    );
    assert_eq!(
        messages(&cloud),
        vec![
            (format!("mc is up at {IP_A}"), "launch".to_string()),
            ("mc is shutting down".to_string(), "terminate".to_string()),
            (format!("mc is up at {IP_B}"), "launch".to_string()),
        ]
    );
}

#[tokio::test]
async fn an_instance_without_a_public_ip_is_an_error_and_the_record_stays() {
    let cloud = cloud();
    cloud.add_instance(B, "InService", Addresses::default());
    let err = run(&cloud, &launch(B)).await.expect_err("no public IP");
    assert_eq!(err.kind(), "AwsError");
    let text = err.to_string();
    assert!(text.contains("has no public IPv4 address"), "{text}");
    assert!(text.contains(B), "{text}");
    assert!(
        cloud.recorder.writes().is_empty(),
        "{:?}",
        cloud.recorder.calls()
    );
    assert_eq!(record(&cloud, RecordType::A).as_deref(), Some("0.0.0.0"));
    assert!(cloud.published().is_empty());
}

#[tokio::test]
async fn an_ipv6_instance_gets_an_aaaa_record_that_its_terminate_deletes() {
    let cloud = cloud();
    cloud.add_instance(
        A,
        "InService",
        Addresses {
            ipv4: IP_A.parse().ok(),
            ipv6: vec!["2001:db8::7".parse().expect("an IPv6 address")],
        },
    );
    let outcome = run(&cloud, &launch(A)).await.expect("launch");
    let Some(Action::ChangeResourceRecordSets { zone, changes }) = outcome.actions.first() else {
        panic!("a change batch: {outcome:?}")
    };
    assert_eq!(zone, ZONE);
    assert_eq!(changes.len(), 2, "A and AAAA in one batch");
    assert_eq!(record(&cloud, RecordType::A).as_deref(), Some(IP_A));
    assert_eq!(
        record(&cloud, RecordType::Aaaa).as_deref(),
        Some("2001:db8::7")
    );
    assert_eq!(cloud.recorder.count("ChangeResourceRecordSets"), 1);

    cloud.set_lifecycle_state(A, "Terminating:Wait");
    run(&cloud, &terminate(A)).await.expect("terminate");
    assert_eq!(record(&cloud, RecordType::A).as_deref(), Some("0.0.0.0"));
    assert_eq!(record(&cloud, RecordType::Aaaa), None);
    assert_eq!(cloud.recorder.count("ChangeResourceRecordSets"), 2);
}

#[tokio::test]
async fn bad_input_is_refused_and_nothing_is_called() {
    let with = |path: &[&str], value: Value| {
        let mut event = launch(A);
        let (last, parents) = path.split_last().expect("a path");
        let mut at = &mut event;
        for key in parents {
            at = &mut at[*key];
        }
        at[*last] = value;
        event
    };
    let mut no_instance = launch(A);
    if let Some(detail) = no_instance["detail"].as_object_mut() {
        detail.remove("EC2InstanceId");
    }
    let mut no_token = terminate(A);
    if let Some(detail) = no_token["detail"].as_object_mut() {
        detail.remove("LifecycleActionToken");
    }
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "foreign Auto Scaling group",
            with(
                &["detail", "AutoScalingGroupName"],
                json!("someone-elses-asg"),
            ),
            "not \"cm-asg-dev-mc\"",
        ),
        (
            "unknown detail-type",
            with(&["detail-type"], json!("EC2 Instance Launch Unsuccessful")),
            "unsupported detail-type",
        ),
        (
            "another source",
            with(&["source"], json!("aws.ec2")),
            "not aws.autoscaling",
        ),
        (
            "no instance id",
            no_instance,
            "detail.EC2InstanceId is missing",
        ),
        (
            "a null instance id",
            with(&["detail", "EC2InstanceId"], Value::Null),
            "EC2InstanceId",
        ),
        (
            "not an instance id",
            with(&["detail", "EC2InstanceId"], json!("../../etc/passwd")),
            "is not an instance id",
        ),
        (
            "not an event at all",
            json!(["a", "list"]),
            "not an Auto Scaling EventBridge event",
        ),
        (
            "terminate without its token",
            no_token,
            "LifecycleActionToken",
        ),
    ];
    let cloud = cloud();
    for (case, event, expected) in cases {
        let err = run(&cloud, &event).await.expect_err(case);
        assert!(matches!(err, Error::InvalidEvent(_)), "{case}: {err:?}");
        assert!(
            err.to_string().contains(expected),
            "{case}: {err} should say {expected}"
        );
    }
    assert!(
        cloud.recorder.calls().is_empty(),
        "{:?}",
        cloud.recorder.calls()
    );
    assert_eq!(record(&cloud, RecordType::A).as_deref(), Some("0.0.0.0"));
    assert!(cloud.published().is_empty());
}

#[tokio::test]
async fn a_failed_record_change_fails_the_invocation_and_announces_nothing() {
    let cloud = cloud();
    cloud.recorder.fail("ChangeResourceRecordSets", 1);
    let err = run(&cloud, &launch(A)).await.expect_err("a failure");
    assert_eq!(err.kind(), "AwsError");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("ChangeResourceRecordSets {ZONE}")),
        "{text}"
    );
    assert!(text.contains("Throttling"), "{text}");
    assert_eq!(cloud.recorder.count("Publish"), 0);
    assert!(cloud.published().is_empty());
    assert_eq!(record(&cloud, RecordType::A).as_deref(), Some("0.0.0.0"));

    // Lambda retries the event: now it goes through, and is announced once.
    run(&cloud, &launch(A)).await.expect("the retry");
    assert_eq!(record(&cloud, RecordType::A).as_deref(), Some(IP_A));
    assert_eq!(messages(&cloud).len(), 1);
}

#[tokio::test]
async fn a_failed_message_fails_the_invocation_after_the_change() {
    let cloud = cloud();
    cloud.recorder.fail("Publish", 1);
    let err = run(&cloud, &launch(A)).await.expect_err("a failure");
    let text = err.to_string();
    assert!(text.starts_with(&format!("Publish {TOPIC}")), "{text}");
    assert_eq!(record(&cloud, RecordType::A).as_deref(), Some(IP_A));
    assert!(cloud.published().is_empty());
}

#[tokio::test]
async fn a_failed_read_fails_the_invocation_before_anything_is_written() {
    for operation in [
        "DescribeInstances",
        "ListResourceRecordSets",
        "DescribeAutoScalingGroups",
    ] {
        let cloud = cloud();
        cloud.recorder.fail(operation, 1);
        let err = run(&cloud, &launch(A)).await.expect_err(operation);
        assert!(err.to_string().starts_with(operation), "{operation}: {err}");
        assert!(
            cloud.recorder.writes().is_empty(),
            "{operation}: {:?}",
            cloud.recorder.calls()
        );
        assert_eq!(record(&cloud, RecordType::A).as_deref(), Some("0.0.0.0"));
    }
    let cloud = cloud();
    cloud.recorder.fail("DescribeAutoScalingGroups", 1);
    let err = run(&cloud, &terminate(A)).await.expect_err("terminate");
    assert!(
        err.to_string().starts_with("DescribeAutoScalingGroups"),
        "{err}"
    );
    assert!(cloud.recorder.writes().is_empty());
}

#[tokio::test]
async fn a_zone_that_does_not_exist_fails_naming_it_and_nothing_is_written() {
    let cloud = cloud();
    let config = config_with(&[("HOSTED_ZONE_ID", Some("Z0000NOSUCHZONE"))]);
    let err = handle(&config, &cloud, &launch(A))
        .await
        .expect_err("no such zone");
    assert!(err.to_string().contains("Z0000NOSUCHZONE"), "{err}");
    assert!(
        cloud.recorder.writes().is_empty(),
        "{:?}",
        cloud.recorder.calls()
    );
    assert_eq!(record(&cloud, RecordType::A).as_deref(), Some("0.0.0.0"));
}

#[tokio::test]
async fn without_a_topic_the_record_changes_and_nobody_is_told() {
    let cloud = cloud();
    let config = config_with(&[("SNS_TOPIC_ARN", None)]);
    let outcome = handle(&config, &cloud, &launch(A)).await.expect("launch");
    assert_eq!(outcome.actions.len(), 1, "{outcome:?}");
    assert_eq!(record(&cloud, RecordType::A).as_deref(), Some(IP_A));
    assert_eq!(cloud.recorder.count("Publish"), 0);
}

#[tokio::test]
async fn the_response_names_the_event_the_instance_and_each_call() {
    let cloud = cloud();
    let outcome = run(&cloud, &launch(A)).await.expect("launch");
    let response = serde_json::to_value(&outcome).expect("serialisable");
    assert_eq!(
        response,
        json!({
            "event": "launch",
            "instance_id": A,
            "actions": [
                {"call": "ChangeResourceRecordSets", "zone": ZONE, "changes": [
                    {"action": "UPSERT", "name": NAME, "type": "A", "ttl": 1, "values": [IP_A]}
                ]},
                {"call": "Publish", "topic": TOPIC, "event_type": "launch",
                 "subject": "mc is up", "message": format!("mc is up at {IP_A}")}
            ]
        })
    );
    let ignored = run(&cloud, &event(LAUNCH_INTO_POOL, A))
        .await
        .expect("ignored");
    let response = serde_json::to_value(&ignored).expect("serialisable");
    assert_eq!(response["event"], "ignored");
    assert!(
        response["note"].as_str().is_some_and(|n| n.contains(A)),
        "{response}"
    );
}

#[tokio::test]
async fn a_successor_without_ipv6_takes_the_name_and_the_old_aaaa_goes_in_the_same_batch() {
    let cloud = cloud();
    cloud.add_instance(
        A,
        "InService",
        Addresses {
            ipv4: IP_A.parse().ok(),
            ipv6: vec!["2001:db8::7".parse().expect("an IPv6 address")],
        },
    );
    run(&cloud, &launch(A)).await.expect("launch of A");
    assert_eq!(
        record(&cloud, RecordType::Aaaa).as_deref(),
        Some("2001:db8::7")
    );
    // B (no IPv6) replaces A; A's terminate then finds B serving and keeps the name.
    cloud.add_instance(B, "InService", ipv4(IP_B));
    cloud.set_lifecycle_state(A, "Terminating:Wait");
    cloud.recorder.clear();
    let outcome = run(&cloud, &launch(B)).await.expect("launch of B");
    let Some(Action::ChangeResourceRecordSets { changes, .. }) = outcome.actions.first() else {
        panic!("a change batch: {outcome:?}")
    };
    let shown: Vec<String> = changes.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        vec![
            format!("UPSERT {NAME} A {IP_B}"),
            format!("DELETE {NAME} AAAA 2001:db8::7"),
        ]
    );
    assert_eq!(
        cloud.recorder.count("ChangeResourceRecordSets"),
        1,
        "one batch"
    );
    assert_eq!(record(&cloud, RecordType::A).as_deref(), Some(IP_B));
    assert_eq!(record(&cloud, RecordType::Aaaa), None);
    let old = run(&cloud, &terminate(A)).await.expect("terminate of A");
    assert!(old.actions.is_empty(), "{old:?}");
    assert_eq!(
        record(&cloud, RecordType::Aaaa),
        None,
        "A's AAAA did not outlive it"
    );
}

// --------------------------------------------------------- scheduled runs

fn tick() -> Value {
    cm_testkit::events::sample("asg/scheduled-event.json")
}

fn a_record(value: &str) -> RecordSet {
    RecordSet {
        name: NAME.into(),
        kind: RecordType::A,
        ttl: 1,
        values: vec![value.into()],
    }
}

#[tokio::test]
async fn a_missed_launch_is_healed_by_one_scheduled_run() {
    // A is InService; its launch event never came: the record says 0.0.0.0.
    let cloud = cloud();
    let outcome = run(&cloud, &tick()).await.expect("success");
    assert_eq!(outcome.event, Event::Reconcile);
    assert_eq!(outcome.instance_id.as_deref(), Some(A));
    assert_eq!(
        outcome.found,
        Some(Found {
            instances: [(A.to_string(), "InService".to_string())].into(),
            records: vec![a_record("0.0.0.0")],
        })
    );
    assert_eq!(record(&cloud, RecordType::A).as_deref(), Some(IP_A));
    assert_eq!(
        messages(&cloud),
        vec![(format!("mc is up at {IP_A}"), "launch".to_string())]
    );
    assert_eq!(
        cloud.recorder.writes(),
        vec![
            format!("ChangeResourceRecordSets {ZONE} UPSERT {NAME} A {IP_A}"),
            format!("Publish {TOPIC} \"mc is up at {IP_A}\""),
        ]
    );
}

#[tokio::test]
async fn a_missed_terminate_is_healed_by_one_scheduled_run() {
    let cloud = cloud();
    cloud.add_instance(
        A,
        "InService",
        Addresses {
            ipv4: IP_A.parse().ok(),
            ipv6: vec!["2001:db8::7".parse().expect("an IPv6 address")],
        },
    );
    run(&cloud, &launch(A)).await.expect("launch");
    // A is gone; its terminate event never came.
    cloud.terminate_instance(A);
    cloud.recorder.clear();
    let outcome = run(&cloud, &tick()).await.expect("success");
    assert_eq!(outcome.instance_id, None);
    assert_eq!(record(&cloud, RecordType::A).as_deref(), Some("0.0.0.0"));
    assert_eq!(record(&cloud, RecordType::Aaaa), None);
    assert_eq!(
        messages(&cloud).last().cloned(),
        Some(("mc is down".to_string(), "terminate".to_string()))
    );
    assert_eq!(cloud.recorder.count("ChangeResourceRecordSets"), 1);
}

#[tokio::test]
async fn a_drifted_record_is_healed_by_one_scheduled_run() {
    let cloud = cloud();
    run(&cloud, &launch(A)).await.expect("launch");
    // Someone edited the record in the console.
    cloud.put_record(a_record("198.51.100.1"));
    cloud.recorder.clear();
    let outcome = run(&cloud, &tick()).await.expect("success");
    assert_eq!(outcome.instance_id.as_deref(), Some(A));
    assert_eq!(record(&cloud, RecordType::A).as_deref(), Some(IP_A));
    assert_eq!(
        outcome.found.map(|f| f.records),
        Some(vec![a_record("198.51.100.1")])
    );
    assert_eq!(cloud.recorder.count("ChangeResourceRecordSets"), 1);
}

#[tokio::test]
async fn a_scheduled_run_with_nothing_to_fix_only_reads() {
    let up = cloud();
    run(&up, &launch(A)).await.expect("launch");
    up.recorder.clear();
    let down = FakeCloud::new(GROUP, ZONE);
    down.put_record(a_record("0.0.0.0"));
    for (cloud, reads, says) in [
        (&up, 3, format!("points at {A}, InService at {IP_A}")),
        (&down, 2, "no instance is InService".to_string()),
    ] {
        let outcome = run(cloud, &tick()).await.expect("success");
        assert_eq!(outcome.event, Event::Reconcile);
        assert!(outcome.actions.is_empty(), "{outcome:?}");
        let note = outcome.note.unwrap_or_default();
        assert!(
            note.starts_with("nothing to fix") && note.contains(&says),
            "{note}"
        );
        assert!(
            cloud.recorder.writes().is_empty(),
            "{:?}",
            cloud.recorder.writes()
        );
        assert_eq!(
            cloud.recorder.calls().len(),
            reads,
            "{:?}",
            cloud.recorder.calls()
        );
    }
    assert_eq!(messages(&up).len(), 1, "only the launch was announced");
    assert!(down.published().is_empty());
}

#[tokio::test]
async fn a_scheduled_run_leaves_a_pending_instance_to_its_launch_event() {
    let cloud = cloud();
    cloud.set_lifecycle_state(A, "Pending:Wait");
    let outcome = run(&cloud, &tick()).await.expect("success");
    assert!(outcome.actions.is_empty());
    assert!(outcome
        .note
        .unwrap_or_default()
        .starts_with(&format!("{A} is Pending:Wait")),);
    assert!(cloud.recorder.writes().is_empty());
    assert_eq!(record(&cloud, RecordType::A).as_deref(), Some("0.0.0.0"));
}

#[tokio::test]
async fn a_scheduled_run_with_a_failed_read_writes_nothing_and_names_the_call() {
    for operation in [
        "DescribeInstances",
        "ListResourceRecordSets",
        "DescribeAutoScalingGroups",
    ] {
        let cloud = cloud();
        cloud.recorder.fail(operation, 1);
        let err = run(&cloud, &tick()).await.expect_err(operation);
        assert_eq!(err.kind(), "AwsError");
        assert!(err.to_string().starts_with(operation), "{operation}: {err}");
        assert!(
            cloud.recorder.writes().is_empty(),
            "{operation}: {:?}",
            cloud.recorder.calls()
        );
        assert_eq!(record(&cloud, RecordType::A).as_deref(), Some("0.0.0.0"));
    }
}

#[tokio::test]
async fn a_scheduled_run_with_a_failed_change_announces_nothing_and_the_next_run_heals() {
    let cloud = cloud();
    cloud.recorder.fail("ChangeResourceRecordSets", 1);
    let err = run(&cloud, &tick()).await.expect_err("a failure");
    assert!(
        err.to_string()
            .starts_with(&format!("ChangeResourceRecordSets {ZONE}")),
        "{err}"
    );
    assert!(cloud.published().is_empty());
    run(&cloud, &tick()).await.expect("the next run");
    assert_eq!(record(&cloud, RecordType::A).as_deref(), Some(IP_A));
    assert_eq!(messages(&cloud).len(), 1);
}

#[tokio::test]
async fn a_scheduled_run_for_an_instance_without_a_public_ip_is_an_error_and_writes_nothing() {
    let cloud = FakeCloud::new(GROUP, ZONE);
    cloud.put_record(a_record("0.0.0.0"));
    cloud.add_instance(B, "InService", Addresses::default());
    let err = run(&cloud, &tick()).await.expect_err("no public IP");
    assert!(
        err.to_string().contains("has no public IPv4 address"),
        "{err}"
    );
    assert!(cloud.recorder.writes().is_empty());
}

#[tokio::test]
async fn a_scheduled_run_answers_in_the_responses_shape() {
    let cloud = cloud();
    let response =
        serde_json::to_value(run(&cloud, &tick()).await.expect("success")).expect("serialisable");
    assert_eq!(
        response,
        json!({
            "event": "reconcile",
            "instance_id": A,
            "actions": [
                {"call": "ChangeResourceRecordSets", "zone": ZONE, "changes": [
                    {"action": "UPSERT", "name": NAME, "type": "A", "ttl": 1, "values": [IP_A]}
                ]},
                {"call": "Publish", "topic": TOPIC, "event_type": "launch",
                 "subject": "mc is up", "message": format!("mc is up at {IP_A}")}
            ],
            "found": {
                "instances": {A: "InService"},
                "records": [{"name": NAME, "type": "A", "ttl": 1, "values": ["0.0.0.0"]}],
            },
        })
    );
}

#[tokio::test]
async fn other_events_of_aws_events_are_refused_before_any_call() {
    let cloud = cloud();
    let mut other = tick();
    other["detail-type"] = "Object Created".into();
    let err = run(&cloud, &other).await.expect_err("refused");
    assert!(matches!(err, Error::InvalidEvent(_)), "{err:?}");
    assert!(
        err.to_string().contains("expected \"Scheduled Event\""),
        "{err}"
    );
    assert!(cloud.recorder.calls().is_empty());
}

#[tokio::test]
async fn a_terminate_after_the_group_is_gone_still_points_the_name_at_the_unavailable_ip() {
    // A stack delete: the group goes once its instance's terminate hook is done, and
    // the terminate event may reach the updater after that.
    let cloud = cloud();
    run(&cloud, &launch(A)).await.expect("launch");
    cloud.terminate_instance(A);
    cloud.delete_group();
    let outcome = run(&cloud, &terminate(A)).await.expect("terminate");
    assert_eq!(outcome.event, Event::Terminate);
    assert_eq!(record(&cloud, RecordType::A).as_deref(), Some("0.0.0.0"));
}

#[tokio::test]
async fn a_scheduled_run_without_its_group_is_an_error_and_writes_nothing() {
    let cloud = cloud();
    run(&cloud, &launch(A)).await.expect("launch");
    cloud.delete_group();
    cloud.recorder.clear();
    let err = run(&cloud, &tick()).await.expect_err("no group");
    assert!(
        err.to_string().contains("no such Auto Scaling group"),
        "{err}"
    );
    assert!(
        cloud.recorder.writes().is_empty(),
        "{:?}",
        cloud.recorder.writes()
    );
    assert_eq!(record(&cloud, RecordType::A).as_deref(), Some(IP_A));
}
