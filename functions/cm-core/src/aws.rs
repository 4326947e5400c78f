//! AWS SDK configuration from the standard environment.
//!
//! `aws_config` reads `AWS_REGION`, credentials, and `AWS_ENDPOINT_URL` (and the
//! per-service `AWS_ENDPOINT_URL_<SERVICE>`), which is how the functions reach the
//! local emulator in tests and the demo. Retries are explicit: the SDK's standard
//! mode (exponential backoff with jitter, throttling and 5xx errors retried), with
//! `AWS_MAX_ATTEMPTS` honoured, 3 attempts when unset.

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, SdkConfig};

/// Attempts per AWS call, first one included, unless `AWS_MAX_ATTEMPTS` says otherwise.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;

pub async fn load_sdk_config() -> SdkConfig {
    let attempts = std::env::var("AWS_MAX_ATTEMPTS")
        .ok()
        .and_then(|v| v.trim().parse::<u32>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(DEFAULT_MAX_ATTEMPTS);
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(attempts))
        .load()
        .await
}
