#![cfg(feature = "emulator")]
//! The whole lifecycle, end to end, on template.yaml as deployed by the emulator's
//! CloudFormation: the four functions as their real binaries behind Lambda Runtime
//! API servers, each with the environment of its deployed Lambda configuration, fed
//! the events AWS would send, built from the emulator's state and delivered where the
//! deployed query log subscription, rules and alarms deliver them, with the state
//! checked after every step (the story in `cm_testkit::story`, which `./scripts/demo`
//! also plays). Once on a Component=all stack in us-east-1, once on the domain's
//! Component=domain stack in us-east-1 with Component=base and Component=container in
//! eu-west-1 (the router finds the container in the domain's registry; the container
//! takes the base's VPC and cluster). The container part is deployed with a
//! `WebhookUrlsParameter` (`Story::setup_demo`): the notifier gets every message of the
//! container's topic and posts it to a local webhook, in Discord's format; the domain
//! part with a `StartTokenParameter`: the control panel's `GET /status` shows the
//! container up, then asleep. Many containers at once: `tests/domain.rs`.
//!
//! Needs the function binaries (`cargo build --workspace --bins`, which
//! `./scripts/test` does first) and the SAM translator (`scripts/setup-tools`).

use cm_testkit::assert_built;
use cm_testkit::story::{Layout, Story, Timeline, CONTROL_PANEL, FUNCTIONS, NOTIFIER};

async fn the_story_holds(layout: Layout) {
    assert_built(FUNCTIONS.into_iter().chain([NOTIFIER, CONTROL_PANEL]));
    let timeline = Timeline::default();
    let story = Story::setup_demo(&layout, timeline.on_step(Some(format!("{layout:?}"))))
        .await
        .unwrap_or_else(|e| panic!("deploying template.yaml ({layout:?}): {e}"));
    let report = story.play().await;
    let timeline = timeline.text();
    assert!(
        report.failures().is_empty(),
        "steps whose effect is missing (logs in {}):\n{timeline}",
        report.log_dir.display()
    );
    // Every stage of the story ran: start, launch followed, console edits, idle stop,
    // terminate followed, restart, crash stop.
    let functions: Vec<&str> = report.steps.iter().map(|s| s.function.as_str()).collect();
    for (function, times) in [
        ("cloudformation", 1),
        ("dns-query-trigger", 2),
        ("asg-ecs-sync", 6),
        ("dns-record-updater", 6),
        ("watchdog-scale-down", 2),
        ("console", 2),
        // Every message of the topic (3 up, 3 shutting down, idle, crashed), through
        // the deployed subscription to the webhook.
        ("notifier", 8),
        // The control panel's GET /status once up and once asleep again (the domain
        // part is deployed with a StartTokenParameter).
        ("control-panel", 2),
    ] {
        assert_eq!(
            functions.iter().filter(|f| **f == function).count(),
            times,
            "{function} in:\n{timeline}"
        );
    }
    assert_eq!(report.steps.len(), 32, "{timeline}");
    assert_eq!(
        report.calls.get("autoscaling:CompleteLifecycleAction"),
        Some(&3),
        "{:?}",
        report.calls
    );
    // The group's size was written by the two lookups and the two stops only (the
    // scale-ins' task events reached the watchdog, which ignored them).
    assert_eq!(
        report.calls.get("autoscaling:UpdateAutoScalingGroup"),
        Some(&4),
        "two starts by the router, two stops by the watchdog: {:?}",
        report.calls
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_lifecycle_on_a_component_all_stack() {
    the_story_holds(Layout::All).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_lifecycle_with_the_domain_in_us_east_1_and_the_container_in_eu_west_1() {
    the_story_holds(Layout::TwoRegions {
        container_region: "eu-west-1".into(),
    })
    .await;
}
