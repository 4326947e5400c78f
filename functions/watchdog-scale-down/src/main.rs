use watchdog_scale_down::{handle, AwsCloud, Config};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    cm_core::runtime::run(
        Config::from_env,
        |sdk, _| AwsCloud::new(sdk),
        |config, cloud, event| async move { handle(&config, &*cloud, &event.payload).await },
    )
    .await
}
