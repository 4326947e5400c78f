use presence_probe::{handle, AwsCloud, Config};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    cm_core::runtime::run(
        Config::from_env,
        |sdk, _| AwsCloud::new(sdk),
        |config, cloud, event| async move {
            handle(
                &config,
                &*cloud,
                &event.payload,
                std::time::SystemTime::now(),
            )
            .await
        },
    )
    .await
}
