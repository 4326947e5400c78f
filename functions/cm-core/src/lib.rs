//! What every Container Manager function needs: configuration read from environment
//! variables (all problems reported at once), AWS client setup from the standard
//! environment, one error type, and JSON logs through `tracing`.

pub mod asg_event;
pub mod autoscaling;
pub mod aws;
pub mod config;
pub mod error;
pub mod fake;
#[cfg(feature = "http")]
pub mod http;
pub mod logging;
pub mod registry;
pub mod runtime;
#[cfg(feature = "sns")]
pub mod sns;
#[cfg(any(test, feature = "proptest"))]
pub mod testing;

pub use config::{ConfigError, Env, EnvVar};
pub use error::Error;
