//! [`Cloud`] in memory, for fast tests: one Auto Scaling group with its instances and
//! pending lifecycle actions, one ECS cluster with the service, its container
//! instances and the service's tasks, and every call recorded (with failures injected
//! per operation through [`Recorder::fail`]).
//!
//! It behaves like AWS where the sync depends on it: the service's scheduler places
//! one task per ACTIVE container instance up to the desired count; a task told to
//! stop (the desired count went down, or its container instance is DRAINING) keeps
//! running for a set number of looks at it, or forever; CompleteLifecycleAction
//! completes a pending action once (the instance then leaves the group and its
//! container instance turns INACTIVE) and answers "No active Lifecycle Action found" after that;
//! it finds the action by its token, or (no token given) by the instance and the hook.

use std::collections::BTreeMap;
use std::sync::Mutex;

use cm_core::asg_event::LifecycleAction;
use cm_core::fake::{lock, Recorder};
use cm_core::Error;

use crate::cloud::{Cloud, Completion};
use crate::parse::Reply;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerInstance {
    pub arn: String,
    pub ec2_instance_id: String,
    /// `ACTIVE`, `DRAINING`, or `INACTIVE` once its instance terminated (then
    /// ListContainerInstances no longer shows it).
    pub status: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskState {
    Running,
    /// Told to stop; still running for `looks_left` more looks (`None`: forever).
    Stopping {
        looks_left: Option<u32>,
    },
    Stopped,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub arn: String,
    pub container_instance: String,
    /// `service:<name>` for the service's tasks.
    pub group: String,
    pub state: TaskState,
}

#[derive(Debug)]
struct World {
    group: String,
    cluster: String,
    service: String,
    instances: Vec<(String, String)>,
    desired: i32,
    container_instances: Vec<ContainerInstance>,
    tasks: Vec<Task>,
    /// How many looks a task told to stop still runs (`None`: it never stops).
    stop_after_looks: Option<u32>,
    /// Lifecycle actions waiting for CompleteLifecycleAction, by token.
    pending: BTreeMap<String, LifecycleAction>,
    /// (instance id, result) of each completed action.
    completed: Vec<(String, String)>,
    /// Every custom resource answer taken: (ResponseURL, the answer's JSON).
    answers: Vec<(String, serde_json::Value)>,
    next_id: u32,
}

impl World {
    fn next_arn(&mut self, kind: &str) -> String {
        self.next_id += 1;
        format!(
            "arn:aws:ecs:us-east-1:123456789012:{kind}/{}/{:032x}",
            self.cluster, self.next_id
        )
    }

    fn service_group(&self) -> String {
        format!("service:{}", self.service)
    }

    fn stop(&mut self, which: impl Fn(&Task) -> bool) {
        let looks_left = self.stop_after_looks;
        for task in self.tasks.iter_mut().filter(|t| which(t)) {
            if task.state == TaskState::Running {
                task.state = TaskState::Stopping { looks_left };
            }
        }
    }

    /// The instance terminates: it leaves the group, its container instance becomes
    /// INACTIVE, and whatever still ran there stops.
    fn terminate(&mut self, instance_id: &str) {
        self.instances.retain(|(id, _)| id != instance_id);
        let mut gone = Vec::new();
        for ci in self
            .container_instances
            .iter_mut()
            .filter(|ci| ci.ec2_instance_id == instance_id)
        {
            ci.status = "INACTIVE".to_string();
            gone.push(ci.arn.clone());
        }
        for task in self
            .tasks
            .iter_mut()
            .filter(|t| gone.contains(&t.container_instance))
        {
            task.state = TaskState::Stopped;
        }
        self.schedule();
    }

    /// The service's scheduler: as many running tasks as desired, one per ACTIVE
    /// container instance (the container's host ports are fixed).
    fn schedule(&mut self) {
        let group = self.service_group();
        let running: Vec<usize> = (0..self.tasks.len())
            .filter(|&i| self.tasks[i].group == group && self.tasks[i].state == TaskState::Running)
            .collect();
        let desired = usize::try_from(self.desired).unwrap_or(0);
        if running.len() > desired {
            let looks_left = self.stop_after_looks;
            for &i in &running[desired..] {
                self.tasks[i].state = TaskState::Stopping { looks_left };
            }
            return;
        }
        let mut missing = desired - running.len();
        let free: Vec<String> = self
            .container_instances
            .iter()
            .filter(|ci| ci.status == "ACTIVE")
            .filter(|ci| {
                !self
                    .tasks
                    .iter()
                    .any(|t| t.container_instance == ci.arn && t.state != TaskState::Stopped)
            })
            .map(|ci| ci.arn.clone())
            .collect();
        for container_instance in free {
            if missing == 0 {
                break;
            }
            let arn = self.next_arn("task");
            self.tasks.push(Task {
                arn,
                container_instance,
                group: group.clone(),
                state: TaskState::Running,
            });
            missing -= 1;
        }
    }
}

#[derive(Debug)]
pub struct FakeCloud {
    pub recorder: Recorder,
    world: Mutex<World>,
}

impl FakeCloud {
    /// An empty group `group` and a cluster `cluster` with the service `service` at
    /// desired count 0. Tasks told to stop stop at the next look.
    pub fn new(group: &str, cluster: &str, service: &str) -> Self {
        FakeCloud {
            recorder: Recorder::default(),
            world: Mutex::new(World {
                group: group.to_string(),
                cluster: cluster.to_string(),
                service: service.to_string(),
                instances: Vec::new(),
                desired: 0,
                container_instances: Vec::new(),
                tasks: Vec::new(),
                stop_after_looks: Some(0),
                pending: BTreeMap::new(),
                completed: Vec::new(),
                answers: Vec::new(),
                next_id: 0,
            }),
        }
    }

    /// Adds an instance to the group, e.g. `("i-1", "InService")`.
    pub fn add_instance(&self, instance_id: &str, lifecycle_state: &str) {
        lock(&self.world)
            .instances
            .push((instance_id.to_string(), lifecycle_state.to_string()));
    }

    /// Registers the instance's ECS agent in the cluster (ACTIVE); the scheduler may
    /// place the service's task there. Returns the container instance's ARN.
    pub fn register_container_instance(&self, instance_id: &str) -> String {
        let mut world = lock(&self.world);
        let arn = world.next_arn("container-instance");
        world.container_instances.push(ContainerInstance {
            arn: arn.clone(),
            ec2_instance_id: instance_id.to_string(),
            status: "ACTIVE".to_string(),
        });
        world.schedule();
        arn
    }

    /// Sets the service's desired count, as a console edit would (not recorded).
    pub fn scale_service(&self, desired: i32) {
        let mut world = lock(&self.world);
        world.desired = desired;
        world.schedule();
    }

    /// A task told to stop still runs for the next `looks` ListTasks of its container
    /// instance (0, the default: it has stopped by the next look).
    pub fn tasks_stop_after_looks(&self, looks: u32) {
        lock(&self.world).stop_after_looks = Some(looks);
    }

    /// A task told to stop never does (a container that ignores SIGTERM forever).
    pub fn tasks_never_stop(&self) {
        lock(&self.world).stop_after_looks = None;
    }

    /// The instance is gone without a lifecycle action (a terminate whose event was
    /// missed, after the hook's timeout): it leaves the group, its container instance
    /// turns INACTIVE and its tasks stop. The service's desired count is left as it is.
    pub fn remove_instance(&self, instance_id: &str) {
        let mut world = lock(&self.world);
        world.terminate(instance_id);
    }

    /// The group starts terminating `instance_id` (Terminating:Wait) and waits on the
    /// hook `hook` with `token`.
    pub fn begin_lifecycle_action(&self, hook: &str, instance_id: &str, token: &str) {
        let mut world = lock(&self.world);
        for (id, state) in world.instances.iter_mut() {
            if id == instance_id {
                *state = "Terminating:Wait".to_string();
            }
        }
        world.pending.insert(
            token.to_string(),
            LifecycleAction {
                hook_name: hook.to_string(),
                token: token.to_string(),
                instance_id: instance_id.to_string(),
            },
        );
    }

    pub fn instances(&self) -> Vec<(String, String)> {
        lock(&self.world).instances.clone()
    }

    pub fn service_desired(&self) -> i32 {
        lock(&self.world).desired
    }

    pub fn container_instances(&self) -> Vec<ContainerInstance> {
        lock(&self.world).container_instances.clone()
    }

    /// Every task that has not stopped.
    pub fn live_tasks(&self) -> Vec<Task> {
        lock(&self.world)
            .tasks
            .iter()
            .filter(|t| t.state != TaskState::Stopped)
            .cloned()
            .collect()
    }

    /// (instance id, result) of each completed lifecycle action, in order.
    pub fn completed(&self) -> Vec<(String, String)> {
        lock(&self.world).completed.clone()
    }

    /// Every custom resource answer taken, in order: (ResponseURL, the answer).
    pub fn answers(&self) -> Vec<(String, serde_json::Value)> {
        lock(&self.world).answers.clone()
    }

    /// The tokens of the lifecycle actions still waiting.
    pub fn pending_tokens(&self) -> Vec<String> {
        lock(&self.world).pending.keys().cloned().collect()
    }
}

fn not_found(call: String, what: &str) -> Error {
    Error::Aws {
        operation: call,
        message: format!("service error: {what} (the fake has no such resource)"),
    }
}

impl Cloud for FakeCloud {
    async fn group_instances(&self, asg: &str) -> Result<Vec<(String, String)>, Error> {
        let call = format!("DescribeAutoScalingGroups {asg}");
        self.recorder.call(&call)?;
        let world = lock(&self.world);
        if asg != world.group {
            return Err(not_found(call, "no such Auto Scaling group"));
        }
        Ok(world.instances.clone())
    }

    async fn desired_count(&self, cluster: &str, service: &str) -> Result<i32, Error> {
        let call = format!("DescribeServices {cluster}/{service}");
        self.recorder.call(&call)?;
        let world = lock(&self.world);
        if cluster != world.cluster || service != world.service {
            return Err(not_found(call, "ServiceNotFoundException"));
        }
        Ok(world.desired)
    }

    async fn container_instance(
        &self,
        cluster: &str,
        instance_id: &str,
    ) -> Result<Option<String>, Error> {
        let call = format!("ListContainerInstances {cluster} ec2InstanceId={instance_id}");
        self.recorder.call(&call)?;
        let world = lock(&self.world);
        if cluster != world.cluster {
            return Err(not_found(call, "ClusterNotFoundException"));
        }
        Ok(world
            .container_instances
            .iter()
            .find(|ci| ci.ec2_instance_id == instance_id && ci.status != "INACTIVE")
            .map(|ci| ci.arn.clone()))
    }

    async fn running_service_tasks(
        &self,
        cluster: &str,
        service: &str,
        container_instance: &str,
    ) -> Result<Vec<String>, Error> {
        let call = format!("ListTasks {cluster} {container_instance} service:{service}");
        self.recorder.call(&call)?;
        let mut world = lock(&self.world);
        if cluster != world.cluster {
            return Err(not_found(call, "ClusterNotFoundException"));
        }
        let group = format!("service:{service}");
        let mut running = Vec::new();
        for task in world
            .tasks
            .iter_mut()
            .filter(|t| t.container_instance == container_instance && t.group == group)
        {
            match task.state {
                TaskState::Stopped => {}
                TaskState::Stopping {
                    looks_left: Some(0),
                } => task.state = TaskState::Stopped,
                TaskState::Stopping {
                    looks_left: Some(n),
                } => {
                    task.state = TaskState::Stopping {
                        looks_left: Some(n - 1),
                    };
                    running.push(task.arn.clone());
                }
                TaskState::Running | TaskState::Stopping { looks_left: None } => {
                    running.push(task.arn.clone())
                }
            }
        }
        Ok(running)
    }

    async fn set_service_desired(
        &self,
        cluster: &str,
        service: &str,
        desired: i32,
    ) -> Result<(), Error> {
        let call = format!("UpdateService {cluster}/{service} desiredCount={desired}");
        self.recorder.call(&call)?;
        let mut world = lock(&self.world);
        if cluster != world.cluster || service != world.service {
            return Err(not_found(call, "ServiceNotFoundException"));
        }
        world.desired = desired;
        world.schedule();
        Ok(())
    }

    async fn drain_container_instance(&self, cluster: &str, arn: &str) -> Result<(), Error> {
        let call = format!("UpdateContainerInstancesState {cluster} {arn} DRAINING");
        self.recorder.call(&call)?;
        let mut world = lock(&self.world);
        if cluster != world.cluster {
            return Err(not_found(call, "ClusterNotFoundException"));
        }
        let Some(ci) = world
            .container_instances
            .iter_mut()
            .find(|ci| ci.arn == arn)
        else {
            return Err(not_found(call, "MISSING container instance"));
        };
        ci.status = "DRAINING".to_string();
        world.stop(|t| t.container_instance == arn);
        world.schedule();
        Ok(())
    }

    async fn complete_lifecycle_action(
        &self,
        asg: &str,
        hook: &str,
        instance_id: &str,
        token: Option<&str>,
    ) -> Result<Completion, Error> {
        let call = match token {
            Some(token) => {
                format!("CompleteLifecycleAction {asg} {hook} {instance_id} {token} CONTINUE")
            }
            None => format!("CompleteLifecycleAction {asg} {hook} {instance_id} CONTINUE"),
        };
        self.recorder.call(&call)?;
        let mut world = lock(&self.world);
        let waiting = (asg == world.group)
            .then(|| {
                world.pending.iter().find_map(|(key, action)| {
                    let matches = action.hook_name == hook
                        && action.instance_id == instance_id
                        && token.is_none_or(|t| t == action.token);
                    matches.then(|| key.clone())
                })
            })
            .flatten();
        let Some(key) = waiting else {
            return Ok(Completion::AlreadyDone(match token {
                Some(token) => format!("No active Lifecycle Action found with token {token}"),
                None => format!("No active Lifecycle Action found with instance ID {instance_id}"),
            }));
        };
        world.pending.remove(&key);
        world
            .completed
            .push((instance_id.to_string(), "CONTINUE".to_string()));
        world.terminate(instance_id);
        Ok(Completion::Completed)
    }

    async fn respond(&self, reply: &Reply, body: &[u8]) -> Result<(), Error> {
        let answer: serde_json::Value = serde_json::from_slice(body).map_err(|e| Error::Http {
            operation: format!("PUT the answer to {reply}"),
            message: format!("the answer is not JSON: {e}"),
        })?;
        let call = format!(
            "RespondToCloudFormation {} {} {}",
            reply.logical_id,
            reply.request_type,
            answer["Status"].as_str().unwrap_or_default()
        );
        self.recorder.call(&call).map_err(|e| Error::Http {
            operation: format!("PUT the answer to {reply}"),
            message: e.to_string(),
        })?;
        lock(&self.world).answers.push((reply.url.clone(), answer));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_lifecycle_action_completes_once_then_is_already_done() {
        let fake = FakeCloud::new("g", "c", "s");
        fake.add_instance("i-1", "InService");
        fake.begin_lifecycle_action("h", "i-1", "t");
        assert_eq!(
            fake.instances(),
            vec![("i-1".into(), "Terminating:Wait".into())]
        );
        let complete = |token| fake.complete_lifecycle_action("g", "h", "i-1", token);
        assert!(matches!(
            complete(Some("u")).await,
            Ok(Completion::AlreadyDone(_))
        ));
        assert_eq!(complete(Some("t")).await.unwrap(), Completion::Completed);
        assert!(matches!(
            complete(Some("t")).await,
            Ok(Completion::AlreadyDone(m)) if m.contains("No active Lifecycle Action found")
        ));
        assert_eq!(fake.completed(), vec![("i-1".into(), "CONTINUE".into())]);
        assert!(fake.instances().is_empty(), "the instance left the group");
        assert!(fake.pending_tokens().is_empty());
    }

    #[tokio::test]
    async fn without_a_token_the_action_is_found_by_instance_and_hook() {
        let fake = FakeCloud::new("g", "c", "s");
        fake.add_instance("i-1", "InService");
        fake.add_instance("i-2", "InService");
        fake.begin_lifecycle_action("h", "i-1", "t");
        for (hook, instance) in [("other", "i-1"), ("h", "i-2")] {
            assert!(matches!(
                fake.complete_lifecycle_action("g", hook, instance, None).await,
                Ok(Completion::AlreadyDone(m)) if m.contains(&format!("instance ID {instance}"))
            ));
        }
        assert_eq!(
            fake.complete_lifecycle_action("g", "h", "i-1", None)
                .await
                .unwrap(),
            Completion::Completed
        );
        assert_eq!(fake.instances(), vec![("i-2".into(), "InService".into())]);
        assert_eq!(
            fake.recorder.writes().last().map(String::as_str),
            Some("CompleteLifecycleAction g h i-1 CONTINUE")
        );
    }

    #[tokio::test]
    async fn a_removed_instance_takes_its_task_with_it_and_the_count_stays() {
        let fake = FakeCloud::new("g", "c", "s");
        fake.add_instance("i-1", "InService");
        fake.register_container_instance("i-1");
        fake.scale_service(1);
        fake.remove_instance("i-1");
        assert!(fake.instances().is_empty());
        assert!(fake.live_tasks().is_empty());
        assert_eq!(fake.container_instances()[0].status, "INACTIVE");
        assert_eq!(fake.service_desired(), 1);
        assert_eq!(fake.desired_count("c", "s").await.unwrap(), 1);
        assert!(fake.recorder.writes().is_empty());
    }

    #[tokio::test]
    async fn a_task_told_to_stop_runs_for_the_set_number_of_looks() {
        let fake = FakeCloud::new("g", "c", "s");
        let ci = fake.register_container_instance("i-1");
        fake.scale_service(1);
        let task = fake.live_tasks()[0].arn.clone();
        fake.tasks_stop_after_looks(2);
        let look = || fake.running_service_tasks("c", "s", &ci);
        assert_eq!(look().await.unwrap(), vec![task.clone()], "running");
        fake.set_service_desired("c", "s", 0).await.unwrap();
        assert_eq!(look().await.unwrap(), vec![task.clone()]);
        assert_eq!(look().await.unwrap(), vec![task.clone()]);
        assert!(look().await.unwrap().is_empty());
        assert!(fake.live_tasks().is_empty());
        assert_eq!(fake.recorder.count("ListTasks"), 4);
    }

    #[tokio::test]
    async fn draining_moves_the_task_to_another_active_instance() {
        let fake = FakeCloud::new("g", "c", "s");
        let old = fake.register_container_instance("i-old");
        fake.scale_service(1);
        let new = fake.register_container_instance("i-new");
        assert_eq!(fake.live_tasks().len(), 1, "one task for desired 1");
        fake.drain_container_instance("c", &old).await.unwrap();
        assert!(fake
            .running_service_tasks("c", "s", &old)
            .await
            .unwrap()
            .is_empty());
        let live = fake.live_tasks();
        assert_eq!(live.len(), 1);
        assert_eq!(live[0].container_instance, new);
        assert_eq!(fake.container_instances()[0].status, "DRAINING");
    }

    #[tokio::test]
    async fn unknown_names_are_errors_naming_the_call() {
        let fake = FakeCloud::new("g", "c", "s");
        let err = fake.group_instances("h").await.unwrap_err().to_string();
        assert!(
            err.starts_with("DescribeAutoScalingGroups h failed"),
            "{err}"
        );
        let err = fake
            .set_service_desired("c", "other", 1)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("ServiceNotFoundException"), "{err}");
        assert_eq!(fake.service_desired(), 0);
    }
}
