//! What one invocation did: the invocation's response, and its log line.

use serde::Serialize;

pub use crate::decide::Found;

use crate::decide::Change;

/// Which event was followed; `ignored` when the event calls for nothing (a launch
/// into the warm pool, a stale launch); `reconcile` for a scheduled run.
pub use cm_core::asg_event::EventKind as Event;

/// A call that changed something.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "call")]
pub enum Action {
    /// One atomic change batch in the hosted zone.
    ChangeResourceRecordSets { zone: String, changes: Vec<Change> },
    /// The message people get, with its `event_type` attribute.
    Publish {
        topic: String,
        event_type: String,
        subject: String,
        message: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    pub event: Event,
    /// The event's instance; for a scheduled run, the InService instance the name
    /// points at (absent when the group has none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// Empty when the zone already said the right thing, or nothing was to be done.
    pub actions: Vec<Action>,
    /// Why nothing was changed, when nothing was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// What a scheduled run found before it acted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub found: Option<Found>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::{ChangeAction, RecordSet, RecordType};
    use serde_json::json;

    #[test]
    fn the_response_keeps_its_field_names() {
        let outcome = Outcome {
            event: Event::Launch,
            instance_id: Some("i-1".into()),
            actions: vec![
                Action::ChangeResourceRecordSets {
                    zone: "Z1".into(),
                    changes: vec![Change {
                        action: ChangeAction::Upsert,
                        record: RecordSet {
                            name: "mc.example.com".into(),
                            kind: RecordType::Aaaa,
                            ttl: 1,
                            values: vec!["2001:db8::7".into()],
                        },
                    }],
                },
                Action::Publish {
                    topic: "arn:aws:sns:us-east-1:123456789012:t".into(),
                    event_type: "launch".into(),
                    subject: "mc is up".into(),
                    message: "mc is up at 203.0.113.7".into(),
                },
            ],
            note: None,
            found: None,
        };
        assert_eq!(
            serde_json::to_value(&outcome).unwrap(),
            json!({
                "event": "launch",
                "instance_id": "i-1",
                "actions": [
                    {"call": "ChangeResourceRecordSets", "zone": "Z1", "changes": [
                        {"action": "UPSERT", "name": "mc.example.com", "type": "AAAA", "ttl": 1,
                         "values": ["2001:db8::7"]}
                    ]},
                    {"call": "Publish", "topic": "arn:aws:sns:us-east-1:123456789012:t",
                     "event_type": "launch", "subject": "mc is up", "message": "mc is up at 203.0.113.7"}
                ]
            })
        );
        let ignored = Outcome {
            event: Event::Ignored,
            instance_id: Some("i-1".into()),
            actions: Vec::new(),
            note: Some("why".into()),
            found: None,
        };
        assert_eq!(
            serde_json::to_value(&ignored).unwrap(),
            json!({"event": "ignored", "instance_id": "i-1", "actions": [], "note": "why"})
        );
    }

    #[test]
    fn a_scheduled_run_says_what_it_found() {
        let run = Outcome {
            event: Event::Reconcile,
            instance_id: None,
            actions: Vec::new(),
            note: Some("nothing to fix".into()),
            found: Some(Found {
                instances: [("i-1".to_string(), "Terminating:Wait".to_string())].into(),
                records: vec![RecordSet {
                    name: "mc.example.com".into(),
                    kind: RecordType::A,
                    ttl: 1,
                    values: vec!["0.0.0.0".into()],
                }],
            }),
        };
        assert_eq!(
            serde_json::to_value(&run).unwrap(),
            json!({
                "event": "reconcile",
                "actions": [],
                "note": "nothing to fix",
                "found": {
                    "instances": {"i-1": "Terminating:Wait"},
                    "records": [{"name": "mc.example.com", "type": "A", "ttl": 1, "values": ["0.0.0.0"]}],
                },
            })
        );
    }
}
