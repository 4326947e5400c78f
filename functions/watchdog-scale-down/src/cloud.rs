//! The watchdog's small trait: one read (the group's desired capacity, observed
//! before deciding) and two writes. [`crate::aws::AwsCloud`] is the real one,
//! [`crate::fake::FakeCloud`] the in-memory one for fast tests.

use std::future::Future;

use cm_core::Error;

use crate::decide::Notification;

pub trait Cloud: Sync {
    /// DescribeAutoScalingGroups: the group's desired capacity; an error when the
    /// group does not exist.
    fn desired_capacity(&self, asg_name: &str) -> impl Future<Output = Result<i32, Error>> + Send;

    /// UpdateAutoScalingGroup: sets the group's desired capacity.
    fn set_desired_capacity(
        &self,
        asg_name: &str,
        desired: i32,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// Publish: the message to its topic, with the `event_type` and `container`
    /// message attributes.
    fn notify(&self, notification: &Notification)
        -> impl Future<Output = Result<(), Error>> + Send;
}
