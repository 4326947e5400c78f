#![cfg(feature = "emulator")]
//! The presence story, end to end (`cm_testkit::presence`): a real Minecraft Java
//! server (flying-squid) and a real client (a mineflayer bot), template.yaml deployed
//! into the local AWS emulator's CloudFormation with `GameProtocol=minecraft-java`,
//! the presence probe and the watchdog as their real binaries behind Lambda Runtime
//! API servers with their deployed configuration, the deployed schedule's ticks and
//! the deployed idle alarm's evaluation played explicitly. A bot joins -> Players 1
//! -> it leaves -> Players 0 for the idle window -> the alarm -> the watchdog stops
//! the server; a server that never answers within its boot grace is stopped with a
//! notice.
//!
//! Needs the function binaries (`cargo build --workspace --bins`, which
//! `./scripts/test` does first), the SAM translator (`scripts/setup-tools`), Node 20
//! and npm (the fixtures are installed from
//! `tests/fixtures/game-servers/package-lock.json` on first use).

use cm_testkit::assert_built;
use cm_testkit::presence::PresenceStory;
use cm_testkit::story::{Timeline, PRESENCE_PROBE};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn players_counted_idle_stopped_and_a_failed_boot_stopped_with_a_notice() {
    assert_built([PRESENCE_PROBE, "watchdog-scale-down"]);
    let timeline = Timeline::default();
    let story = PresenceStory::setup(timeline.on_step(None))
        .await
        .unwrap_or_else(|e| panic!("deploying template.yaml: {e}"));
    let report = story.play().await;
    let timeline = timeline.text();
    assert!(
        report.failures().is_empty(),
        "steps whose effect is missing (logs in {}):\n{timeline}",
        report.log_dir.display()
    );
    // Every stage ran: at 0, playable, a bot in and out, the idle window, the alarm,
    // the watchdog's stop, the failed boot's grace, its stop, and quiet afterwards.
    let count = |function: &str| {
        report
            .steps
            .iter()
            .filter(|s| s.function == function)
            .count()
    };
    assert_eq!(count(PRESENCE_PROBE), 9, "{timeline}");
    assert_eq!(count("watchdog-scale-down"), 1, "{timeline}");
    assert_eq!(count("cloudwatch (played)"), 1, "{timeline}");
    assert_eq!(count("console"), 2, "{timeline}");
    // Two starts (the owner's) and two stops (the watchdog's, the failed boot's);
    // three messages (playable, idle, boot failed); one first-answer tag.
    for (operation, times) in [
        ("autoscaling:UpdateAutoScalingGroup", 4),
        ("sns:Publish", 3),
        ("ec2:CreateTags", 1),
    ] {
        assert_eq!(
            report.calls.get(operation),
            Some(&times),
            "{operation}: {:?}",
            report.calls
        );
    }
}
