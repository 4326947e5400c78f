//! The sync's small trait: what it reads of the group and the cluster, and what it
//! changes. [`crate::aws::AwsCloud`] is the real one, [`crate::fake::FakeCloud`] the
//! in-memory one for fast tests.

use std::future::Future;

use cm_core::Error;

use crate::parse::Reply;

/// The answer to CompleteLifecycleAction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completion {
    Completed,
    /// AWS no longer has this action waiting (a duplicate event, or the hook's
    /// timeout already ran out): nothing left to do. AWS's message.
    AlreadyDone(String),
}

pub trait Cloud: Sync {
    /// DescribeAutoScalingGroups: (instance id, lifecycle state) of every instance of
    /// the group.
    fn group_instances(
        &self,
        asg: &str,
    ) -> impl Future<Output = Result<Vec<(String, String)>, Error>> + Send;

    /// DescribeServices: the service's desired count.
    fn desired_count(
        &self,
        cluster: &str,
        service: &str,
    ) -> impl Future<Output = Result<i32, Error>> + Send;

    /// The ECS container instance (ARN) of an EC2 instance, if it registered.
    fn container_instance(
        &self,
        cluster: &str,
        instance_id: &str,
    ) -> impl Future<Output = Result<Option<String>, Error>> + Send;

    /// ARNs of the service's tasks on the container instance that have not stopped.
    fn running_service_tasks(
        &self,
        cluster: &str,
        service: &str,
        container_instance: &str,
    ) -> impl Future<Output = Result<Vec<String>, Error>> + Send;

    /// UpdateService: the service's desired count.
    fn set_service_desired(
        &self,
        cluster: &str,
        service: &str,
        desired: i32,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// UpdateContainerInstancesState: DRAINING, so ECS moves the tasks elsewhere.
    fn drain_container_instance(
        &self,
        cluster: &str,
        arn: &str,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// CompleteLifecycleAction with CONTINUE: the action of `instance_id` waiting on
    /// `hook`, named by its token when the event gave one (a scheduled run has none,
    /// and AWS finds the action by the instance id).
    fn complete_lifecycle_action(
        &self,
        asg: &str,
        hook: &str,
        instance_id: &str,
        token: Option<&str>,
    ) -> impl Future<Output = Result<Completion, Error>> + Send;

    /// PUT of `body` (a custom resource answer, JSON) to the request's pre-signed
    /// ResponseURL; an error unless the answer was taken (2xx).
    fn respond(&self, reply: &Reply, body: &[u8])
        -> impl Future<Output = Result<(), Error>> + Send;
}
