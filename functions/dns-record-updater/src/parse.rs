//! parse: the EventBridge event of the container's Auto Scaling group, checked by
//! [`cm_core::asg_event::parse`] (source, detail-type, group, instance id, and the
//! terminate's lifecycle-action fields), becomes what the DNS updater follows; a tick
//! of the updater's EventBridge schedule (`"source": "aws.events"`, `"detail-type":
//! "Scheduled Event"`) asks for a scheduled run.

use cm_core::asg_event::{self, AsgSignal, GroupOrSchedule, Schedule};
use cm_core::Error;
use serde_json::Value;

use crate::config::Config;

/// What happened to which instance, or a tick of the schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// An instance launched into the group (from EC2 or from its warm pool).
    Launch { instance_id: String },
    /// An instance launched into the group's warm pool: it serves nobody yet.
    WarmPoolLaunch { instance_id: String },
    /// An instance is terminating and waits on the group's lifecycle hook.
    Terminate { instance_id: String },
    /// A scheduled run: the records follow the group as it is, whatever events were
    /// missed. `rule` is the schedule's rule ARN (`resources[0]`), when given.
    Reconcile { rule: Option<String> },
}

impl Input {
    /// The event's instance; none for a scheduled run.
    pub fn instance_id(&self) -> Option<&str> {
        match self {
            Input::Launch { instance_id }
            | Input::WarmPoolLaunch { instance_id }
            | Input::Terminate { instance_id } => Some(instance_id),
            Input::Reconcile { .. } => None,
        }
    }
}

/// Parses an event for the configured group, or a tick of the schedule; anything
/// else is [`Error::InvalidEvent`] naming what was wrong.
pub fn parse(event: &Value, config: &Config) -> Result<Input, Error> {
    let parsed = match asg_event::parse_or_schedule(event, &config.asg_name)? {
        GroupOrSchedule::Group(parsed) => parsed,
        GroupOrSchedule::Schedule(Schedule { rule }) => return Ok(Input::Reconcile { rule }),
    };
    Ok(match parsed.signal {
        AsgSignal::Launch {
            instance_id,
            into_service: true,
        } => Input::Launch { instance_id },
        AsgSignal::Launch {
            instance_id,
            into_service: false,
        } => Input::WarmPoolLaunch { instance_id },
        AsgSignal::Terminate(action) => Input::Terminate {
            instance_id: action.instance_id,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cm_testkit::env_json::function_env;

    const INSTANCE: &str = "i-0a1b2c3d4e5f60718";

    /// The configuration of the sample events' group (events/env.json).
    fn config() -> Config {
        Config::from_env(function_env("DnsRecordUpdaterFunction", &[])).unwrap()
    }

    fn sample(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    fn parsed(text: &str) -> Result<Input, Error> {
        parse(&sample(text), &config())
    }

    #[test]
    fn the_sample_events_parse_into_what_they_mean() {
        let launch = |instance_id: &str| Input::Launch {
            instance_id: instance_id.into(),
        };
        assert_eq!(
            parsed(include_str!("../../../events/asg/launch-successful.json")).unwrap(),
            launch(INSTANCE)
        );
        assert_eq!(
            parsed(include_str!(
                "../../../events/asg/launch-from-warm-pool.json"
            ))
            .unwrap(),
            launch(INSTANCE)
        );
        assert_eq!(
            parsed(include_str!(
                "../../../events/asg/launch-into-warm-pool.json"
            ))
            .unwrap(),
            Input::WarmPoolLaunch {
                instance_id: INSTANCE.into()
            }
        );
        let terminate = parsed(include_str!(
            "../../../events/asg/terminate-lifecycle-action.json"
        ))
        .unwrap();
        assert_eq!(
            terminate,
            Input::Terminate {
                instance_id: INSTANCE.into()
            }
        );
        assert_eq!(terminate.instance_id(), Some(INSTANCE));
    }

    #[test]
    fn an_event_of_another_group_is_invalid() {
        let mut event = sample(include_str!("../../../events/asg/launch-successful.json"));
        event["detail"]["AutoScalingGroupName"] = "someone-elses-asg".into();
        let err = parse(&event, &config()).unwrap_err();
        assert!(matches!(err, Error::InvalidEvent(_)), "{err:?}");
        assert!(err.to_string().contains("not \"cm-asg-dev-mc\""), "{err}");
    }

    #[test]
    fn a_terminate_without_its_token_is_invalid() {
        let mut event = sample(include_str!(
            "../../../events/asg/terminate-lifecycle-action.json"
        ));
        if let Some(detail) = event["detail"].as_object_mut() {
            detail.remove("LifecycleActionToken");
        }
        let err = parse(&event, &config()).unwrap_err();
        assert!(matches!(err, Error::InvalidEvent(_)), "{err:?}");
        assert!(err.to_string().contains("LifecycleActionToken"), "{err}");
    }

    #[test]
    fn something_that_is_not_an_asg_event_is_invalid() {
        for event in [
            serde_json::json!(["a", "list"]),
            serde_json::json!({"Records": [{"EventSource": "aws:sns"}]}),
        ] {
            let err = parse(&event, &config()).unwrap_err();
            assert!(matches!(err, Error::InvalidEvent(_)), "{event}: {err:?}");
        }
    }

    #[test]
    fn the_sample_schedule_tick_asks_for_a_scheduled_run() {
        let input = parsed(include_str!("../../../events/asg/scheduled-event.json")).unwrap();
        assert!(
            matches!(&input, Input::Reconcile { rule: Some(rule) } if rule.starts_with("arn:aws:events:")),
            "{input:?}"
        );
        assert_eq!(input.instance_id(), None);
        let bare = serde_json::json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
        assert_eq!(
            parse(&bare, &config()).unwrap(),
            Input::Reconcile { rule: None }
        );
    }

    #[test]
    fn another_event_of_aws_events_is_invalid_naming_its_detail_type() {
        let mut event = sample(include_str!("../../../events/asg/scheduled-event.json"));
        event["detail-type"] = "Object Created".into();
        let err = parse(&event, &config()).unwrap_err();
        assert!(matches!(err, Error::InvalidEvent(_)), "{err:?}");
        assert!(
            err.to_string().contains(
                "detail-type \"Object Created\" from aws.events: expected \"Scheduled Event\""
            ),
            "{err}"
        );
    }
}
