//! The two EventBridge events of the container's Auto Scaling group that the ECS sync
//! and the DNS updater follow, parsed with `aws_lambda_events`' `AutoScalingEvent`
//! and checked: the right source, a known detail-type, this group, and every field
//! the functions need. `Origin`/`Destination` may be absent (older events, samples).
//! Both functions also run on an EventBridge schedule, whose ticks
//! ([`parse_or_schedule`]) ask them to converge on the group as it is.

use aws_lambda_events::autoscaling::AutoScalingEvent;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Error;

pub const LAUNCH_SUCCESSFUL: &str = "EC2 Instance Launch Successful";
pub const TERMINATE_LIFECYCLE_ACTION: &str = "EC2 Instance-terminate Lifecycle Action";

/// The `detail-type` of an EventBridge schedule's event: the ECS sync and the DNS
/// updater also run every few minutes and converge on the group as it is.
pub const SCHEDULED_EVENT: &str = "Scheduled Event";
/// The `source` of an EventBridge schedule's event.
pub const SCHEDULE_SOURCE: &str = "aws.events";

/// The lifecycle state of an instance waiting on a terminate lifecycle hook.
pub const TERMINATING_WAIT: &str = "Terminating:Wait";

/// A terminate lifecycle action waiting for CompleteLifecycleAction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleAction {
    pub hook_name: String,
    pub token: String,
    pub instance_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AsgSignal {
    /// An instance launched. `into_service` is false when it went into a warm pool.
    Launch {
        instance_id: String,
        into_service: bool,
    },
    /// An instance is terminating (or returning to a warm pool) and waits on our hook.
    Terminate(LifecycleAction),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsgEvent {
    pub group: String,
    pub signal: AsgSignal,
}

impl AsgEvent {
    pub fn instance_id(&self) -> &str {
        match &self.signal {
            AsgSignal::Launch { instance_id, .. } => instance_id,
            AsgSignal::Terminate(action) => &action.instance_id,
        }
    }
}

/// A tick of an EventBridge schedule; it carries nothing a run needs beyond being one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schedule {
    /// The rule's ARN (`resources[0]`), when given.
    pub rule: Option<String>,
}

/// What a function that follows the group is invoked with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupOrSchedule {
    /// A checked launch or terminate of an instance of the group.
    Group(AsgEvent),
    /// A tick of the function's schedule: a scheduled run.
    Schedule(Schedule),
}

/// What an event was, once read against the group: the `event` of an outcome of the
/// functions that follow the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    Launch,
    Terminate,
    /// The event calls for nothing (a launch into the warm pool, a stale launch).
    Ignored,
    /// A scheduled run: what follows the group was made to follow it as it is.
    Reconcile,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Launch => "launch",
            EventKind::Terminate => "terminate",
            EventKind::Ignored => "ignored",
            EventKind::Reconcile => "reconcile",
        }
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::invalid_event(message)
}

/// Parses and checks an ASG event for `expected_group`.
pub fn parse(event: &Value, expected_group: &str) -> Result<AsgEvent, Error> {
    let parsed: AutoScalingEvent<Value> = serde_json::from_value(event.clone())
        .map_err(|e| invalid(format!("not an Auto Scaling EventBridge event: {e}")))?;
    let source = parsed.source.as_deref().unwrap_or("");
    if source != "aws.autoscaling" {
        return Err(invalid(format!(
            "event source is {source:?}, not aws.autoscaling"
        )));
    }
    let detail_type = parsed.detail_type.as_deref().unwrap_or("");
    let field = |name: &str| -> Result<String, Error> {
        match parsed.detail.get(name) {
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
            Some(_) => Err(invalid(format!(
                "detail.{name} is not a non-empty string in {detail_type:?}"
            ))),
            None => Err(invalid(format!(
                "detail.{name} is missing from {detail_type:?}"
            ))),
        }
    };
    let optional = |name: &str| {
        parsed
            .detail
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    if detail_type != LAUNCH_SUCCESSFUL && detail_type != TERMINATE_LIFECYCLE_ACTION {
        return Err(invalid(format!(
            "unsupported detail-type {detail_type:?}: expected {LAUNCH_SUCCESSFUL:?} or {TERMINATE_LIFECYCLE_ACTION:?}"
        )));
    }
    let group = field("AutoScalingGroupName")?;
    if group != expected_group {
        return Err(invalid(format!(
            "event for Auto Scaling group {group:?}, not {expected_group:?}"
        )));
    }
    let instance_id = field("EC2InstanceId")?;
    if !instance_id.starts_with("i-") {
        return Err(invalid(format!(
            "detail.EC2InstanceId {instance_id:?} is not an instance id"
        )));
    }
    let signal = if detail_type == LAUNCH_SUCCESSFUL {
        AsgSignal::Launch {
            instance_id,
            into_service: optional("Destination").as_deref() != Some("WarmPool"),
        }
    } else {
        if let Some(transition) = optional("LifecycleTransition") {
            if transition != "autoscaling:EC2_INSTANCE_TERMINATING" {
                return Err(invalid(format!(
                    "lifecycle transition {transition:?} is not autoscaling:EC2_INSTANCE_TERMINATING"
                )));
            }
        }
        AsgSignal::Terminate(LifecycleAction {
            hook_name: field("LifecycleHookName")?,
            token: field("LifecycleActionToken")?,
            instance_id,
        })
    };
    Ok(AsgEvent { group, signal })
}

/// An ASG event for `expected_group` (checked by [`parse`]), or a tick of the
/// schedule (`"source": "aws.events"`, checked by [`parse_schedule`]).
pub fn parse_or_schedule(event: &Value, expected_group: &str) -> Result<GroupOrSchedule, Error> {
    if event.get("source").and_then(Value::as_str) == Some(SCHEDULE_SOURCE) {
        return parse_schedule(event).map(GroupOrSchedule::Schedule);
    }
    parse(event, expected_group).map(GroupOrSchedule::Group)
}

/// Parses a tick of an EventBridge schedule: an EventBridge event whose detail-type
/// is [`SCHEDULED_EVENT`].
pub fn parse_schedule(event: &Value) -> Result<Schedule, Error> {
    let event = EventBridgeEvent::<Value>::deserialize(event)
        .map_err(|e| invalid(format!("not an EventBridge scheduled event: {e}")))?;
    if event.detail_type != SCHEDULED_EVENT {
        return Err(invalid(format!(
            "detail-type {:?} from {SCHEDULE_SOURCE}: expected {SCHEDULED_EVENT:?}",
            event.detail_type
        )));
    }
    Ok(Schedule {
        rule: event.resources.and_then(|r| r.into_iter().next()),
    })
}

/// Lifecycle states of an instance that serves, or is about to serve, the group.
pub fn is_pending_or_in_service(state: &str) -> bool {
    is_in_service(state) || is_pending(state)
}

/// The lifecycle state of an instance that serves the group.
pub fn is_in_service(state: &str) -> bool {
    state == "InService"
}

/// Lifecycle states of an instance being launched into the group (`Pending`,
/// `Pending:Wait`, `Pending:Proceed`).
pub fn is_pending(state: &str) -> bool {
    state.starts_with("Pending")
}

/// Why a launch event is stale, if it is: EventBridge may deliver it late or twice,
/// after the instance already left the group (a quick scale-in, a terminate delivered
/// first). Following it would start the service, or point the name at an address,
/// for an instance that is gone. `instances` are the group's (instance id, lifecycle
/// state) pairs as they are now.
pub fn stale_launch(instances: &[(String, String)], instance_id: &str) -> Option<String> {
    match instances.iter().find(|(id, _)| id == instance_id) {
        None => Some(format!(
            "stale launch: {instance_id} is no longer in the group"
        )),
        Some((_, state)) if !is_pending_or_in_service(state) => Some(format!(
            "stale launch: {instance_id} is {state}, not Pending or InService"
        )),
        Some(_) => None,
    }
}

/// Is another instance than `instance_id` Pending or InService? `instances` are
/// (instance id, lifecycle state) pairs from DescribeAutoScalingGroups.
pub fn another_instance_serving(
    instances: &[(String, String)],
    instance_id: &str,
) -> Option<String> {
    instances
        .iter()
        .find(|(id, state)| id != instance_id && is_pending_or_in_service(state))
        .map(|(id, _)| id.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// (instance id, lifecycle state) pairs as DescribeAutoScalingGroups gives them.
    fn group(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(id, state)| (id.to_string(), state.to_string()))
            .collect()
    }

    #[test]
    fn a_launch_is_stale_once_the_instance_left_the_group_or_terminates() {
        let instances = group(&[("i-1", "InService"), ("i-2", "Terminating:Wait")]);
        assert_eq!(stale_launch(&instances, "i-1"), None);
        assert_eq!(
            stale_launch(&group(&[("i-1", "Pending:Wait")]), "i-1"),
            None
        );
        assert!(stale_launch(&instances, "i-2").is_some_and(|w| w.contains("Terminating:Wait")));
        assert!(
            stale_launch(&instances, "i-3").is_some_and(|w| w.contains("no longer in the group"))
        );
    }

    fn launch() -> Value {
        json!({
            "version": "0", "id": "1", "detail-type": LAUNCH_SUCCESSFUL, "source": "aws.autoscaling",
            "account": "123456789012", "time": "2026-11-23T20:31:12Z", "region": "us-east-1",
            "resources": ["arn:aws:autoscaling:...", "arn:aws:ec2:...:instance/i-0abc"],
            "detail": {"StatusCode": "InProgress", "AutoScalingGroupName": "g", "EC2InstanceId": "i-0abc",
                       "Origin": "EC2", "Destination": "AutoScalingGroup"}
        })
    }

    fn terminate() -> Value {
        json!({
            "version": "0", "id": "2", "detail-type": TERMINATE_LIFECYCLE_ACTION, "source": "aws.autoscaling",
            "account": "123456789012", "time": "2026-11-23T21:31:12Z", "region": "us-east-1",
            "resources": ["arn:aws:autoscaling:..."],
            "detail": {"LifecycleActionToken": "87654321-4321-4321-4321-210987654321", "AutoScalingGroupName": "g",
                       "LifecycleHookName": "drain", "EC2InstanceId": "i-0abc",
                       "LifecycleTransition": "autoscaling:EC2_INSTANCE_TERMINATING"}
        })
    }

    #[test]
    fn parses_launch_and_terminate() {
        let e = parse(&launch(), "g").unwrap();
        assert_eq!(
            e.signal,
            AsgSignal::Launch {
                instance_id: "i-0abc".into(),
                into_service: true
            }
        );
        let t = parse(&terminate(), "g").unwrap();
        let AsgSignal::Terminate(action) = t.signal else {
            panic!("terminate")
        };
        assert_eq!(
            (action.hook_name.as_str(), action.instance_id.as_str()),
            ("drain", "i-0abc")
        );
    }

    #[test]
    fn warm_pool_launches_are_not_into_service_but_leaving_the_pool_is() {
        let mut into_pool = launch();
        into_pool["detail"]["Destination"] = "WarmPool".into();
        assert!(matches!(
            parse(&into_pool, "g").unwrap().signal,
            AsgSignal::Launch {
                into_service: false,
                ..
            }
        ));
        let mut out_of_pool = launch();
        out_of_pool["detail"]["Origin"] = "WarmPool".into();
        assert!(matches!(
            parse(&out_of_pool, "g").unwrap().signal,
            AsgSignal::Launch {
                into_service: true,
                ..
            }
        ));
        let mut no_origin = launch();
        no_origin["detail"]
            .as_object_mut()
            .unwrap()
            .retain(|k, _| k != "Origin" && k != "Destination");
        assert!(matches!(
            parse(&no_origin, "g").unwrap().signal,
            AsgSignal::Launch {
                into_service: true,
                ..
            }
        ));
    }

    #[test]
    fn wrong_events_are_named() {
        let err = |v: Value| parse(&v, "g").unwrap_err().to_string();
        let mut other_group = launch();
        other_group["detail"]["AutoScalingGroupName"] = "h".into();
        assert!(err(other_group).contains("event for Auto Scaling group \"h\", not \"g\""));
        let mut other_type = launch();
        other_type["detail-type"] = "EC2 Instance Terminate Successful".into();
        assert!(err(other_type).contains("unsupported detail-type"));
        let mut other_source = launch();
        other_source["source"] = "aws.ec2".into();
        assert!(err(other_source).contains("not aws.autoscaling"));
        let mut no_token = terminate();
        no_token["detail"]
            .as_object_mut()
            .unwrap()
            .remove("LifecycleActionToken");
        assert!(err(no_token).contains("detail.LifecycleActionToken is missing"));
        let mut no_instance = launch();
        no_instance["detail"]["EC2InstanceId"] = "".into();
        assert!(err(no_instance).contains("EC2InstanceId"));
        assert!(err(json!({"hello": 1})).contains("not an Auto Scaling EventBridge event"));
    }

    #[test]
    fn a_tick_of_the_schedule_is_told_from_a_group_event() {
        let tick = json!({
            "version": "0", "id": "3", "detail-type": SCHEDULED_EVENT, "source": SCHEDULE_SOURCE,
            "account": "123456789012", "time": "2026-11-23T21:35:00Z", "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:123456789012:rule/r"], "detail": {}
        });
        assert_eq!(
            parse_or_schedule(&tick, "g").unwrap(),
            GroupOrSchedule::Schedule(Schedule {
                rule: Some("arn:aws:events:us-east-1:123456789012:rule/r".into())
            })
        );
        assert!(matches!(
            parse_or_schedule(&launch(), "g").unwrap(),
            GroupOrSchedule::Group(AsgEvent { group, .. }) if group == "g"
        ));
        let mut other = tick.clone();
        other["detail-type"] = "Object Created".into();
        let err = parse_or_schedule(&other, "g").unwrap_err().to_string();
        assert!(
            err.contains("detail-type \"Object Created\" from aws.events"),
            "{err}"
        );
        let err = parse_schedule(&json!({"source": "aws.events"})).unwrap_err();
        assert!(
            err.to_string()
                .contains("not an EventBridge scheduled event"),
            "{err}"
        );
    }

    #[test]
    fn event_kinds_are_written_in_lower_case() {
        for kind in [
            EventKind::Launch,
            EventKind::Terminate,
            EventKind::Ignored,
            EventKind::Reconcile,
        ] {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
    }

    #[test]
    fn lifecycle_states_are_told_apart() {
        assert!(is_in_service("InService"));
        for state in ["Pending", "Pending:Wait", "Pending:Proceed"] {
            assert!(is_pending(state) && !is_in_service(state), "{state}");
            assert!(is_pending_or_in_service(state), "{state}");
        }
        for state in [
            TERMINATING_WAIT,
            "Terminating:Proceed",
            "Standby",
            "Warmed:Stopped",
        ] {
            assert!(!is_pending_or_in_service(state), "{state}");
        }
    }

    #[test]
    fn another_serving_instance_is_found() {
        let serving = |pairs: &[(&str, &str)]| another_instance_serving(&group(pairs), "i-old");
        assert_eq!(
            serving(&[("i-old", "Terminating:Wait"), ("i-new", "Pending:Wait")]),
            Some("i-new".into())
        );
        assert_eq!(serving(&[("i-old", "Terminating:Wait")]), None);
        assert_eq!(serving(&[("i-x", "Warmed:Stopped")]), None);
        assert_eq!(serving(&[("i-x", "InService")]), Some("i-x".into()));
    }
}
