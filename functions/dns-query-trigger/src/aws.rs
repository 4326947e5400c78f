//! [`Cloud`] through the AWS SDK: Route 53 (global) for the registry, and Auto Scaling
//! and CloudWatch in each container's region (the group is there, and so is the idle
//! alarm that reads the keep-alive metric: alarms cannot read another region's
//! metrics), their clients built from the one SDK configuration when a region is
//! first needed and kept for the warm process.

use aws_config::SdkConfig;
use aws_sdk_autoscaling::error::ProvideErrorMetadata;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
use cm_core::aws::PerRegion;
use cm_core::registry::{self, RecordPage, RecordStart};
use cm_core::Error;

use crate::cloud::{Cloud, KeepAlive, Scaled};
use crate::config::DIMENSION;

/// Data points per PutMetricData (CloudWatch's most).
pub const DATUMS_PER_CALL: usize = 1000;

/// The router's clients: Route 53 built at start-up, the regional ones when first
/// needed.
#[derive(Debug)]
pub struct AwsCloud {
    route53: aws_sdk_route53::Client,
    autoscaling: PerRegion<aws_sdk_autoscaling::Client>,
    cloudwatch: PerRegion<aws_sdk_cloudwatch::Client>,
}

impl AwsCloud {
    pub fn new(sdk: &SdkConfig) -> Self {
        AwsCloud {
            route53: aws_sdk_route53::Client::new(sdk),
            autoscaling: PerRegion::new(sdk, aws_sdk_autoscaling::Client::new),
            cloudwatch: PerRegion::new(sdk, aws_sdk_cloudwatch::Client::new),
        }
    }
}

/// Is this UpdateAutoScalingGroup error AWS saying the group does not exist?
/// (`ValidationError`, "AutoScalingGroup name not found - ...".)
pub fn is_group_gone(code: Option<&str>, message: Option<&str>) -> bool {
    code == Some("ValidationError")
        && message.is_some_and(|m| m.to_ascii_lowercase().contains("not found"))
}

impl Cloud for AwsCloud {
    async fn list_records(&self, zone: &str, start: &RecordStart) -> Result<RecordPage, Error> {
        registry::list_page(&self.route53, zone, start).await
    }

    async fn set_desired(&self, region: &str, group: &str, desired: i32) -> Result<Scaled, Error> {
        let client = self.autoscaling.client(region);
        match client
            .update_auto_scaling_group()
            .auto_scaling_group_name(group)
            .desired_capacity(desired)
            .send()
            .await
        {
            Ok(_) => Ok(Scaled::Done),
            Err(e) if is_group_gone(e.code(), e.message()) => Ok(Scaled::Gone),
            Err(e) => Err(Error::aws(
                format!("UpdateAutoScalingGroup {region} {group} DesiredCapacity={desired}"),
                e,
            )),
        }
    }

    async fn put_keep_alive(&self, region: &str, put: KeepAlive<'_>) -> Result<(), Error> {
        let (client, metric) = (self.cloudwatch.client(region), put.metric);
        for chunk in put.datums.chunks(DATUMS_PER_CALL) {
            let data = chunk
                .iter()
                .map(|d| {
                    MetricDatum::builder()
                        .metric_name(&metric.name)
                        .dimensions(
                            Dimension::builder()
                                .name(DIMENSION)
                                .value(&d.container)
                                .build(),
                        )
                        .unit(metric.unit.clone())
                        .value(d.value)
                        .build()
                })
                .collect();
            client
                .put_metric_data()
                .namespace(&metric.namespace)
                .set_metric_data(Some(data))
                .send()
                .await
                .map_err(|e| {
                    Error::aws(
                        format!(
                            "PutMetricData {region} {}/{} ({} data points)",
                            metric.namespace,
                            metric.name,
                            chunk.len()
                        ),
                        e,
                    )
                })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_validation_error_saying_not_found_is_a_gone_group() {
        assert!(is_group_gone(
            Some("ValidationError"),
            Some("AutoScalingGroup name not found - AutoScalingGroup 'g' not found")
        ));
        assert!(is_group_gone(
            Some("ValidationError"),
            Some("AutoScalingGroup name not found - null")
        ));
        assert!(!is_group_gone(
            Some("ValidationError"),
            Some("Desired capacity:1 must be between the specified min size:0 and max size:0")
        ));
        assert!(!is_group_gone(
            Some("Throttling"),
            Some("Rate exceeded: not found")
        ));
        assert!(!is_group_gone(Some("ValidationError"), None));
        assert!(!is_group_gone(None, None));
    }
}
