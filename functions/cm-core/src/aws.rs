//! AWS SDK configuration from the standard environment.
//!
//! `aws_config` reads `AWS_REGION`, credentials, and `AWS_ENDPOINT_URL` (and the
//! per-service `AWS_ENDPOINT_URL_<SERVICE>`), which is how the functions reach the
//! local emulator in tests and the demo. Retries are explicit: the SDK's standard
//! mode (exponential backoff with jitter, throttling and 5xx errors retried), with
//! `AWS_MAX_ATTEMPTS` honoured, 3 attempts when unset.
//!
//! The HTTP client is built here, not by the SDK's default features: hyper with
//! rustls on the `ring` crypto provider. The default (rustls on aws-lc-rs) compiles
//! a large C library and adds about a megabyte to each bootstrap; the SDK crates are
//! therefore used with `default-features = false` throughout the workspace.

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use aws_smithy_http_client::Builder as HttpClientBuilder;
use aws_smithy_runtime_api::client::http::SharedHttpClient;

/// Attempts per AWS call, first one included, unless `AWS_MAX_ATTEMPTS` says otherwise.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;

/// The HTTPS client every SDK client of the project uses (rustls + ring, native roots).
pub fn http_client() -> SharedHttpClient {
    HttpClientBuilder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

pub async fn load_sdk_config() -> SdkConfig {
    let attempts = std::env::var("AWS_MAX_ATTEMPTS")
        .ok()
        .and_then(|v| v.trim().parse::<u32>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(DEFAULT_MAX_ATTEMPTS);
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client())
        .retry_config(RetryConfig::standard().with_max_attempts(attempts))
        .load()
        .await
}
