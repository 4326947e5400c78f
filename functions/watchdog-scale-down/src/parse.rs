//! The three input shapes, parsed into signals the decision understands.
//!
//! - a CloudWatch alarm invoking the function directly (`source` = `aws.cloudwatch`,
//!   `alarmData`), parsed with `aws_lambda_events`' `CloudWatchAlarm`;
//! - the same alarm delivered through SNS (`Records[].Sns.Message` is the alarm JSON
//!   with `NewStateValue`); the envelope is `aws_lambda_events`' `SnsEvent`, the
//!   message is read with [`SnsAlarmMessage`] because alarms without a description
//!   carry `"AlarmDescription": null`, which the crate's `CloudWatchAlarmPayload`
//!   (a plain `String` there) refuses;
//! - an EventBridge `ECS Task State Change` (`source` = `aws.ecs`), in
//!   `aws_lambda_events`' `EventBridgeEvent` with [`EcsTaskDetail`].

use aws_lambda_events::cloudwatch_alarms::CloudWatchAlarm;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sns::SnsEvent;
use cm_core::Error;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::Config;

/// Where the event came from: the `source` of the invocation's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// A CloudWatch alarm invoking the function directly.
    Alarm,
    /// A CloudWatch alarm delivered through SNS.
    SnsAlarm,
    /// An EventBridge `ECS Task State Change`.
    EcsTask,
}

/// An alarm state change, from either delivery path.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmChange {
    pub alarm_name: String,
    /// `ALARM`, `OK` or `INSUFFICIENT_DATA`.
    pub new_state: String,
    pub old_state: Option<String>,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Signal {
    Alarm(AlarmChange),
    Task(EcsTaskDetail),
}

/// One event, typed: where it came from and what it says (an SNS delivery may in
/// principle carry several alarms).
#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    pub source: Source,
    pub signals: Vec<Signal>,
}

/// The alarm JSON that CloudWatch publishes to SNS (the fields the watchdog reads).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SnsAlarmMessage {
    pub alarm_name: String,
    pub new_state_value: String,
    #[serde(default)]
    pub new_state_reason: Option<String>,
    #[serde(default)]
    pub old_state_value: Option<String>,
}

/// The `detail` of an ECS Task State Change event (the fields the watchdog reads).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EcsTaskDetail {
    pub cluster_arn: String,
    #[serde(default)]
    pub task_arn: Option<String>,
    pub last_status: String,
    #[serde(default)]
    pub stop_code: Option<String>,
    #[serde(default)]
    pub stopped_reason: Option<String>,
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub containers: Vec<EcsContainer>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EcsContainer {
    pub name: String,
    #[serde(default)]
    pub exit_code: Option<i64>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub last_status: Option<String>,
}

fn invalid(what: impl std::fmt::Display) -> Error {
    Error::invalid_event(what.to_string())
}

/// Reads an event into an [`Input`]; a malformed or unsupported event is an
/// [`Error::InvalidEvent`] naming what is wrong. Whether the alarm or the cluster is
/// this container's is decided later (see [`crate::decide`]), so the configuration is
/// not read here; it is taken so every function's parse has the same signature.
pub fn parse(event: &Value, _config: &Config) -> Result<Input, Error> {
    if event.get("alarmData").is_some() {
        return parse_direct_alarm(event);
    }
    if event.get("Records").is_some() {
        return parse_sns(event);
    }
    if event.get("detail-type").is_some() {
        return parse_ecs(event);
    }
    Err(invalid(
        "unrecognised event: expected a CloudWatch alarm (alarmData), an SNS delivery \
         (Records) or an ECS Task State Change (detail-type)",
    ))
}

fn parse_direct_alarm(event: &Value) -> Result<Input, Error> {
    let source = event.get("source").and_then(Value::as_str).unwrap_or("");
    if source != "aws.cloudwatch" {
        return Err(invalid(format!(
            "an alarm event must come from aws.cloudwatch, not {source:?}"
        )));
    }
    let alarm: CloudWatchAlarm<Value, Value> = serde_json::from_value(event.clone())
        .map_err(|e| invalid(format!("malformed CloudWatch alarm event: {e}")))?;
    let data = alarm.alarm_data;
    let state = data
        .state
        .ok_or_else(|| invalid("the alarm event has no alarmData.state"))?;
    Ok(Input {
        source: Source::Alarm,
        signals: vec![Signal::Alarm(AlarmChange {
            alarm_name: data.alarm_name,
            new_state: state_name(&state.value),
            old_state: data.previous_state.map(|s| state_name(&s.value)),
            reason: state.reason,
        })],
    })
}

fn state_name(value: &impl serde::Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn parse_sns(event: &Value) -> Result<Input, Error> {
    let sns: SnsEvent = serde_json::from_value(event.clone())
        .map_err(|e| invalid(format!("malformed SNS event: {e}")))?;
    if sns.records.is_empty() {
        return Err(invalid("the SNS event has no records"));
    }
    let signals = sns
        .records
        .iter()
        .map(|record| {
            let message: SnsAlarmMessage =
                serde_json::from_str(&record.sns.message).map_err(|e| {
                    invalid(format!(
                        "SNS message {} is not a CloudWatch alarm notification: {e}",
                        record.sns.message_id
                    ))
                })?;
            Ok(Signal::Alarm(AlarmChange {
                alarm_name: message.alarm_name,
                new_state: message.new_state_value,
                old_state: message.old_state_value,
                reason: message.new_state_reason.unwrap_or_default(),
            }))
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(Input {
        source: Source::SnsAlarm,
        signals,
    })
}

fn parse_ecs(event: &Value) -> Result<Input, Error> {
    let parsed: EventBridgeEvent<Value> = serde_json::from_value(event.clone())
        .map_err(|e| invalid(format!("malformed EventBridge event: {e}")))?;
    if parsed.source != "aws.ecs" || parsed.detail_type != "ECS Task State Change" {
        return Err(invalid(format!(
            "unsupported EventBridge event {:?} from {:?}: expected \"ECS Task State Change\" from aws.ecs",
            parsed.detail_type, parsed.source
        )));
    }
    let detail: EcsTaskDetail = serde_json::from_value(parsed.detail)
        .map_err(|e| invalid(format!("malformed ECS Task State Change detail: {e}")))?;
    Ok(Input {
        source: Source::EcsTask,
        signals: vec![Signal::Task(detail)],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample(name: &str) -> Value {
        let path = format!(
            "{}/../../events/watchdog-scale-down/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(&path).expect("sample")).expect("json")
    }

    fn config() -> Config {
        Config {
            asg_name: "cm-asg-dev-mc".into(),
            idle_alarm_name: "cm-alarm-dev-mc-idle".into(),
            left_up_alarm_name: None,
            stop_when_left_up: false,
            ecs_cluster_name: "cm-cluster-dev-mc".into(),
            ecs_service_name: None,
            sns_topic_arn: None,
            container_name: "mc".into(),
            idle_minutes: None,
            left_up_hours: None,
        }
    }

    fn read(event: &Value) -> Result<Input, Error> {
        parse(event, &config())
    }

    fn err(event: Value) -> String {
        let err = read(&event).unwrap_err();
        assert_eq!(err.kind(), "InvalidEvent");
        err.to_string()
    }

    #[test]
    fn parses_each_sample_shape() {
        let direct = read(&sample("alarm-idle.json")).unwrap();
        assert_eq!(direct.source, Source::Alarm);
        assert_eq!(
            direct.signals,
            vec![Signal::Alarm(AlarmChange {
                alarm_name: "cm-alarm-dev-mc-idle".into(),
                new_state: "ALARM".into(),
                old_state: Some("OK".into()),
                reason: "Threshold Crossed: 30 out of the last 30 datapoints [3.2 (23/11/26 21:29:00), 2.9 (23/11/26 21:28:00)] were less than or equal to the threshold (20.0) (minimum 30 datapoints for OK -> ALARM transition).".into(),
            })]
        );

        let ok = read(&sample("alarm-idle-ok.json")).unwrap();
        let Signal::Alarm(a) = &ok.signals[0] else {
            panic!("an alarm")
        };
        assert_eq!(
            (a.new_state.as_str(), a.old_state.as_deref()),
            ("OK", Some("ALARM"))
        );

        let sns = read(&sample("sns-alarm-idle.json")).unwrap();
        assert_eq!(sns.source, Source::SnsAlarm);
        let Signal::Alarm(a) = &sns.signals[0] else {
            panic!("an alarm")
        };
        assert_eq!(
            (a.alarm_name.as_str(), a.new_state.as_str()),
            ("cm-alarm-dev-mc-idle", "ALARM")
        );

        let task = read(&sample("ecs-task-crashed.json")).unwrap();
        assert_eq!(task.source, Source::EcsTask);
        let Signal::Task(t) = &task.signals[0] else {
            panic!("a task")
        };
        assert_eq!(t.stop_code.as_deref(), Some("EssentialContainerExited"));
        assert_eq!(t.containers[0].exit_code, Some(137));

        let failed = read(&sample("ecs-task-failed-to-start.json")).unwrap();
        let Signal::Task(t) = &failed.signals[0] else {
            panic!("a task")
        };
        assert_eq!(
            (t.containers[0].exit_code, t.containers[0].reason.as_deref()),
            (None, Some("CannotPullContainerError: pull access denied"))
        );
    }

    #[test]
    fn bad_shapes_are_named() {
        assert!(err(json!({"hello": 1})).contains("unrecognised event"));
        assert!(err(json!({"alarmData": {}, "source": "aws.ec2"})).contains("aws.cloudwatch"));
        assert!(err(json!({"Records": []})).contains("no records"));
        assert!(err(json!({"Records": 5})).contains("malformed SNS event"));
        let mut ec2 = sample("ecs-task-crashed.json");
        ec2["detail-type"] = "EC2 Instance Launch Successful".into();
        assert!(err(ec2).contains("unsupported EventBridge event"));
        let mut sns = sample("sns-alarm-idle.json");
        sns["Records"][0]["Sns"]["Message"] = "not json".into();
        assert!(err(sns).contains("is not a CloudWatch alarm notification"));
    }

    #[test]
    fn events_no_rule_sends_are_named_by_their_source() {
        let s3 = err(json!({"source": "aws.s3", "detail-type": "Object Created", "detail": {}}));
        assert!(s3.contains("\"Object Created\" from \"aws.s3\""), "{s3}");
        let mut no_cluster = sample("ecs-task-crashed.json");
        no_cluster["detail"]
            .as_object_mut()
            .map(|d| d.remove("clusterArn"));
        let message = err(no_cluster);
        assert!(message.contains("clusterArn"), "{message}");
    }

    #[test]
    fn an_unknown_alarm_state_is_named() {
        let mut alarm = sample("alarm-idle.json");
        alarm["alarmData"]["state"]["value"] = "MELTING".into();
        let message = err(alarm);
        assert!(message.contains("`MELTING`"), "{message}");
        let mut no_state = sample("alarm-idle.json");
        no_state["alarmData"]
            .as_object_mut()
            .map(|d| d.remove("state"));
        assert!(err(no_state).contains("no alarmData.state"));
    }

    #[test]
    fn every_record_of_an_sns_delivery_is_a_signal() {
        let mut sns = sample("sns-alarm-idle.json");
        let record = sns["Records"][0].clone();
        sns["Records"] = json!([record.clone(), record]);
        assert_eq!(read(&sns).unwrap().signals.len(), 2);
    }

    #[test]
    fn an_alarm_without_description_is_accepted_over_sns() {
        let mut sns = sample("sns-alarm-idle.json");
        let mut message: Value =
            serde_json::from_str(sns["Records"][0]["Sns"]["Message"].as_str().unwrap()).unwrap();
        message["AlarmDescription"] = Value::Null;
        sns["Records"][0]["Sns"]["Message"] = message.to_string().into();
        assert!(read(&sns).is_ok());
    }
}
