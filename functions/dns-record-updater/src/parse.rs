//! parse: the EventBridge event of the container's Auto Scaling group, checked by
//! [`cm_core::asg_event::parse`] (source, detail-type, group, instance id, and the
//! terminate's lifecycle-action fields), becomes what the DNS updater follows.

use cm_core::asg_event::{self, AsgSignal};
use cm_core::Error;
use serde_json::Value;

use crate::config::Config;

/// What happened to which instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// An instance launched into the group (from EC2 or from its warm pool).
    Launch { instance_id: String },
    /// An instance launched into the group's warm pool: it serves nobody yet.
    WarmPoolLaunch { instance_id: String },
    /// An instance is terminating and waits on the group's lifecycle hook.
    Terminate { instance_id: String },
}

impl Input {
    pub fn instance_id(&self) -> &str {
        match self {
            Input::Launch { instance_id }
            | Input::WarmPoolLaunch { instance_id }
            | Input::Terminate { instance_id } => instance_id,
        }
    }
}

/// Parses an event for the configured group; anything else is
/// [`Error::InvalidEvent`] naming what was wrong.
pub fn parse(event: &Value, config: &Config) -> Result<Input, Error> {
    let parsed = asg_event::parse(event, &config.asg_name)?;
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
    use std::net::Ipv4Addr;

    const INSTANCE: &str = "i-0a1b2c3d4e5f60718";

    fn config() -> Config {
        Config {
            asg_name: "cm-asg-dev-mc".into(),
            hosted_zone_id: "Z1".into(),
            domain_name: "mc.example.com".into(),
            record_type: "A".into(),
            ttl: 1,
            unavailable_ip: Ipv4Addr::UNSPECIFIED,
            sns_topic_arn: None,
            container_name: "mc".into(),
        }
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
        assert_eq!(terminate.instance_id(), INSTANCE);
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
}
