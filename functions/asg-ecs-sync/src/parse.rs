//! The event: one of the two EventBridge events of the container's Auto Scaling group,
//! read and checked by [`cm_core::asg_event::parse`] (source, detail-type, this group,
//! every field the sync needs).

use serde_json::Value;

use crate::config::Config;

/// A checked launch or terminate of an instance of the configured group.
pub type Input = cm_core::asg_event::AsgEvent;

/// Reads `event`; an [`cm_core::Error::InvalidEvent`] names what was wrong.
pub fn parse(event: &Value, config: &Config) -> Result<Input, cm_core::Error> {
    cm_core::asg_event::parse(event, &config.asg_name)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use cm_core::asg_event::{AsgSignal, LifecycleAction};

    use super::*;

    fn config() -> Config {
        Config {
            asg_name: "cm-asg-dev-mc".into(),
            cluster: "cm-cluster-dev-mc".into(),
            service: "cm-service-dev-mc".into(),
            drain_timeout: Duration::from_secs(300),
            drain_poll: Duration::from_secs(5),
        }
    }

    fn sample(name: &str) -> Value {
        let path = format!("{}/../../events/asg/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn the_sample_launches_are_launches_and_only_the_warm_pool_one_is_not_into_service() {
        for (name, into_service) in [
            ("launch-successful.json", true),
            ("launch-from-warm-pool.json", true),
            ("launch-into-warm-pool.json", false),
        ] {
            let input = parse(&sample(name), &config()).unwrap();
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
        let input = parse(&sample("terminate-lifecycle-action.json"), &config()).unwrap();
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
}
