use notifier::{handle, AwsCloud, Config};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    cm_core::runtime::try_run(
        Config::from_env,
        |sdk, _| AwsCloud::new(sdk),
        |config, cloud, event| async move {
            let time_left = cm_core::runtime::remaining(&event.context);
            handle(&config, &*cloud, &event.payload, time_left).await
        },
    )
    .await
}
