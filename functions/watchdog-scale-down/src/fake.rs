//! [`Cloud`] in memory, for fast tests: Auto Scaling groups with their desired
//! capacity, the messages published, and every call recorded (with failures
//! injected per operation through [`Recorder::fail`]).

use std::collections::BTreeMap;
use std::sync::Mutex;

use cm_core::fake::{lock, Recorder};
use cm_core::Error;

use crate::cloud::Cloud;
use crate::decide::Notification;

#[derive(Debug, Default)]
pub struct FakeCloud {
    pub recorder: Recorder,
    groups: Mutex<BTreeMap<String, i32>>,
    published: Mutex<Vec<Notification>>,
}

impl FakeCloud {
    /// One group at `desired`.
    pub fn with_group(name: &str, desired: i32) -> Self {
        let fake = FakeCloud::default();
        lock(&fake.groups).insert(name.to_string(), desired);
        fake
    }

    /// The group's desired capacity, `None` when it does not exist.
    pub fn desired(&self, name: &str) -> Option<i32> {
        lock(&self.groups).get(name).copied()
    }

    /// Every message published, in order.
    pub fn published(&self) -> Vec<Notification> {
        lock(&self.published).clone()
    }
}

fn no_such_group(operation: String) -> Error {
    Error::Aws {
        operation,
        message: "service error: ValidationError: AutoScalingGroup name not found".to_string(),
    }
}

impl Cloud for FakeCloud {
    async fn desired_capacity(&self, asg_name: &str) -> Result<i32, Error> {
        let call = format!("DescribeAutoScalingGroups {asg_name}");
        self.recorder.call(&call)?;
        // DescribeAutoScalingGroups answers an empty list for an unknown name;
        // cm_core::autoscaling::describe_group makes that an error.
        self.desired(asg_name).ok_or_else(|| Error::Aws {
            operation: call,
            message: "no such Auto Scaling group".to_string(),
        })
    }

    async fn set_desired_capacity(&self, asg_name: &str, desired: i32) -> Result<(), Error> {
        let call = format!("UpdateAutoScalingGroup {asg_name} DesiredCapacity={desired}");
        self.recorder.call(&call)?;
        match lock(&self.groups).get_mut(asg_name) {
            Some(current) => {
                *current = desired;
                Ok(())
            }
            None => Err(no_such_group(call)),
        }
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
