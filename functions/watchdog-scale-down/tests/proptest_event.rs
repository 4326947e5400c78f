//! The watchdog's event parser (and its decision on what parses) on any JSON, and on
//! each real event shape (alarm, alarm through SNS, ECS task state change) with any
//! part changed or removed: it answers (signals or an error), never panics.
//!
//! Bounded: proptest's default 256 cases per property (PROPTEST_CASES overrides);
//! proptest saves a failing case in a regressions file (commit it with the fix) and
//! replays it first from then on.

use cm_core::testing::{arb_json, mutated};
use proptest::prelude::*;
use serde_json::Value;
use watchdog_scale_down::config::Config;
use watchdog_scale_down::decide::{decide, Observed};
use watchdog_scale_down::parse::parse;

fn sample(name: &str) -> Value {
    let path = format!(
        "{}/../../events/watchdog-scale-down/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {path}: {e}"))
}

fn config() -> Config {
    Config {
        asg_name: "cm-asg-dev-mc".into(),
        idle_alarm_name: "cm-alarm-dev-mc-idle".into(),
        left_up_alarm_name: Some("cm-alarm-dev-mc-left-up".into()),
        stop_when_left_up: false,
        ecs_cluster_name: "cm-cluster-dev-mc".into(),
        ecs_service_name: None,
        sns_topic_arn: None,
        container_name: "mc".into(),
        idle_minutes: Some(30),
        left_up_hours: Some(8),
    }
}

/// Parses the event and, when it parses, decides it: each answers, neither panics.
fn answer(event: &Value) {
    if let Ok(input) = parse(event, &config()) {
        let _ = decide(
            &config(),
            &input,
            &Observed {
                desired_capacity: Some(1),
            },
        );
    }
}

proptest! {
    #[test]
    fn any_json_is_answered(event in arb_json()) {
        answer(&event);
    }

    #[test]
    fn a_changed_alarm_is_answered(event in mutated(sample("alarm-idle.json"))) {
        answer(&event);
    }

    #[test]
    fn a_changed_sns_alarm_is_answered(event in mutated(sample("sns-alarm-idle.json"))) {
        answer(&event);
    }

    #[test]
    fn a_changed_task_event_is_answered(event in mutated(sample("ecs-task-crashed.json"))) {
        answer(&event);
    }
}
