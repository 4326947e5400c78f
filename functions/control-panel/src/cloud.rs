//! The control panel's small trait: the registry's records (one page of Route 53's
//! listing), the groups and the players of one region, the start token, and the one
//! write: a group's desired capacity. [`crate::aws::AwsCloud`] is the real one (one
//! client per region, built when first needed), [`crate::fake::FakeCloud`] the
//! in-memory one for fast tests.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::SystemTime;

use cm_core::autoscaling::GroupState;
use cm_core::Error;

use crate::parse::Secret;

/// The registry's listing, as `cm_core::registry` reads it.
pub use cm_core::registry::{Record, RecordPage, RecordStart};

/// The window the latest `Players` data point is looked for in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: SystemTime,
    pub end: SystemTime,
}

pub trait Cloud: Sync {
    /// ListResourceRecordSets from `start`: one page.
    fn list_records(
        &self,
        zone: &str,
        start: &RecordStart,
    ) -> impl Future<Output = Result<RecordPage, Error>> + Send;

    /// DescribeAutoScalingGroups in `region`: each of `groups` that exists, by name
    /// (a missing group is absent from the map).
    fn groups(
        &self,
        region: &str,
        groups: &[String],
    ) -> impl Future<Output = Result<BTreeMap<String, GroupState>, Error>> + Send;

    /// GetMetricData in `region`: the latest `Players` data point within `window` of
    /// each `ContainerName` dimension value in `metrics` that has one.
    fn players(
        &self,
        region: &str,
        namespace: &str,
        metrics: &[String],
        window: Window,
    ) -> impl Future<Output = Result<BTreeMap<String, f64>, Error>> + Send;

    /// UpdateAutoScalingGroup in `region`: the group's desired capacity.
    fn set_desired(
        &self,
        region: &str,
        group: &str,
        desired: i32,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// SSM GetParameter with decryption: the start token (the real one keeps it for a
    /// few minutes in the warm process).
    fn start_token(&self, parameter: &str) -> impl Future<Output = Result<Secret, Error>> + Send;
}
