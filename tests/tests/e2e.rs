#![cfg(feature = "emulator")]
//! The whole lifecycle, end to end: the four functions as their real binaries behind
//! Lambda Runtime API servers, fed the events AWS would send, built from the
//! emulator's state, with the emulator's state checked after every step (the story in
//! `cm_testkit::story`, which `./scripts/demo` also plays).
//!
//! Needs the function binaries (`cargo build --workspace --bins`, which
//! `./scripts/test` does first).

use std::sync::{Arc, Mutex};

use cm_testkit::functions_dir;
use cm_testkit::story::{Step, Story, FUNCTIONS};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_lifecycle_through_the_real_binaries() {
    for name in FUNCTIONS {
        let path = functions_dir().join(name);
        assert!(
            path.exists(),
            "{} is missing: run `cargo build --workspace --bins` first",
            path.display()
        );
    }
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = seen.clone();
    let story = Story::setup(Box::new(move |s: &Step| {
        let line = format!(
            "{} {:>7.2}s {} | {} | {}",
            if s.ok { "ok  " } else { "FAIL" },
            s.elapsed.as_secs_f64(),
            s.function,
            s.what,
            s.change
        );
        eprintln!("{line}");
        log.lock().expect("timeline").push(line);
    }))
    .await
    .expect("the container's resources");
    let report = story.play().await;
    let timeline = seen.lock().expect("timeline").join("\n");
    assert!(
        report.failures().is_empty(),
        "steps whose effect is missing:\n{timeline}"
    );
    // Every stage of the story ran: start, launch followed, console edits, idle stop,
    // terminate followed, restart, crash stop.
    let functions: Vec<&str> = report.steps.iter().map(|s| s.function.as_str()).collect();
    for (function, times) in [
        ("dns-query-trigger", 2),
        ("asg-ecs-sync", 6),
        ("dns-record-updater", 6),
        ("watchdog-scale-down", 2),
        ("console", 2),
    ] {
        assert_eq!(
            functions.iter().filter(|f| **f == function).count(),
            times,
            "{function} in:\n{timeline}"
        );
    }
    assert_eq!(
        report.calls.get("autoscaling:CompleteLifecycleAction"),
        Some(&3),
        "{:?}",
        report.calls
    );
}
