use dns_query_trigger::{handle, AwsCloud, Config, Router};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    cm_core::runtime::run(
        Config::from_env,
        |sdk, _config| Router::new(AwsCloud::new(sdk)),
        |config, router, event| async move { handle(&config, &router, &event.payload).await },
    )
    .await
}
