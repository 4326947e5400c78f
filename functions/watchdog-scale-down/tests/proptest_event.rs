//! The watchdog's event parser on any JSON, and on each real event shape (alarm,
//! alarm through SNS, ECS task state change) with any part changed or removed: it
//! answers (signals or an error), never panics.
//!
//! Bounded: proptest's default 256 cases per property (PROPTEST_CASES overrides);
//! proptest saves a failing case in a regressions file (commit it with the fix) and
//! replays it first from then on.

use cm_core::testing::{arb_json, mutated};
use proptest::prelude::*;
use serde_json::Value;
use watchdog_scale_down::event::parse;

fn sample(name: &str) -> Value {
    let path = format!(
        "{}/../../events/watchdog-scale-down/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {path}: {e}"))
}

proptest! {
    #[test]
    fn any_json_is_answered(event in arb_json()) {
        let _ = parse(&event);
    }

    #[test]
    fn a_changed_alarm_is_answered(event in mutated(sample("alarm-idle.json"))) {
        let _ = parse(&event);
    }

    #[test]
    fn a_changed_sns_alarm_is_answered(event in mutated(sample("sns-alarm-idle.json"))) {
        let _ = parse(&event);
    }

    #[test]
    fn a_changed_task_event_is_answered(event in mutated(sample("ecs-task-crashed.json"))) {
        let _ = parse(&event);
    }
}
