//! [`Cloud`] through the AWS SDK: Auto Scaling and ECS clients, built once at start-up,
//! and the HTTPS client that answers CloudFormation's custom resource requests.

use std::time::Duration;

use aws_sdk_autoscaling::error::ProvideErrorMetadata;
use aws_sdk_ecs::types::{ContainerInstanceStatus, DesiredStatus};
use cm_core::http::{HttpClient, HttpRequest, Method};
use cm_core::Error;

use crate::cloud::{Cloud, Completion};
use crate::parse::Reply;

/// How long one PUT of an answer may take.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
/// Tries of the PUT: the answer is what the stack waits for, and S3 may answer 503.
const ANSWER_TRIES: u32 = 3;

#[derive(Clone, Debug)]
pub struct AwsCloud {
    autoscaling: aws_sdk_autoscaling::Client,
    ecs: aws_sdk_ecs::Client,
    /// `Err` holds why the client could not be built (the system's root
    /// certificates unreadable): then only an answer fails, naming it.
    http: Result<HttpClient, String>,
}

impl AwsCloud {
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        AwsCloud {
            autoscaling: aws_sdk_autoscaling::Client::new(sdk),
            ecs: aws_sdk_ecs::Client::new(sdk),
            http: HttpClient::new(ANSWER_TIMEOUT).map_err(|e| e.to_string()),
        }
    }
}

impl Cloud for AwsCloud {
    async fn group_instances(&self, asg: &str) -> Result<Vec<(String, String)>, Error> {
        Ok(cm_core::autoscaling::describe_group(&self.autoscaling, asg)
            .await?
            .instances)
    }

    async fn set_service_desired(
        &self,
        cluster: &str,
        service: &str,
        desired: i32,
    ) -> Result<(), Error> {
        self.ecs
            .update_service()
            .cluster(cluster)
            .service(service)
            .desired_count(desired)
            .send()
            .await
            .map_err(|e| Error::aws(format!("UpdateService {cluster}/{service}"), e))?;
        Ok(())
    }

    async fn desired_count(&self, cluster: &str, service: &str) -> Result<i32, Error> {
        let operation = || format!("DescribeServices {cluster}/{service}");
        let out = self
            .ecs
            .describe_services()
            .cluster(cluster)
            .services(service)
            .send()
            .await
            .map_err(|e| Error::aws(operation(), e))?;
        // An unknown service is no error in DescribeServices: it is listed as a failure.
        let found = out.services().iter().find(|s| {
            s.service_name() == Some(service)
                || s.service_arn()
                    .is_some_and(|a| a.ends_with(&format!("/{service}")))
        });
        match found {
            Some(s) => Ok(s.desired_count()),
            None => Err(Error::Aws {
                operation: operation(),
                message: match out.failures().first() {
                    Some(f) => format!(
                        "service not found: {} ({})",
                        f.reason().unwrap_or("no reason given"),
                        f.arn().unwrap_or(service)
                    ),
                    None => "service not found".to_string(),
                },
            }),
        }
    }

    async fn container_instance(
        &self,
        cluster: &str,
        instance_id: &str,
    ) -> Result<Option<String>, Error> {
        // One container instance per ASG instance: list them all and match the EC2 id
        // (the group has at most a couple).
        let list = self
            .ecs
            .list_container_instances()
            .cluster(cluster)
            .send()
            .await
            .map_err(|e| Error::aws(format!("ListContainerInstances {cluster}"), e))?;
        let arns = list.container_instance_arns().to_vec();
        if arns.is_empty() {
            return Ok(None);
        }
        let described = self
            .ecs
            .describe_container_instances()
            .cluster(cluster)
            .set_container_instances(Some(arns))
            .send()
            .await
            .map_err(|e| Error::aws(format!("DescribeContainerInstances {cluster}"), e))?;
        Ok(described
            .container_instances()
            .iter()
            .find(|ci| ci.ec2_instance_id() == Some(instance_id))
            .and_then(|ci| ci.container_instance_arn().map(str::to_string)))
    }

    async fn drain_container_instance(&self, cluster: &str, arn: &str) -> Result<(), Error> {
        self.ecs
            .update_container_instances_state()
            .cluster(cluster)
            .container_instances(arn)
            .status(ContainerInstanceStatus::Draining)
            .send()
            .await
            .map_err(|e| Error::aws(format!("UpdateContainerInstancesState {arn}"), e))?;
        Ok(())
    }

    async fn running_service_tasks(
        &self,
        cluster: &str,
        service: &str,
        container_instance: &str,
    ) -> Result<Vec<String>, Error> {
        // A task being drained has desired status STOPPED while it still runs: look at both.
        let list = |status: DesiredStatus| {
            self.ecs
                .list_tasks()
                .cluster(cluster)
                .container_instance(container_instance)
                .desired_status(status)
                .send()
        };
        let (running, stopping) =
            tokio::join!(list(DesiredStatus::Running), list(DesiredStatus::Stopped));
        let mut arns = Vec::new();
        for out in [running, stopping] {
            let out = out
                .map_err(|e| Error::aws(format!("ListTasks {cluster} {container_instance}"), e))?;
            arns.extend(out.task_arns().iter().cloned());
        }
        if arns.is_empty() {
            return Ok(Vec::new());
        }
        let group = format!("service:{service}");
        let mut still = Vec::new();
        // DescribeTasks takes at most 100 tasks per call.
        for chunk in arns.chunks(100) {
            let described = self
                .ecs
                .describe_tasks()
                .cluster(cluster)
                .set_tasks(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| Error::aws(format!("DescribeTasks {cluster}"), e))?;
            still.extend(
                described
                    .tasks()
                    .iter()
                    .filter(|t| {
                        t.group() == Some(group.as_str()) && t.last_status() != Some("STOPPED")
                    })
                    .filter_map(|t| t.task_arn().map(str::to_string)),
            );
        }
        Ok(still)
    }

    async fn complete_lifecycle_action(
        &self,
        asg: &str,
        hook: &str,
        instance_id: &str,
        token: Option<&str>,
    ) -> Result<Completion, Error> {
        let result = self
            .autoscaling
            .complete_lifecycle_action()
            .auto_scaling_group_name(asg)
            .lifecycle_hook_name(hook)
            .set_lifecycle_action_token(token.map(str::to_string))
            .instance_id(instance_id)
            .lifecycle_action_result("CONTINUE")
            .send()
            .await;
        match result {
            Ok(_) => Ok(Completion::Completed),
            Err(err) => {
                let already_done = err.as_service_error().and_then(|e| {
                    let no_action = e.code() == Some("ValidationError")
                        && e.message()
                            .is_some_and(|m| m.contains("No active Lifecycle Action found"));
                    no_action.then(|| e.message().unwrap_or_default().to_string())
                });
                match already_done {
                    Some(message) => Ok(Completion::AlreadyDone(message)),
                    None => Err(Error::aws(
                        format!("CompleteLifecycleAction {asg} {hook} {instance_id}"),
                        err,
                    )),
                }
            }
        }
    }

    async fn respond(&self, reply: &Reply, body: &[u8]) -> Result<(), Error> {
        let operation = || format!("PUT the answer to {reply}");
        let client = self.http.as_ref().map_err(|why| Error::Http {
            operation: operation(),
            message: why.clone(),
        })?;
        let mut last = None;
        for attempt in 1..=ANSWER_TRIES {
            // A pre-signed S3 PUT: no Content-Type was signed, and none is sent.
            let sent = client
                .send(HttpRequest {
                    method: Method::Put,
                    url: reply.url.clone(),
                    headers: Vec::new(),
                    body: body.to_vec(),
                })
                .await;
            match sent {
                Ok(answer) if (200..300).contains(&answer.status) => return Ok(()),
                Ok(answer) => {
                    let text: String = answer.text().chars().take(300).collect();
                    last = Some(Error::Http {
                        operation: operation(),
                        message: format!("answered HTTP {}: {}", answer.status, text.trim()),
                    });
                    if answer.status < 500 {
                        break;
                    }
                }
                Err(err) => last = Some(err),
            }
            if attempt < ANSWER_TRIES {
                tokio::time::sleep(Duration::from_secs(u64::from(attempt))).await;
            }
        }
        Err(last.unwrap_or_else(|| Error::Http {
            operation: operation(),
            message: "no attempt was made".to_string(),
        }))
    }
}
