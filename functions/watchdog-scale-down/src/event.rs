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
use serde::Deserialize;
use serde_json::Value;

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

#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub source: &'static str,
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

pub fn parse(event: &Value) -> Result<Parsed, Error> {
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

fn parse_direct_alarm(event: &Value) -> Result<Parsed, Error> {
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
    Ok(Parsed {
        source: "alarm",
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

fn parse_sns(event: &Value) -> Result<Parsed, Error> {
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
    Ok(Parsed {
        source: "sns-alarm",
        signals,
    })
}

fn parse_ecs(event: &Value) -> Result<Parsed, Error> {
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
    Ok(Parsed {
        source: "ecs-task",
        signals: vec![Signal::Task(detail)],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str) -> Value {
        let path = format!(
            "{}/../../events/watchdog-scale-down/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(&path).expect("sample")).expect("json")
    }

    #[test]
    fn parses_each_sample_shape() {
        let direct = parse(&sample("alarm-idle.json")).unwrap();
        assert_eq!(direct.source, "alarm");
        let Signal::Alarm(a) = &direct.signals[0] else {
            panic!("an alarm")
        };
        assert_eq!(
            (a.new_state.as_str(), a.old_state.as_deref()),
            ("ALARM", Some("OK"))
        );

        let sns = parse(&sample("sns-alarm-idle.json")).unwrap();
        assert_eq!(sns.source, "sns-alarm");
        let Signal::Alarm(a) = &sns.signals[0] else {
            panic!("an alarm")
        };
        assert_eq!(a.new_state, "ALARM");

        let task = parse(&sample("ecs-task-crashed.json")).unwrap();
        let Signal::Task(t) = &task.signals[0] else {
            panic!("a task")
        };
        assert_eq!(t.stop_code.as_deref(), Some("EssentialContainerExited"));
        assert_eq!(t.containers[0].exit_code, Some(137));
    }

    #[test]
    fn bad_shapes_are_named() {
        let err = |v: Value| parse(&v).unwrap_err().to_string();
        assert!(err(serde_json::json!({"hello": 1})).contains("unrecognised event"));
        assert!(
            err(serde_json::json!({"alarmData": {}, "source": "aws.ec2"}))
                .contains("aws.cloudwatch")
        );
        assert!(
            err(serde_json::json!({"Records": []})).contains("malformed SNS event")
                || err(serde_json::json!({"Records": []})).contains("no records")
        );
        let mut ec2 = sample("ecs-task-crashed.json");
        ec2["detail-type"] = "EC2 Instance Launch Successful".into();
        assert!(err(ec2).contains("unsupported EventBridge event"));
        let mut sns = sample("sns-alarm-idle.json");
        sns["Records"][0]["Sns"]["Message"] = "not json".into();
        assert!(err(sns).contains("is not a CloudWatch alarm notification"));
    }

    #[test]
    fn an_alarm_without_description_is_accepted_over_sns() {
        let mut sns = sample("sns-alarm-idle.json");
        let mut message: Value =
            serde_json::from_str(sns["Records"][0]["Sns"]["Message"].as_str().unwrap()).unwrap();
        message["AlarmDescription"] = Value::Null;
        sns["Records"][0]["Sns"]["Message"] = message.to_string().into();
        assert!(parse(&sns).is_ok());
    }
}
