//! The DNS updater's small trait: what it reads before deciding, and the two writes
//! it makes. [`crate::aws::AwsCloud`] is the real one, [`crate::fake::FakeCloud`] the
//! in-memory one for fast tests.

use std::future::Future;

use cm_core::Error;

use crate::decide::{Addresses, Change, Message, RecordSet};

pub trait Cloud: Sync {
    /// DescribeInstances: the instance's public IPv4 and IPv6 addresses.
    fn instance_addresses(
        &self,
        instance_id: &str,
    ) -> impl Future<Output = Result<Addresses, Error>> + Send;

    /// ListResourceRecordSets: the A and AAAA record sets named `name` in the zone.
    fn current_records(
        &self,
        zone: &str,
        name: &str,
    ) -> impl Future<Output = Result<Vec<RecordSet>, Error>> + Send;

    /// DescribeAutoScalingGroups: the group's (instance id, lifecycle state) pairs;
    /// `None` if there is no such group.
    fn group_instances(
        &self,
        asg: &str,
    ) -> impl Future<Output = Result<Option<Vec<(String, String)>>, Error>> + Send;

    /// ChangeResourceRecordSets: applies the changes in one atomic batch.
    fn change_records(
        &self,
        zone: &str,
        changes: &[Change],
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// Publish: the message, with its `event_type` attribute.
    fn notify(
        &self,
        topic: &str,
        message: &Message,
    ) -> impl Future<Output = Result<(), Error>> + Send;
}
