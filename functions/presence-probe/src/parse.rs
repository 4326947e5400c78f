//! parse: the EventBridge schedule's event (`"detail-type": "Scheduled Event"`,
//! `"source": "aws.events"`, read with `aws_lambda_events`' `EventBridgeEvent`). The
//! event carries nothing the probe needs beyond being one; anything else is refused
//! before any call.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use cm_core::Error;
use serde::Deserialize;
use serde_json::Value;

pub const SCHEDULED_EVENT: &str = "Scheduled Event";
pub const EVENTS_SOURCE: &str = "aws.events";

/// One tick of the schedule.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Input {
    /// The rule's ARN (`resources[0]`), when given.
    pub rule: Option<String>,
    /// The event's time (RFC 3339), when given.
    pub time: Option<String>,
    /// The event's time in seconds since the Unix epoch, when given.
    pub at: Option<i64>,
}

pub fn parse(event: &Value) -> Result<Input, Error> {
    let event = EventBridgeEvent::<Value>::deserialize(event).map_err(|e| {
        Error::invalid_event(format!(
            "not an EventBridge scheduled event ({e}); the probe runs on an EventBridge schedule"
        ))
    })?;
    if event.detail_type != SCHEDULED_EVENT {
        return Err(Error::invalid_event(format!(
            "detail-type is {:?}, expected {SCHEDULED_EVENT:?}",
            event.detail_type
        )));
    }
    if event.source != EVENTS_SOURCE {
        return Err(Error::invalid_event(format!(
            "source is {:?}, expected {EVENTS_SOURCE:?}",
            event.source
        )));
    }
    Ok(Input {
        rule: event.resources.and_then(|r| r.into_iter().next()),
        at: event.time.map(|t| t.timestamp()),
        time: event.time.map(|t| t.to_rfc3339()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_sample_schedule_event() {
        let event: Value =
            serde_json::from_str(include_str!("../../../events/presence-probe/schedule.json"))
                .unwrap();
        let input = parse(&event).unwrap();
        assert_eq!(
            input.rule.as_deref(),
            Some("arn:aws:events:us-east-1:123456789012:rule/cm-presence-dev-mc")
        );
        assert_eq!(input.time.as_deref(), Some("2026-11-23T20:00:00+00:00"));
        assert_eq!(input.at, Some(1_795_464_000));
    }

    #[test]
    fn the_minimal_schedule_event_is_enough() {
        let input =
            parse(&json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}))
                .unwrap();
        assert_eq!(input, Input::default());
    }

    #[test]
    fn other_events_are_refused_by_field() {
        for (event, expected) in [
            (json!({}), "not an EventBridge scheduled event"),
            (json!("tick"), "not an EventBridge scheduled event"),
            (
                json!({"detail-type": "EC2 Instance Launch Successful", "source": "aws.autoscaling", "detail": {}}),
                "detail-type is \"EC2 Instance Launch Successful\"",
            ),
            (
                json!({"detail-type": "Scheduled Event", "source": "my.app", "detail": {}}),
                "source is \"my.app\"",
            ),
            (
                json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}, "time": "yesterday"}),
                "not an EventBridge scheduled event",
            ),
        ] {
            let err = parse(&event).unwrap_err();
            assert_eq!(err.kind(), "InvalidEvent");
            assert!(err.to_string().contains(expected), "{expected}: {err}");
        }
    }
}
