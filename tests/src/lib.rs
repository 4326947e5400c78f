//! Test support for Container Manager: run the functions' real binaries the way
//! Lambda runs them, against a local AWS emulator.
//!
//! | module | what it holds |
//! |---|---|
//! | [`emulator`] | the AWS emulator (moto, a Python child process), its harness calls, creating and reading a container's resources in it |
//! | [`events`] | events as AWS sends them, built from the samples in `events/` |
//! | [`runtime_api`] | a Lambda Runtime API server |
//! | [`function`] | one function process behind its own Runtime API server: [`Function`] |
//! | [`function_url`] | a Lambda Function URL on 127.0.0.1 in front of a [`Function`], for a browser |
//! | [`process`] | starting any child process (killed when dropped) |
//! | [`story`] | the whole lifecycle of one container, which the demo prints and `tests/e2e.rs` checks |
//! | [`fleet`] | many containers under one domain: the domain's stack, a base per region and a stack per container, each container a story's [`story::Deployment`] (`tests/domain.rs`) |
//! | [`presence`] | the presence story: a real Minecraft server's players counted, the idle alarm played, a failed boot stopped (`tests/presence.rs`) |
//! | [`game_servers`] | game servers for the presence probe: flying-squid, mineflayer bots and gamedig from `tests/fixtures/game-servers`, and a status responder in Rust |
//! | [`contract`] | each function's environment variables checked against the docs, template.yaml and events/env.json |
//! | [`http`] | the few lines of HTTP/1.1 the emulator's harness and the Runtime API need |
//!
//! The tests that need the emulator (and so Python) are behind the `emulator`
//! feature: `scripts/test` runs them after the fast tier.

pub mod contract;
pub mod emulator;
pub mod env_json;
pub mod events;
pub mod fleet;
pub mod function;
pub mod function_url;
pub mod game_servers;
pub mod http;
pub mod panel_fixture;
pub mod presence;
pub mod process;
pub mod runtime_api;
pub mod stack;
pub mod story;

use std::path::PathBuf;

pub use emulator::{Emulator, REGION};
pub use function::{assert_built, functions_dir, Function};
pub use runtime_api::{Invocation, Outcome, RuntimeApi};

/// Auto Scaling in the emulator: creating and reading groups, and the sample ASG
/// events.
pub mod asg {
    pub use crate::emulator::{create_group, desired, instances, put_terminate_hook};
    pub use crate::events::asg_sample as sample_event;
}

/// The repository's root folder.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default()
}
