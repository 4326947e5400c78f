//! The fast tier: `handle` with the in-memory [`FakeCloud`] on the real sample events
//! of `events/watchdog-scale-down/` and the configuration of `events/env.json`; the
//! cases of the emulator tier and the watchdog's rows of the end-to-end reliability
//! matrix (bad input, duplicates, injected failures). No Python, no network.

use std::collections::HashMap;

use cm_testkit::env_json::function_env;
use serde_json::{json, Value};
use watchdog_scale_down::{handle, Config, FakeCloud, Outcome, Source, Status};

const GROUP: &str = "cm-asg-dev-mc";
const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:cm-topic-dev-mc";
const SAMPLES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../events/watchdog-scale-down"
);

fn sample(name: &str) -> Value {
    let path = format!("{SAMPLES}/{name}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {path}: {e}"))
}

/// The configuration `sam local invoke` uses (events/env.json), with changes
/// (`None`: unset).
fn config_with(changes: &[(&str, Option<&str>)]) -> Config {
    Config::from_env(function_env("WatchdogFunction", changes)).expect("a valid configuration")
}

fn config() -> Config {
    config_with(&[])
}

/// A running container: the group at 1.
fn running() -> FakeCloud {
    FakeCloud::with_group(GROUP, 1)
}

fn to_json(outcome: &Outcome) -> Value {
    serde_json::to_value(outcome).expect("an outcome serialises")
}

/// (subject, message, event_type) of every message published.
fn messages(fake: &FakeCloud) -> Vec<(String, String, String)> {
    fake.published()
        .into_iter()
        .map(|n| {
            assert_eq!((n.topic_arn.as_str(), n.container.as_str()), (TOPIC, "mc"));
            (n.subject, n.message, n.event_type)
        })
        .collect()
}

fn result(outcome: &Outcome) -> Status {
    assert_eq!(outcome.outcomes.len(), 1, "{outcome:?}");
    outcome.outcomes[0].result
}

#[tokio::test]
async fn the_idle_alarm_invoking_directly_stops_the_container_and_says_why() {
    let fake = running();
    let outcome = handle(&config(), &fake, &sample("alarm-idle.json"))
        .await
        .expect("success");
    assert_eq!(fake.desired(GROUP), Some(0));
    assert_eq!(
        messages(&fake),
        vec![(
            "mc is stopping".into(),
            "mc is being stopped: idle for 30 minutes.".into(),
            "idle".into()
        )]
    );
    assert_eq!(
        fake.recorder.calls()[0],
        "DescribeAutoScalingGroups cm-asg-dev-mc",
        "the group is read before anything is written"
    );
    assert_eq!(fake.recorder.count("UpdateAutoScalingGroup"), 1);
    assert_eq!(fake.recorder.count("Publish"), 1);
    assert_eq!(
        to_json(&outcome),
        json!({
            "source": "alarm",
            "desired_capacity": 1,
            "outcomes": [{
                "result": "stopped",
                "reason": "idle for 30 minutes",
                "actions": [
                    {"call": "UpdateAutoScalingGroup", "group": GROUP, "desired_capacity": 0},
                    {"call": "Publish", "topic_arn": TOPIC, "event_type": "idle",
                     "subject": "mc is stopping",
                     "message": "mc is being stopped: idle for 30 minutes."}
                ]
            }]
        })
    );
}

#[tokio::test]
async fn the_idle_alarm_through_sns_stops_the_container_and_a_duplicate_does_nothing() {
    let fake = running();
    let event = sample("sns-alarm-idle.json");
    let first = handle(&config(), &fake, &event).await.expect("success");
    assert_eq!(first.source, Source::SnsAlarm);
    assert_eq!(result(&first), Status::Stopped);
    assert_eq!(fake.desired(GROUP), Some(0));
    let again = handle(&config(), &fake, &event)
        .await
        .expect("a duplicate is no error");
    assert_eq!(result(&again), Status::AlreadyStopped);
    assert_eq!(again.desired_capacity, Some(0));
    assert!(again.outcomes[0].actions.is_empty());
    assert_eq!(messages(&fake).len(), 1, "one message, not two");
    assert_eq!(fake.recorder.count("UpdateAutoScalingGroup"), 1);
}

#[tokio::test]
async fn a_direct_alarm_delivered_twice_stops_once() {
    let fake = running();
    let event = sample("alarm-idle.json");
    handle(&config(), &fake, &event).await.expect("success");
    let writes = fake.recorder.writes();
    let again = handle(&config(), &fake, &event).await.expect("success");
    assert_eq!(result(&again), Status::AlreadyStopped);
    assert_eq!(fake.recorder.writes(), writes, "the duplicate wrote");
}

#[tokio::test]
async fn a_group_already_at_zero_is_left_alone_and_nobody_is_told() {
    let config = config_with(&[("STOP_WHEN_LEFT_UP", Some("true"))]);
    for name in [
        "alarm-idle.json",
        "sns-alarm-idle.json",
        "alarm-left-up.json",
        "ecs-task-crashed.json",
        "ecs-task-failed-to-start.json",
    ] {
        let fake = FakeCloud::with_group(GROUP, 0);
        let outcome = handle(&config, &fake, &sample(name))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(result(&outcome), Status::AlreadyStopped, "{name}");
        assert_eq!(
            fake.recorder.calls(),
            vec!["DescribeAutoScalingGroups cm-asg-dev-mc"],
            "{name}"
        );
        assert!(fake.recorder.writes().is_empty(), "{name}");
    }
}

#[tokio::test]
async fn ok_transitions_and_normal_task_stops_change_nothing_and_read_nothing() {
    let mut insufficient = sample("alarm-idle.json");
    insufficient["alarmData"]["state"]["value"] = "INSUFFICIENT_DATA".into();
    let mut running_task = sample("ecs-task-crashed.json");
    running_task["detail"]["lastStatus"] = "RUNNING".into();
    for (case, event) in [
        ("OK", sample("alarm-idle-ok.json")),
        ("INSUFFICIENT_DATA", insufficient),
        ("scaled in", sample("ecs-task-scaled-in.json")),
        ("running task", running_task),
    ] {
        let fake = running();
        let outcome = handle(&config(), &fake, &event)
            .await
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(result(&outcome), Status::Ignored, "{case}");
        assert_eq!(outcome.desired_capacity, None, "{case}");
        assert!(fake.recorder.calls().is_empty(), "{case}");
        assert_eq!(fake.desired(GROUP), Some(1), "{case}");
    }
}

#[tokio::test]
async fn the_left_up_alarm_only_notifies_unless_told_to_stop() {
    let fake = running();
    let outcome = handle(&config(), &fake, &sample("alarm-left-up.json"))
        .await
        .expect("success");
    assert_eq!(result(&outcome), Status::Notified);
    assert_eq!(fake.desired(GROUP), Some(1));
    assert_eq!(
        messages(&fake),
        vec![(
            "mc is still running".into(),
            "mc has been up for 8 hours and is still running.".into(),
            "left_up".into()
        )]
    );
    assert_eq!(fake.recorder.writes().len(), 1, "only the message");

    let fake = running();
    let stop = config_with(&[("STOP_WHEN_LEFT_UP", Some("true"))]);
    let outcome = handle(&stop, &fake, &sample("alarm-left-up.json"))
        .await
        .expect("success");
    assert_eq!(result(&outcome), Status::Stopped);
    assert_eq!(fake.desired(GROUP), Some(0));
    assert_eq!(messages(&fake)[0].1, "mc is being stopped: up for 8 hours.");
}

#[tokio::test]
async fn a_crashed_container_is_stopped_with_its_reason() {
    let fake = running();
    let outcome = handle(&config(), &fake, &sample("ecs-task-crashed.json"))
        .await
        .expect("success");
    assert_eq!(outcome.source, Source::EcsTask);
    assert_eq!(result(&outcome), Status::Stopped);
    assert_eq!(fake.desired(GROUP), Some(0));
    assert_eq!(
        messages(&fake),
        vec![(
            "mc is stopping".into(),
            "mc is being stopped: crashed: container minecraft exited with code 137 \
             (Essential container in task exited)."
                .into(),
            "crashed".into()
        )]
    );
}

#[tokio::test]
async fn a_task_that_failed_to_start_stops_the_container_with_the_pull_error() {
    let fake = running();
    let outcome = handle(&config(), &fake, &sample("ecs-task-failed-to-start.json"))
        .await
        .expect("success");
    assert_eq!(result(&outcome), Status::Stopped);
    assert_eq!(fake.desired(GROUP), Some(0));
    let sent = messages(&fake);
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0].1.contains(
            "crashed: CannotPullContainerError: pull access denied for itzg/minecraft-server"
        ),
        "{sent:?}"
    );
    assert_eq!(sent[0].2, "crashed");
}

/// What a refused or ignored event must be answered with.
enum Expect {
    /// An `InvalidEvent` whose message contains this.
    Error(&'static str),
    /// A response whose JSON has this value at this pointer.
    NoOp(&'static str, Value),
}

#[tokio::test]
async fn bad_input_is_refused_or_ignored_and_changes_nothing() {
    let alarm = sample("alarm-idle.json");
    let mut foreign_alarm = alarm.clone();
    foreign_alarm["alarmData"]["alarmName"] = json!("someone-elses-alarm");
    let mut weird_state = alarm.clone();
    weird_state["alarmData"]["state"]["value"] = json!("MELTING");
    let mut ok_alarm = alarm.clone();
    ok_alarm["alarmData"]["state"]["value"] = json!("OK");
    let mut crash = sample("ecs-task-crashed.json");
    crash["detail"]["clusterArn"] =
        json!("arn:aws:ecs:us-east-1:123456789012:cluster/someone-elses-cluster");
    let mut sns_garbage = sample("sns-alarm-idle.json");
    sns_garbage["Records"][0]["Sns"]["Message"] = "{\"AlarmName\": 5}".into();
    let mut sns_unknown_state = sample("sns-alarm-idle.json");
    let message = sns_unknown_state["Records"][0]["Sns"]["Message"]
        .as_str()
        .expect("a message")
        .replace(
            "\"NewStateValue\": \"ALARM\"",
            "\"NewStateValue\": \"MELTING\"",
        );
    sns_unknown_state["Records"][0]["Sns"]["Message"] = message.into();
    let mut sns_one_foreign = sample("sns-alarm-idle.json");
    let mut foreign_record = sns_one_foreign["Records"][0].clone();
    foreign_record["Sns"]["Message"] = foreign_record["Sns"]["Message"]
        .as_str()
        .expect("a message")
        .replace("cm-alarm-dev-mc-idle", "someone-elses-alarm")
        .into();
    sns_one_foreign["Records"]
        .as_array_mut()
        .expect("records")
        .push(foreign_record);

    let cases: Vec<(&str, Value, Expect)> = vec![
        (
            "unknown alarm",
            foreign_alarm,
            Expect::Error("unknown alarm \"someone-elses-alarm\""),
        ),
        (
            "alarm in an unknown state",
            weird_state,
            Expect::Error("`MELTING`"),
        ),
        (
            "foreign ECS cluster",
            crash,
            Expect::Error("someone-elses-cluster"),
        ),
        (
            "an event no rule sends",
            json!({"source": "aws.s3", "detail-type": "Object Created", "detail": {}}),
            Expect::Error("aws.s3"),
        ),
        (
            "the alarm back to OK",
            ok_alarm,
            Expect::NoOp("/outcomes/0/result", json!("ignored")),
        ),
        (
            "an SNS message that is not an alarm",
            sns_garbage,
            Expect::Error("is not a CloudWatch alarm notification"),
        ),
        (
            "an alarm through SNS in an unknown state",
            sns_unknown_state,
            Expect::Error("unknown state \"MELTING\""),
        ),
        (
            "an SNS delivery with one foreign alarm",
            sns_one_foreign,
            Expect::Error("unknown alarm \"someone-elses-alarm\""),
        ),
        (
            "a log subscription event",
            json!({"awslogs": {"data": ""}}),
            Expect::Error("unrecognised event"),
        ),
        (
            "not an object",
            json!([1, 2]),
            Expect::Error("unrecognised event"),
        ),
    ];
    for (case, event, expect) in cases {
        let fake = running();
        let answer = handle(&config(), &fake, &event).await;
        match (&answer, expect) {
            (Err(err), Expect::Error(text)) => {
                assert_eq!(err.kind(), "InvalidEvent", "{case}: {err}");
                assert!(
                    err.to_string().contains(text),
                    "{case}: {err} should say {text}"
                );
                assert!(
                    fake.recorder.calls().is_empty(),
                    "{case}: a refused event made calls: {:?}",
                    fake.recorder.calls()
                );
            }
            (Ok(outcome), Expect::NoOp(pointer, value)) => {
                assert_eq!(to_json(outcome).pointer(pointer), Some(&value), "{case}");
            }
            _ => panic!("{case}: unexpected answer {answer:?}"),
        }
        assert!(fake.recorder.writes().is_empty(), "{case}: a write");
        assert_eq!(fake.desired(GROUP), Some(1), "{case}");
        assert!(fake.published().is_empty(), "{case}");
    }
}

#[tokio::test]
async fn an_sns_delivery_of_two_alarms_stops_once() {
    let mut event = sample("sns-alarm-idle.json");
    let record = event["Records"][0].clone();
    let mut left_up = record.clone();
    left_up["Sns"]["Message"] = record["Sns"]["Message"]
        .as_str()
        .expect("a message")
        .replace("cm-alarm-dev-mc-idle", "cm-alarm-dev-mc-left-up")
        .into();
    event["Records"] = json!([left_up, record.clone(), record]);
    let fake = running();
    let outcome = handle(&config(), &fake, &event).await.expect("success");
    let results: Vec<Status> = outcome.outcomes.iter().map(|o| o.result).collect();
    assert_eq!(
        results,
        vec![Status::Notified, Status::Stopped, Status::AlreadyStopped]
    );
    assert_eq!(fake.recorder.count("DescribeAutoScalingGroups"), 1);
    assert_eq!(fake.recorder.count("UpdateAutoScalingGroup"), 1);
    let kinds: Vec<String> = messages(&fake).into_iter().map(|m| m.2).collect();
    assert_eq!(kinds, vec!["left_up", "idle"]);
}

#[tokio::test]
async fn a_failed_scale_down_fails_the_invocation_naming_the_operation() {
    let fake = running();
    fake.recorder.fail("UpdateAutoScalingGroup", 1);
    let err = handle(&config(), &fake, &sample("alarm-idle.json"))
        .await
        .expect_err("the invocation fails");
    let text = err.to_string();
    assert_eq!(err.kind(), "AwsError");
    assert!(
        text.starts_with("UpdateAutoScalingGroup cm-asg-dev-mc DesiredCapacity=0 failed"),
        "{text}"
    );
    assert!(
        text.contains("while stopping mc (idle for 30 minutes)"),
        "{text}"
    );
    assert!(
        text.contains("done: Publish"),
        "the message went out: {text}"
    );
    assert_eq!(fake.desired(GROUP), Some(1));
    assert_eq!(fake.published().len(), 1);

    // Lambda retries the failed invocation: the retry finishes the stop.
    let retry = handle(&config(), &fake, &sample("alarm-idle.json"))
        .await
        .expect("the retry succeeds");
    assert_eq!(result(&retry), Status::Stopped);
    assert_eq!(fake.desired(GROUP), Some(0));
}

#[tokio::test]
async fn a_failed_publish_fails_the_invocation_after_the_scale_down() {
    let fake = running();
    fake.recorder.fail("Publish", 1);
    let err = handle(&config(), &fake, &sample("ecs-task-crashed.json"))
        .await
        .expect_err("the invocation fails");
    let text = err.to_string();
    assert_eq!(err.kind(), "AwsError");
    assert!(text.starts_with(&format!("Publish {TOPIC}")), "{text}");
    assert!(
        text.contains("done: UpdateAutoScalingGroup cm-asg-dev-mc DesiredCapacity=0"),
        "{text}"
    );
    assert_eq!(fake.desired(GROUP), Some(0), "the scale-down happened");
    assert!(fake.published().is_empty());
}

#[tokio::test]
async fn both_writes_failing_are_both_named() {
    let fake = running();
    fake.recorder.fail("UpdateAutoScalingGroup", 1);
    fake.recorder.fail("Publish", 1);
    let text = handle(&config(), &fake, &sample("alarm-idle.json"))
        .await
        .expect_err("the invocation fails")
        .to_string();
    assert!(text.starts_with("UpdateAutoScalingGroup"), "{text}");
    assert!(text.contains(&format!("also Publish {TOPIC}")), "{text}");
    assert!(!text.contains("done:"), "{text}");
    assert_eq!(fake.desired(GROUP), Some(1));
}

#[tokio::test]
async fn a_failed_notification_of_the_left_up_alarm_fails_the_invocation() {
    let fake = running();
    fake.recorder.fail("Publish", 1);
    let text = handle(&config(), &fake, &sample("alarm-left-up.json"))
        .await
        .expect_err("the invocation fails")
        .to_string();
    assert!(text.starts_with("Publish"), "{text}");
    assert!(
        text.contains("while notifying about mc (up for 8 hours)"),
        "{text}"
    );
    assert!(fake
        .recorder
        .writes()
        .iter()
        .all(|w| w.starts_with("Publish")));
}

#[tokio::test]
async fn a_failed_read_fails_before_any_write() {
    let fake = running();
    fake.recorder.fail("DescribeAutoScalingGroups", 1);
    let err = handle(&config(), &fake, &sample("alarm-idle.json"))
        .await
        .expect_err("the invocation fails");
    assert!(
        err.to_string()
            .starts_with("DescribeAutoScalingGroups cm-asg-dev-mc failed"),
        "{err}"
    );
    assert!(fake.recorder.writes().is_empty());
}

#[tokio::test]
async fn a_missing_group_fails_naming_it() {
    let fake = FakeCloud::default();
    let err = handle(&config(), &fake, &sample("ecs-task-crashed.json"))
        .await
        .expect_err("the invocation fails");
    assert_eq!(err.kind(), "AwsError");
    assert!(err.to_string().contains("cm-asg-dev-mc"), "{err}");
    assert!(
        err.to_string().contains("no such Auto Scaling group"),
        "{err}"
    );
    assert!(fake.recorder.writes().is_empty());
}

#[tokio::test]
async fn without_a_topic_the_container_is_stopped_without_a_message() {
    let fake = running();
    let quiet = config_with(&[("SNS_TOPIC_ARN", None)]);
    let outcome = handle(&quiet, &fake, &sample("alarm-idle.json"))
        .await
        .expect("success");
    assert_eq!(result(&outcome), Status::Stopped);
    assert_eq!(fake.desired(GROUP), Some(0));
    assert_eq!(fake.recorder.count("Publish"), 0);
    assert_eq!(outcome.outcomes[0].actions.len(), 1);
}

#[tokio::test]
async fn the_container_name_defaults_to_the_group_in_messages() {
    let fake = running();
    let unnamed = config_with(&[("CONTAINER_NAME", None), ("IDLE_MINUTES", None)]);
    handle(&unnamed, &fake, &sample("alarm-idle.json"))
        .await
        .expect("success");
    let sent = fake.published();
    assert_eq!(sent[0].subject, "cm-asg-dev-mc is stopping");
    assert_eq!(
        sent[0].message,
        "cm-asg-dev-mc is being stopped: idle (alarm cm-alarm-dev-mc-idle)."
    );
    assert_eq!(sent[0].container, "cm-asg-dev-mc");
}

#[tokio::test]
async fn every_sample_event_is_answered_as_documented() {
    let expected: HashMap<&str, Status> = [
        ("alarm-idle.json", Status::Stopped),
        ("alarm-idle-ok.json", Status::Ignored),
        ("alarm-left-up.json", Status::Notified),
        ("sns-alarm-idle.json", Status::Stopped),
        ("ecs-task-crashed.json", Status::Stopped),
        ("ecs-task-failed-to-start.json", Status::Stopped),
        ("ecs-task-scaled-in.json", Status::Ignored),
    ]
    .into_iter()
    .collect();
    let mut seen = 0;
    for entry in std::fs::read_dir(SAMPLES).expect("the samples directory") {
        let name = entry.expect("a directory entry").file_name();
        let name = name.to_string_lossy();
        if !name.ends_with(".json") {
            continue;
        }
        let want = expected
            .get(name.as_ref())
            .unwrap_or_else(|| panic!("{name}: a sample this test does not know; add it"));
        let fake = running();
        let outcome = handle(&config(), &fake, &sample(&name))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(result(&outcome), *want, "{name}");
        let json = to_json(&outcome);
        assert!(json["source"].is_string(), "{name}: {json}");
        seen += 1;
    }
    assert_eq!(seen, expected.len(), "a known sample is missing");
}
