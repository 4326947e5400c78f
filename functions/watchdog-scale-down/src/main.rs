// The SDK futures nested in the handler exceed the default layout query depth (128).
#![recursion_limit = "256"]

use watchdog_scale_down::{handle, AwsWatchdogActions, WatchdogConfig};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let config = cm_core::runtime::start(WatchdogConfig::from_env)?;
    let sdk = cm_core::aws::load_sdk_config().await;
    let actions = AwsWatchdogActions::new(&sdk);
    cm_core::runtime::serve(config, actions, |config, actions, event| async move {
        handle(&config, &*actions, &event.payload).await
    })
    .await
}
