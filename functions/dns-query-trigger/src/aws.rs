//! [`Cloud`] through the AWS SDK.

use aws_sdk_autoscaling::config::Region;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
use cm_core::Error;

use crate::cloud::Cloud;
use crate::config::KeepAliveMetric;

/// The trigger's clients, built once at start-up.
#[derive(Clone, Debug)]
pub struct AwsCloud {
    autoscaling: aws_sdk_autoscaling::Client,
    cloudwatch: aws_sdk_cloudwatch::Client,
}

impl AwsCloud {
    /// Clients from the shared SDK configuration, both in `asg_region` when the
    /// container lives in another region than the function: the group is there, and
    /// so is the idle alarm that reads the keep-alive metric (alarms cannot read
    /// another region's metrics).
    pub fn new(sdk: &aws_config::SdkConfig, asg_region: Option<&str>) -> Self {
        let mut autoscaling = aws_sdk_autoscaling::config::Builder::from(sdk);
        let mut cloudwatch = aws_sdk_cloudwatch::config::Builder::from(sdk);
        if let Some(region) = asg_region {
            autoscaling = autoscaling.region(Region::new(region.to_string()));
            cloudwatch = cloudwatch.region(Region::new(region.to_string()));
        }
        AwsCloud {
            autoscaling: aws_sdk_autoscaling::Client::from_conf(autoscaling.build()),
            cloudwatch: aws_sdk_cloudwatch::Client::from_conf(cloudwatch.build()),
        }
    }
}

impl Cloud for AwsCloud {
    async fn set_desired_capacity(&self, asg_name: &str, desired: i32) -> Result<(), Error> {
        cm_core::autoscaling::set_desired_capacity(&self.autoscaling, asg_name, desired).await
    }

    async fn put_keep_alive(&self, metric: &KeepAliveMetric) -> Result<(), Error> {
        let dimensions = metric
            .dimensions
            .iter()
            .map(|(name, value)| Dimension::builder().name(name).value(value).build())
            .collect::<Vec<_>>();
        let datum = MetricDatum::builder()
            .metric_name(&metric.name)
            .set_dimensions(Some(dimensions))
            .unit(metric.unit.clone())
            .value(metric.value)
            .build();
        self.cloudwatch
            .put_metric_data()
            .namespace(&metric.namespace)
            .metric_data(datum)
            .send()
            .await
            .map_err(|e| {
                Error::aws(
                    format!("PutMetricData {}/{}", metric.namespace, metric.name),
                    e,
                )
            })?;
        Ok(())
    }
}
