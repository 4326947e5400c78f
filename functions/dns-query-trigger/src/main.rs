use dns_query_trigger::{handle, AwsCloud, Config};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    cm_core::runtime::run(
        Config::from_env,
        |sdk, config| AwsCloud::new(sdk, config.asg_region.as_deref()),
        |config, cloud, event| async move { handle(&config, &*cloud, &event.payload).await },
    )
    .await
}
