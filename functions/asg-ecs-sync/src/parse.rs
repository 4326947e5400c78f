//! The event: one of the two EventBridge events of the container's Auto Scaling group,
//! read and checked by [`cm_core::asg_event::parse`] (source, detail-type, this group,
//! every field the sync needs), or a tick of the sync's EventBridge schedule
//! (`"source": "aws.events"`, `"detail-type": "Scheduled Event"`), which asks for a
//! scheduled run: converge on the group as it is.

use cm_core::asg_event::{self, AsgEvent, GroupOrSchedule};
use cm_core::Error;
use serde_json::Value;

use crate::config::Config;

/// A tick of the schedule; it carries nothing the run needs beyond being one.
pub use cm_core::asg_event::Schedule;

/// What the sync was invoked with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A checked launch or terminate of an instance of the configured group.
    Group(AsgEvent),
    /// A scheduled run: the service and the pending lifecycle actions follow the
    /// group as it is, whatever events were missed.
    Reconcile(Schedule),
}

/// Reads `event`; an [`Error::InvalidEvent`] names what was wrong.
pub fn parse(event: &Value, config: &Config) -> Result<Input, Error> {
    match asg_event::parse_or_schedule(event, &config.asg_name)? {
        GroupOrSchedule::Group(event) => Ok(Input::Group(event)),
        GroupOrSchedule::Schedule(tick) => Ok(Input::Reconcile(tick)),
    }
}

#[cfg(test)]
mod tests {
    use cm_core::asg_event::{AsgSignal, LifecycleAction};
    use cm_testkit::env_json::function_env;
    use serde_json::json;

    use super::*;

    /// The configuration of the sample events' group (events/env.json).
    fn config() -> Config {
        Config::from_env(function_env("AsgEcsSyncFunction", &[])).unwrap()
    }

    fn group_event(input: Input) -> AsgEvent {
        match input {
            Input::Group(event) => event,
            other => panic!("a group event: {other:?}"),
        }
    }

    fn sample(name: &str) -> Value {
        cm_testkit::events::sample(&format!("asg/{name}"))
    }

    #[test]
    fn the_sample_launches_are_launches_and_only_the_warm_pool_one_is_not_into_service() {
        for (name, into_service) in [
            ("launch-successful.json", true),
            ("launch-from-warm-pool.json", true),
            ("launch-into-warm-pool.json", false),
        ] {
            let input = group_event(parse(&sample(name), &config()).unwrap());
            assert_eq!(input.group, "cm-asg-dev-mc");
            assert_eq!(
                input.signal,
                AsgSignal::Launch {
                    instance_id: "i-0a1b2c3d4e5f60718".into(),
                    into_service
                },
                "{name}"
            );
        }
    }

    #[test]
    fn the_sample_terminate_carries_its_hook_token_and_instance() {
        let input =
            group_event(parse(&sample("terminate-lifecycle-action.json"), &config()).unwrap());
        assert_eq!(
            input.signal,
            AsgSignal::Terminate(LifecycleAction {
                hook_name: "cm-hook-dev-mc-drain".into(),
                token: "71514b9d-6a40-4b26-8523-05e7eEXAMPLE".into(),
                instance_id: "i-0a1b2c3d4e5f60718".into(),
            })
        );
    }

    #[test]
    fn an_event_of_another_group_is_refused_naming_both_groups() {
        let other = Config {
            asg_name: "cm-asg-prod-mc".into(),
            ..config()
        };
        let err = parse(&sample("launch-successful.json"), &other).unwrap_err();
        assert_eq!(err.kind(), "InvalidEvent");
        assert!(
            err.to_string()
                .contains("group \"cm-asg-dev-mc\", not \"cm-asg-prod-mc\""),
            "{err}"
        );
    }

    #[test]
    fn a_terminate_without_its_hook_or_token_is_refused_naming_the_field() {
        for field in ["LifecycleHookName", "LifecycleActionToken"] {
            let mut event = sample("terminate-lifecycle-action.json");
            event["detail"].as_object_mut().unwrap().remove(field);
            let err = parse(&event, &config()).unwrap_err();
            assert!(
                err.to_string()
                    .contains(&format!("detail.{field} is missing")),
                "{err}"
            );
        }
    }

    #[test]
    fn the_sample_schedule_tick_asks_for_a_scheduled_run() {
        assert_eq!(
            parse(&sample("scheduled-event.json"), &config()).unwrap(),
            Input::Reconcile(Schedule {
                rule: Some(
                    "arn:aws:events:us-east-1:123456789012:rule/cm-dev-mc-AsgEcsSyncFunctionReconcileSchedule-1A2B3C4D5E6F"
                        .into()
                ),
            })
        );
        let bare = json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
        assert_eq!(
            parse(&bare, &config()).unwrap(),
            Input::Reconcile(Schedule::default())
        );
    }

    #[test]
    fn another_event_of_aws_events_is_refused_naming_its_detail_type() {
        let mut other = sample("scheduled-event.json");
        other["detail-type"] = "Object Created".into();
        let err = parse(&other, &config()).unwrap_err();
        assert_eq!(err.kind(), "InvalidEvent");
        assert!(
            err.to_string()
                .contains("detail-type \"Object Created\" from aws.events"),
            "{err}"
        );
        let no_detail_type = json!({"source": "aws.events", "detail": {}});
        let err = parse(&no_detail_type, &config()).unwrap_err();
        assert!(
            err.to_string()
                .contains("not an EventBridge scheduled event"),
            "{err}"
        );
    }
}
