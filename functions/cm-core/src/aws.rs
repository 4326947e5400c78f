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
//!
//! A blank `AWS_ENDPOINT_URL` means AWS itself, as if it were unset: the template sets
//! the variable from its `LocalEndpointUrl` parameter, empty unless the functions run
//! under `sam local` against an emulator, and the SDK would otherwise take "" as the
//! endpoint (a warning at start-up, then a panic at the first call).
//!
//! A function that acts in several regions (each container's, from the domain's
//! registry) keeps one client of a kind per region in a [`PerRegion`].

use std::collections::HashMap;
use std::sync::Mutex;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, ConfigLoader, Region, SdkConfig};
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
    let loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client())
        .retry_config(RetryConfig::standard().with_max_attempts(attempts));
    load(
        loader,
        is_blank(std::env::var("AWS_ENDPOINT_URL").ok().as_deref()),
    )
    .await
}

/// Whether the variable is set but blank.
fn is_blank(value: Option<&str>) -> bool {
    value.is_some_and(|v| v.trim().is_empty())
}

/// Loads the configuration. With a blank `AWS_ENDPOINT_URL`, an endpoint is given to
/// the loader, which then reads none from the environment, and taken out again: the
/// endpoint stays marked as set in code, so each client resolves AWS's own endpoint
/// instead of reading the blank variable.
async fn load(loader: ConfigLoader, blank_endpoint_url: bool) -> SdkConfig {
    if !blank_endpoint_url {
        return loader.load().await;
    }
    let mut config = loader
        .endpoint_url("http://aws-endpoint-url-is-blank.invalid")
        .load()
        .await
        .into_builder();
    config.set_endpoint_url(None);
    config.build()
}

/// One SDK client of a kind per region, built from the one SDK configuration (the
/// region replaced) the first time its region is asked for, and kept for the warm
/// process. Generic over the client, so a function builds only the SDK crates it
/// uses: `PerRegion::new(&sdk, aws_sdk_autoscaling::Client::new)`.
#[derive(Debug)]
pub struct PerRegion<C> {
    sdk: SdkConfig,
    make: fn(&SdkConfig) -> C,
    clients: Mutex<HashMap<String, C>>,
}

impl<C: Clone> PerRegion<C> {
    /// Clients made by `make` (a client's `new`) from `sdk` in each region.
    pub fn new(sdk: &SdkConfig, make: fn(&SdkConfig) -> C) -> Self {
        PerRegion {
            sdk: sdk.clone(),
            make,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// The client of `region`, built the first time it is asked for.
    pub fn client(&self, region: &str) -> C {
        crate::fake::lock(&self.clients)
            .entry(region.to_string())
            .or_insert_with(|| {
                let sdk = self
                    .sdk
                    .to_builder()
                    .region(Region::new(region.to_string()))
                    .build();
                (self.make)(&sdk)
            })
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_config::Region;

    #[test]
    fn only_a_set_and_blank_variable_is_blank() {
        assert!(is_blank(Some("")));
        assert!(is_blank(Some("  ")));
        assert!(!is_blank(None));
        assert!(!is_blank(Some("http://172.17.0.1:4566")));
    }

    #[tokio::test]
    async fn a_blank_endpoint_url_leaves_each_client_to_aws_own_endpoint() {
        let loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http_client())
            .region(Region::new("us-east-1"));
        let config = load(loader, true).await;
        assert_eq!(config.endpoint_url(), None);
        // Clients take an endpoint set in code as it is (none: AWS's) and read no
        // AWS_ENDPOINT_URL from the environment.
        assert!(config.get_origin("endpoint_url").is_client_config());
    }

    #[test]
    fn a_region_s_client_is_built_once_in_that_region_from_the_one_configuration() {
        use std::sync::atomic::{AtomicUsize, Ordering};

        let sdk = SdkConfig::builder()
            .region(Region::new("us-east-1"))
            .endpoint_url("http://127.0.0.1:1")
            .build();
        static BUILT: AtomicUsize = AtomicUsize::new(0);
        // A "client" that shows what it was built from.
        let clients = PerRegion::new(&sdk, |sdk| {
            BUILT.fetch_add(1, Ordering::SeqCst);
            (
                sdk.region().map(|r| r.to_string()),
                sdk.endpoint_url().map(str::to_string),
            )
        });
        let eu = clients.client("eu-west-1");
        assert_eq!(
            eu,
            (
                Some("eu-west-1".to_string()),
                Some("http://127.0.0.1:1".to_string())
            )
        );
        assert_eq!(clients.client("eu-west-1"), eu);
        assert_eq!(clients.client("us-east-1").0.as_deref(), Some("us-east-1"));
        assert_eq!(BUILT.load(Ordering::SeqCst), 2);
    }
}
