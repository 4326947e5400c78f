//! The ASG event parser on any JSON, and on real events with any part changed or
//! removed: it answers (an event or an error), never panics, and an accepted event is
//! always for the expected group and a real instance id.
//!
//! Bounded: proptest's default 256 cases per property (PROPTEST_CASES overrides);
//! proptest saves a failing case in a regressions file (commit it with the fix) and
//! replays it first from then on.

use cm_core::asg_event::{parse, AsgSignal};
use cm_core::testing::{arb_json, mutated};
use proptest::prelude::*;
use serde_json::Value;

fn sample(name: &str) -> Value {
    let path = format!("{}/../../events/asg/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {path}: {e}"))
}

fn group_of(event: &Value) -> String {
    event["detail"]["AutoScalingGroupName"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn check(event: &Value, group: &str) {
    if let Ok(parsed) = parse(event, group) {
        assert_eq!(parsed.group, group);
        assert!(parsed.instance_id().starts_with("i-"));
        if let AsgSignal::Terminate(action) = &parsed.signal {
            assert!(!action.token.trim().is_empty() && !action.hook_name.trim().is_empty());
        }
    }
}

proptest! {
    #[test]
    fn any_json_is_answered(event in arb_json()) {
        check(&event, "cm-asg-dev-mc");
    }

    #[test]
    fn a_changed_launch_is_answered(event in mutated(sample("launch-successful.json"))) {
        let group = group_of(&sample("launch-successful.json"));
        check(&event, &group);
    }

    #[test]
    fn a_changed_terminate_is_answered(event in mutated(sample("terminate-lifecycle-action.json"))) {
        let group = group_of(&sample("terminate-lifecycle-action.json"));
        check(&event, &group);
    }
}

#[test]
fn the_samples_themselves_parse() {
    for name in ["launch-successful.json", "terminate-lifecycle-action.json"] {
        let event = sample(name);
        assert!(parse(&event, &group_of(&event)).is_ok(), "{name}");
    }
}
