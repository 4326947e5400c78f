// The SDK futures nested in the handler exceed the default layout query depth (128).
#![recursion_limit = "256"]

use presence_probe::{handle, AwsCloud, Config};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let config = cm_core::runtime::start(Config::from_env)?;
    let sdk = cm_core::aws::load_sdk_config().await;
    let cloud = AwsCloud::new(&sdk);
    cm_core::runtime::serve(config, cloud, |config, cloud, event| async move {
        handle(
            &config,
            &*cloud,
            &event.payload,
            std::time::SystemTime::now(),
        )
        .await
    })
    .await
}
