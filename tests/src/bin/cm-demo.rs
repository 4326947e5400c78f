//! The offline demo: Container Manager's whole lifecycle on template.yaml deployed
//! into the local AWS emulator's CloudFormation, each function as its real binary
//! behind a Lambda Runtime API server with its deployed configuration (see
//! `cm_testkit::story`). Prints a timeline and a summary; exits non-zero if any
//! step's effect is missing. The stack is deployed with the control panel and the
//! notifier (`Story::setup_demo`): the panel's `GET /status` is shown once the
//! container is up and once it is asleep, and every message of the container's topic
//! reaches a local webhook, in Discord's format.
//!
//! Run it with `./scripts/demo` (which builds the binaries first).

use cm_testkit::functions_dir;
use cm_testkit::story::{Layout, Step, Story, CONTAINER, DOMAIN};

fn print_step(step: &Step) {
    let mark = if step.ok { "ok  " } else { "FAIL" };
    println!(
        "{mark} +{:>6.2}s  {:<20} {:<58} {}",
        step.elapsed.as_secs_f64(),
        step.function,
        step.what,
        step.change
    );
}

#[tokio::main]
async fn main() {
    println!(
        "Container Manager demo: container {CONTAINER:?} at {DOMAIN}, template.yaml deployed \
         on the local AWS emulator"
    );
    println!("functions: {}\n", functions_dir().display());
    let story = match Story::setup_demo(&Layout::All, Box::new(print_step)).await {
        Ok(story) => story,
        Err(e) => {
            eprintln!("deploying template.yaml into the emulator failed: {e}");
            std::process::exit(1);
        }
    };
    let report = story.play().await;
    let mut calls: Vec<String> = report
        .calls
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    calls.sort();
    let failures = report.failures();
    println!(
        "\n{} steps, {} failed, {:.2}s",
        report.steps.len(),
        failures.len(),
        report
            .steps
            .last()
            .map(|s| s.elapsed.as_secs_f64())
            .unwrap_or(0.0)
    );
    println!(
        "AWS calls seen by the emulator after the deploy: {}",
        calls.join(", ")
    );
    println!("function logs: {}", report.log_dir.display());
    if !failures.is_empty() {
        for f in failures {
            eprintln!("missing effect: {} — {}", f.function, f.what);
        }
        std::process::exit(1);
    }
}
