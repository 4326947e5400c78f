//! The trigger's small trait: the two writes it makes. [`crate::aws::AwsCloud`] is the
//! real one, [`crate::fake::FakeCloud`] the in-memory one for fast tests.

use std::future::Future;

use cm_core::Error;

use crate::config::KeepAliveMetric;

pub trait Cloud: Sync {
    /// UpdateAutoScalingGroup: sets the group's desired capacity.
    fn set_desired_capacity(
        &self,
        asg_name: &str,
        desired: i32,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// PutMetricData: one data point of the keep-alive metric.
    fn put_keep_alive(
        &self,
        metric: &KeepAliveMetric,
    ) -> impl Future<Output = Result<(), Error>> + Send;
}
