//! What one invocation saw and did: the invocation's response, and its log line.

use serde::Serialize;

pub use crate::decide::Found;

/// What the event was, once read against the group: `launch`, `terminate`,
/// `ignored` (a launch into the warm pool, or a stale launch: nothing changed) or
/// `reconcile` (a scheduled run: the service and the waiting lifecycle actions
/// followed the group as it is).
pub use cm_core::asg_event::EventKind;

/// A call that changed something.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "call")]
pub enum Action {
    UpdateService {
        cluster: String,
        service: String,
        desired_count: i32,
    },
    UpdateContainerInstancesState {
        cluster: String,
        container_instance: String,
        /// Always `DRAINING`.
        status: &'static str,
    },
    CompleteLifecycleAction {
        group: String,
        hook: String,
        instance_id: String,
        /// Always `CONTINUE`.
        result: &'static str,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub event: EventKind,
    /// The event's instance; for a scheduled run, the group's InService instance
    /// (absent when it has none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// The calls that changed something, in order.
    pub actions: Vec<Action>,
    /// For a terminate: did the instance's tasks of the service stop in time?
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drained: Option<bool>,
    /// Tasks still running on the instance when the drain gave up.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub still_running: Vec<String>,
    /// Why nothing changed, that a successor keeps the service, that the lifecycle
    /// action was already completed, or what a scheduled run left as it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// What a scheduled run found before it acted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub found: Option<Found>,
    /// For a CloudFormation custom resource request: the answer PUT to its ResponseURL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_resource: Option<CustomResourceAnswer>,
}

/// The answer given to a CloudFormation custom resource request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustomResourceAnswer {
    /// `Create`, `Update` or `Delete`.
    pub request_type: String,
    pub logical_id: String,
    /// `SUCCESS` or `FAILED`.
    pub status: &'static str,
    pub physical_id: String,
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_json_keeps_the_field_names_callers_read() {
        let terminate = Outcome {
            event: EventKind::Terminate,
            instance_id: Some("i-1".into()),
            actions: vec![
                Action::UpdateService {
                    cluster: "c".into(),
                    service: "s".into(),
                    desired_count: 0,
                },
                Action::CompleteLifecycleAction {
                    group: "g".into(),
                    hook: "h".into(),
                    instance_id: "i-1".into(),
                    result: "CONTINUE",
                },
            ],
            drained: Some(false),
            still_running: vec!["arn:task/1".into()],
            note: Some("n".into()),
            found: None,
            custom_resource: None,
        };
        assert_eq!(
            serde_json::to_value(&terminate).unwrap(),
            json!({
                "event": "terminate",
                "instance_id": "i-1",
                "actions": [
                    {"call": "UpdateService", "cluster": "c", "service": "s", "desired_count": 0},
                    {"call": "CompleteLifecycleAction", "group": "g", "hook": "h",
                     "instance_id": "i-1", "result": "CONTINUE"},
                ],
                "drained": false,
                "still_running": ["arn:task/1"],
                "note": "n",
            })
        );
    }

    #[test]
    fn absent_details_are_left_out() {
        let ignored = Outcome {
            event: EventKind::Ignored,
            instance_id: Some("i-1".into()),
            actions: Vec::new(),
            drained: None,
            still_running: Vec::new(),
            note: None,
            found: None,
            custom_resource: None,
        };
        assert_eq!(
            serde_json::to_value(&ignored).unwrap(),
            json!({"event": "ignored", "instance_id": "i-1", "actions": []})
        );
        let drain = Action::UpdateContainerInstancesState {
            cluster: "c".into(),
            container_instance: "ci".into(),
            status: "DRAINING",
        };
        assert_eq!(
            serde_json::to_value(&drain).unwrap()["call"],
            "UpdateContainerInstancesState"
        );
    }

    #[test]
    fn a_scheduled_run_says_what_it_found() {
        let run = Outcome {
            event: EventKind::Reconcile,
            instance_id: None,
            actions: vec![Action::UpdateService {
                cluster: "c".into(),
                service: "s".into(),
                desired_count: 0,
            }],
            drained: None,
            still_running: Vec::new(),
            note: None,
            found: Some(Found {
                instances: [("i-1".to_string(), "Terminating:Wait".to_string())].into(),
                service_desired: 1,
            }),
            custom_resource: None,
        };
        assert_eq!(
            serde_json::to_value(&run).unwrap(),
            json!({
                "event": "reconcile",
                "actions": [
                    {"call": "UpdateService", "cluster": "c", "service": "s", "desired_count": 0},
                ],
                "found": {"instances": {"i-1": "Terminating:Wait"}, "service_desired": 1},
            })
        );
    }
}
