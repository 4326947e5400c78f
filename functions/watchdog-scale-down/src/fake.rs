//! [`Cloud`] in memory, for fast tests: Auto Scaling groups with their desired
//! capacity, the messages published, and every call recorded (with failures
//! injected per operation through [`Recorder::fail`]).

use std::sync::Mutex;

use cm_core::fake::{lock, Groups, Recorder};
use cm_core::Error;

use crate::cloud::Cloud;
use crate::decide::Notification;

#[derive(Debug, Default)]
pub struct FakeCloud {
    pub recorder: Recorder,
    groups: Groups,
    published: Mutex<Vec<Notification>>,
}

impl FakeCloud {
    /// One group at `desired`.
    pub fn with_group(name: &str, desired: i32) -> Self {
        let fake = FakeCloud::default();
        fake.groups.insert(name, desired);
        fake
    }

    /// The group's desired capacity, `None` when it does not exist.
    pub fn desired(&self, name: &str) -> Option<i32> {
        self.groups.desired(name)
    }

    /// Every message published, in order.
    pub fn published(&self) -> Vec<Notification> {
        lock(&self.published).clone()
    }
}

impl Cloud for FakeCloud {
    async fn desired_capacity(&self, asg_name: &str) -> Result<i32, Error> {
        self.groups.describe_desired(&self.recorder, asg_name)
    }

    async fn set_desired_capacity(&self, asg_name: &str, desired: i32) -> Result<(), Error> {
        self.groups.set_desired(&self.recorder, asg_name, desired)
    }

    async fn notify(&self, notification: &Notification) -> Result<(), Error> {
        self.recorder.call(format!(
            "Publish {} event_type={}",
            notification.topic_arn, notification.event_type
        ))?;
        lock(&self.published).push(notification.clone());
        Ok(())
    }
}
