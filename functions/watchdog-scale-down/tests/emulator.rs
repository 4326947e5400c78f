#![cfg(feature = "emulator")]
//! The watchdog against the local AWS emulator: each input shape, asserting the
//! group's desired capacity and the messages published to the container's topic.

use std::collections::HashMap;
use std::path::Path;

use aws_sdk_autoscaling::Client as AutoScaling;
use cm_core::Env;
use cm_testkit::{asg, repo_root, Emulator, Function, Outcome};
use serde_json::Value;
use watchdog_scale_down::{handle, AwsCloud, Config, Source, Status};

const GROUP: &str = "cm-asg-dev-mc";

fn sample(name: &str) -> Value {
    let path = repo_root().join("events/watchdog-scale-down").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).expect("sample event")).expect("json")
}

struct Setup {
    emulator: Emulator,
    autoscaling: AutoScaling,
    cloud: AwsCloud,
    vars: HashMap<String, String>,
}

impl Setup {
    fn config(&self) -> Config {
        Config::from_env(Env::from_map(&self.vars)).expect("valid configuration")
    }

    async fn run(&self, event: &Value) -> Result<watchdog_scale_down::Outcome, cm_core::Error> {
        handle(&self.config(), &self.cloud, event).await
    }

    async fn desired(&self) -> i32 {
        asg::desired(&self.autoscaling, GROUP).await
    }

    /// (subject, message, event_type) of every published message.
    fn messages(&self) -> Vec<(String, String, String)> {
        self.emulator
            .sns_messages()
            .iter()
            .map(|m| {
                (
                    m["Subject"].as_str().unwrap_or("").to_string(),
                    m["Message"].as_str().unwrap_or("").to_string(),
                    m["MessageAttributes"]["event_type"]["StringValue"]
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
                )
            })
            .collect()
    }
}

async fn setup(stop_when_left_up: bool) -> Setup {
    let emulator = Emulator::start();
    let sdk = emulator.sdk_config().await;
    let autoscaling = AutoScaling::new(&sdk);
    asg::create_group(&autoscaling, GROUP, "us-east-1a", 1)
        .await
        .expect("group");
    let sns = aws_sdk_sns::Client::new(&sdk);
    let topic = sns
        .create_topic()
        .name("cm-topic-dev-mc")
        .send()
        .await
        .expect("topic");
    let vars: HashMap<String, String> = [
        ("ASG_NAME", GROUP),
        ("IDLE_ALARM_NAME", "cm-alarm-dev-mc-idle"),
        ("LEFT_UP_ALARM_NAME", "cm-alarm-dev-mc-left-up"),
        (
            "STOP_WHEN_LEFT_UP",
            if stop_when_left_up { "true" } else { "false" },
        ),
        ("ECS_CLUSTER_NAME", "cm-cluster-dev-mc"),
        ("SNS_TOPIC_ARN", topic.topic_arn().unwrap_or_default()),
        ("CONTAINER_NAME", "mc"),
        ("IDLE_MINUTES", "30"),
        ("LEFT_UP_HOURS", "8"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    emulator.reset_counts();
    Setup {
        cloud: AwsCloud::new(&sdk),
        emulator,
        autoscaling,
        vars,
    }
}

#[tokio::test]
async fn the_idle_alarm_invoking_directly_stops_the_container_and_says_why() {
    let s = setup(false).await;
    let summary = s.run(&sample("alarm-idle.json")).await.expect("success");
    assert_eq!(summary.outcomes[0].result, Status::Stopped);
    assert_eq!(s.desired().await, 0);
    assert_eq!(
        s.messages(),
        vec![(
            "mc is stopping".into(),
            "mc is being stopped: idle for 30 minutes.".into(),
            "idle".into()
        )]
    );
}

#[tokio::test]
async fn the_idle_alarm_through_sns_stops_the_container_and_a_duplicate_does_nothing() {
    let s = setup(false).await;
    let event = sample("sns-alarm-idle.json");
    let first = s.run(&event).await.expect("success");
    assert_eq!(first.source, Source::SnsAlarm);
    assert_eq!(first.outcomes[0].result, Status::Stopped);
    assert_eq!(s.desired().await, 0);
    let again = s.run(&event).await.expect("a duplicate is no error");
    assert_eq!(again.outcomes[0].result, Status::AlreadyStopped);
    assert_eq!(
        s.messages().len(),
        1,
        "one message, not two: {:?}",
        s.messages()
    );
    assert_eq!(
        s.emulator.call_count("autoscaling:UpdateAutoScalingGroup"),
        1
    );
}

#[tokio::test]
async fn ok_transitions_and_normal_task_stops_change_nothing() {
    let s = setup(false).await;
    let ok = s.run(&sample("alarm-idle-ok.json")).await.expect("success");
    assert_eq!(ok.outcomes[0].result, Status::Ignored);
    let scaled_in = s
        .run(&sample("ecs-task-scaled-in.json"))
        .await
        .expect("success");
    assert_eq!(scaled_in.outcomes[0].result, Status::Ignored);
    assert_eq!(s.desired().await, 1);
    assert!(s.messages().is_empty());
    assert!(s.emulator.writes().is_empty(), "{:?}", s.emulator.calls());
}

#[tokio::test]
async fn the_left_up_alarm_only_notifies_unless_told_to_stop() {
    let s = setup(false).await;
    let summary = s.run(&sample("alarm-left-up.json")).await.expect("success");
    assert_eq!(summary.outcomes[0].result, Status::Notified);
    assert_eq!(s.desired().await, 1);
    assert_eq!(
        s.messages(),
        vec![(
            "mc is still running".into(),
            "mc has been up for 8 hours and is still running.".into(),
            "left_up".into()
        )]
    );

    let s = setup(true).await;
    let summary = s.run(&sample("alarm-left-up.json")).await.expect("success");
    assert_eq!(summary.outcomes[0].result, Status::Stopped);
    assert_eq!(s.desired().await, 0);
    assert_eq!(s.messages()[0].1, "mc is being stopped: up for 8 hours.");
}

#[tokio::test]
async fn a_crashed_container_is_stopped_with_its_reason() {
    let s = setup(false).await;
    let summary = s
        .run(&sample("ecs-task-crashed.json"))
        .await
        .expect("success");
    assert_eq!(summary.outcomes[0].result, Status::Stopped);
    assert_eq!(s.desired().await, 0);
    let messages = s.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].2, "crashed");
    assert!(
        messages[0].1.contains("crashed: container minecraft exited with code 137 (Essential container in task exited)"),
        "{}",
        messages[0].1
    );

    let s = setup(false).await;
    s.run(&sample("ecs-task-failed-to-start.json"))
        .await
        .expect("success");
    assert_eq!(s.desired().await, 0);
    assert!(
        s.messages()[0].1.contains("CannotPullContainerError"),
        "{:?}",
        s.messages()
    );
}

#[tokio::test]
async fn unknown_alarms_foreign_clusters_and_garbage_change_nothing() {
    let s = setup(false).await;
    let mut unknown = sample("alarm-idle.json");
    unknown["alarmData"]["alarmName"] = "someone-elses-alarm".into();
    let mut foreign = sample("ecs-task-crashed.json");
    foreign["detail"]["clusterArn"] = "arn:aws:ecs:us-east-1:123456789012:cluster/other".into();
    let mut sns_garbage = sample("sns-alarm-idle.json");
    sns_garbage["Records"][0]["Sns"]["Message"] = "{\"AlarmName\": 5}".into();
    for (event, expected) in [
        (unknown, "unknown alarm \"someone-elses-alarm\""),
        (foreign, "task event for cluster"),
        (sns_garbage, "is not a CloudWatch alarm notification"),
        (
            serde_json::json!({"awslogs": {"data": ""}}),
            "unrecognised event",
        ),
    ] {
        let err = s.run(&event).await.expect_err("an error");
        assert!(
            err.to_string().contains(expected),
            "{err} should say {expected}"
        );
        assert_eq!(err.kind(), "InvalidEvent");
    }
    assert_eq!(s.desired().await, 1);
    assert!(s.messages().is_empty());
    assert!(
        s.emulator
            .calls()
            .keys()
            .all(|k| k.ends_with("DescribeAutoScalingGroups")),
        "{:?}",
        s.emulator.calls()
    );
}

#[tokio::test]
async fn the_binary_answers_each_shape_behind_the_runtime_api() {
    let s = setup(false).await;
    let vars: Vec<(String, String)> = s.vars.clone().into_iter().collect();
    let function = Function::start(
        Path::new(env!("CARGO_BIN_EXE_watchdog-scale-down")),
        &s.emulator,
        &vars,
    );
    let ok = function.try_invoke(sample("alarm-idle-ok.json"));
    let bad = function.try_invoke(serde_json::json!({"hello": "world"}));
    let crash = function.try_invoke(sample("ecs-task-crashed.json"));
    drop(function);
    assert_eq!(
        ok.as_ref()
            .and_then(Outcome::response)
            .map(|r| r["outcomes"][0]["result"].clone()),
        Some("ignored".into())
    );
    assert_eq!(
        bad.as_ref()
            .and_then(Outcome::error)
            .map(|e| e["errorType"].clone()),
        Some("InvalidEvent".into())
    );
    assert_eq!(
        crash
            .as_ref()
            .and_then(Outcome::response)
            .map(|r| r["outcomes"][0]["result"].clone()),
        Some("stopped".into())
    );
    assert_eq!(s.desired().await, 0);
}
