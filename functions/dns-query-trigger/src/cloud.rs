//! The router's small trait: one page of the registry's listing (Route 53, global),
//! and the two writes it makes in a container's region. [`crate::aws::AwsCloud`] is
//! the real one (one client per region, built when first needed),
//! [`crate::fake::FakeCloud`] the in-memory one for fast tests.

use std::future::Future;

use cm_core::registry::{RecordPage, RecordStart};
use cm_core::Error;

use crate::config::KeepAliveMetric;
use crate::decide::Datum;

/// What one region's PutMetricData puts: data points of the keep-alive metric.
#[derive(Debug, Clone, Copy)]
pub struct KeepAlive<'a> {
    pub metric: &'a KeepAliveMetric,
    pub datums: &'a [Datum],
}

/// What UpdateAutoScalingGroup did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scaled {
    /// The group's desired capacity is set.
    Done,
    /// There is no such group (AWS's ValidationError "not found"): its container's
    /// stack is being deleted, or its registry entry outlived it.
    Gone,
}

pub trait Cloud: Sync {
    /// ListResourceRecordSets of `zone` from `start`: one page.
    fn list_records(
        &self,
        zone: &str,
        start: &RecordStart,
    ) -> impl Future<Output = Result<RecordPage, Error>> + Send;

    /// UpdateAutoScalingGroup in `region`: the group's desired capacity.
    fn set_desired(
        &self,
        region: &str,
        group: &str,
        desired: i32,
    ) -> impl Future<Output = Result<Scaled, Error>> + Send;

    /// PutMetricData in `region`: the data points of the keep-alive metric, in one call.
    fn put_keep_alive(
        &self,
        region: &str,
        put: KeepAlive<'_>,
    ) -> impl Future<Output = Result<(), Error>> + Send;
}
