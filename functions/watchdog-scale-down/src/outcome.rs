//! What one invocation saw and did: the invocation's response, and its log line.
//!
//! ```json
//! {"source": "alarm", "desired_capacity": 1, "outcomes": [{"result": "stopped",
//!  "reason": "idle for 30 minutes", "actions": [{"call": "UpdateAutoScalingGroup", ...}]}]}
//! ```

use std::fmt;

use serde::Serialize;

use crate::parse::Source;

/// A call that changed something.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "call")]
pub enum Action {
    UpdateAutoScalingGroup {
        group: String,
        desired_capacity: i32,
    },
    Publish {
        topic_arn: String,
        event_type: String,
        subject: String,
        message: String,
    },
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::UpdateAutoScalingGroup {
                group,
                desired_capacity,
            } => write!(
                f,
                "UpdateAutoScalingGroup {group} DesiredCapacity={desired_capacity}"
            ),
            Action::Publish {
                topic_arn, message, ..
            } => write!(f, "Publish {topic_arn} {message:?}"),
        }
    }
}

/// What became of one signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The signal asked for nothing.
    Ignored,
    /// The signal asked for a stop; the group was already at 0.
    AlreadyStopped,
    /// The group was set to 0 (and people told, when a topic is configured).
    Stopped,
    /// People were told; the group was left as it is.
    Notified,
}

/// One signal's result, why, and the calls made for it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignalOutcome {
    pub result: Status,
    /// The trigger described for people, or why the signal was ignored.
    pub reason: String,
    pub actions: Vec<Action>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// `alarm`, `sns-alarm` or `ecs-task`.
    pub source: Source,
    /// The group's desired capacity read before deciding; absent when no signal
    /// asked for a stop (then it is not read).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desired_capacity: Option<i32>,
    /// One entry per signal (an SNS delivery may in principle carry several).
    pub outcomes: Vec<SignalOutcome>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn serialises_with_the_field_names_the_end_to_end_tests_read() {
        let outcome = Outcome {
            source: Source::SnsAlarm,
            desired_capacity: Some(1),
            outcomes: vec![
                SignalOutcome {
                    result: Status::Stopped,
                    reason: "idle for 30 minutes".into(),
                    actions: vec![
                        Action::UpdateAutoScalingGroup {
                            group: "cm-asg-dev-mc".into(),
                            desired_capacity: 0,
                        },
                        Action::Publish {
                            topic_arn: "arn:aws:sns:us-east-1:123456789012:t".into(),
                            event_type: "idle".into(),
                            subject: "mc is stopping".into(),
                            message: "mc is being stopped: idle for 30 minutes.".into(),
                        },
                    ],
                },
                SignalOutcome {
                    result: Status::AlreadyStopped,
                    reason: "idle for 30 minutes".into(),
                    actions: Vec::new(),
                },
            ],
        };
        assert_eq!(
            serde_json::to_value(&outcome).unwrap(),
            json!({
                "source": "sns-alarm",
                "desired_capacity": 1,
                "outcomes": [
                    {"result": "stopped", "reason": "idle for 30 minutes", "actions": [
                        {"call": "UpdateAutoScalingGroup", "group": "cm-asg-dev-mc", "desired_capacity": 0},
                        {"call": "Publish", "topic_arn": "arn:aws:sns:us-east-1:123456789012:t",
                         "event_type": "idle", "subject": "mc is stopping",
                         "message": "mc is being stopped: idle for 30 minutes."}
                    ]},
                    {"result": "already-stopped", "reason": "idle for 30 minutes", "actions": []}
                ]
            })
        );
        for (value, name) in [
            (json!(Status::Ignored), "ignored"),
            (json!(Status::Notified), "notified"),
            (json!(Source::Alarm), "alarm"),
            (json!(Source::EcsTask), "ecs-task"),
        ] {
            assert_eq!(value, json!(name));
        }
        let skipped = Outcome {
            source: Source::Alarm,
            desired_capacity: None,
            outcomes: Vec::new(),
        };
        assert_eq!(
            serde_json::to_value(&skipped).unwrap(),
            json!({"source": "alarm", "outcomes": []})
        );
    }

    #[test]
    fn actions_read_as_calls_in_logs_and_errors() {
        let update = Action::UpdateAutoScalingGroup {
            group: "g".into(),
            desired_capacity: 0,
        };
        assert_eq!(
            update.to_string(),
            "UpdateAutoScalingGroup g DesiredCapacity=0"
        );
        let publish = Action::Publish {
            topic_arn: "arn:t".into(),
            event_type: "idle".into(),
            subject: "s".into(),
            message: "m \"x\"".into(),
        };
        assert_eq!(publish.to_string(), "Publish arn:t \"m \\\"x\\\"\"");
    }
}
