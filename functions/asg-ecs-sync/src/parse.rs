//! The event: one of the two EventBridge events of the container's Auto Scaling group,
//! read and checked by [`cm_core::asg_event::parse`] (source, detail-type, this group,
//! every field the sync needs), or a tick of the sync's EventBridge schedule
//! (`"source": "aws.events"`, `"detail-type": "Scheduled Event"`), which asks for a
//! scheduled run: converge on the group as it is; or a CloudFormation custom resource
//! request (the stack's `ServiceReconcile`, sent at the end of every deploy that
//! creates or updates the service), read with `aws_lambda_events`' CloudFormation types.

use aws_lambda_events::cloudformation::CloudFormationCustomResourceRequest;
use cm_core::asg_event::{self, AsgEvent, GroupOrSchedule};
use cm_core::Error;
use serde_json::Value;

use crate::config::Config;

/// A tick of the schedule; it carries nothing the run needs beyond being one.
pub use cm_core::asg_event::Schedule;

/// What the sync was invoked with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A checked launch or terminate of an instance of the configured group.
    Group(AsgEvent),
    /// A scheduled run: the service and the pending lifecycle actions follow the
    /// group as it is, whatever events were missed.
    Reconcile(Schedule),
    /// A CloudFormation custom resource request: answered at its ResponseURL, always.
    Deploy(Deploy),
}

/// A custom resource request, read far enough to answer it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deploy {
    pub reply: Reply,
    pub request: DeployRequest,
}

/// Where the answer goes and what it names (CloudFormation matches it to the request
/// by these ids).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The pre-signed URL the answer is PUT to. It carries a signature: never logged.
    pub url: String,
    /// `Create`, `Update`, `Delete`, or what the request said if it was none of those.
    pub request_type: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_id: String,
    /// The id the answer gives the resource: the request's own on Update and Delete
    /// (a changed id would make CloudFormation replace it and send a Delete), else
    /// `<cluster>/<service>`.
    pub physical_id: String,
}

impl std::fmt::Display for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} of {} in {}",
            self.request_type, self.logical_id, self.stack_id
        )
    }
}

/// What the request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeployRequest {
    /// Create or Update: the service follows the group, as a scheduled run makes it.
    Converge,
    /// Delete: nothing to undo, and a delete is never blocked.
    Delete,
    /// The request cannot be served (unreadable, or its properties name another
    /// service or group): answered FAILED with this reason, nothing changed.
    Refuse(String),
}

/// Reads `event`; an [`Error::InvalidEvent`] names what was wrong. An event with a
/// `ResponseURL` is a custom resource request: it is never an error (unless the URL
/// itself is unusable), so that CloudFormation always gets an answer.
pub fn parse(event: &Value, config: &Config) -> Result<Input, Error> {
    if event.get("ResponseURL").is_some() {
        return custom_resource(event, config).map(Input::Deploy);
    }
    match asg_event::parse_or_schedule(event, &config.asg_name)? {
        GroupOrSchedule::Group(event) => Ok(Input::Group(event)),
        GroupOrSchedule::Schedule(tick) => Ok(Input::Reconcile(tick)),
    }
}

/// The properties a `ServiceReconcile` must carry, each equal to this function's
/// configuration: a request meant for another service is refused, not obeyed.
const EXPECTED: [(&str, &str); 3] = [
    ("Cluster", "ECS_CLUSTER_NAME"),
    ("ServiceName", "ECS_SERVICE_NAME"),
    ("AutoScalingGroupName", "ASG_NAME"),
];

fn custom_resource(event: &Value, config: &Config) -> Result<Deploy, Error> {
    let url = match event["ResponseURL"].as_str() {
        Some(url) if url.starts_with("https://") || url.starts_with("http://") => url,
        _ => {
            return Err(Error::invalid_event(
                "ResponseURL is not an http(s) URL: a custom resource request without \
                 anywhere to answer",
            ))
        }
    };
    let text = |key: &str| event[key].as_str().unwrap_or_default().to_string();
    let reply = Reply {
        url: url.to_string(),
        // Only echoed in the outcome and the reason: bounded.
        request_type: text("RequestType").chars().take(32).collect(),
        stack_id: text("StackId"),
        request_id: text("RequestId"),
        logical_id: text("LogicalResourceId"),
        physical_id: match event["PhysicalResourceId"].as_str() {
            Some(id) if !id.is_empty() => id.to_string(),
            _ => format!("{}/{}", config.cluster, config.service),
        },
    };
    let parsed: Result<CloudFormationCustomResourceRequest, _> =
        serde_json::from_value(event.clone());
    let (properties, request) = match parsed {
        Ok(CloudFormationCustomResourceRequest::Create(create)) => {
            (create.resource_properties, DeployRequest::Converge)
        }
        Ok(CloudFormationCustomResourceRequest::Update(update)) => {
            (update.resource_properties, DeployRequest::Converge)
        }
        Ok(CloudFormationCustomResourceRequest::Delete(_)) => {
            return Ok(Deploy {
                reply,
                request: DeployRequest::Delete,
            })
        }
        Ok(_) => (Value::Null, DeployRequest::Refuse(unknown(&reply))),
        Err(err) => (
            Value::Null,
            DeployRequest::Refuse(format!(
                "not a CloudFormation custom resource request: {err}"
            )),
        ),
    };
    let request = match request {
        DeployRequest::Converge => match mismatch(&properties, config) {
            Some(why) => DeployRequest::Refuse(why),
            None => DeployRequest::Converge,
        },
        other => other,
    };
    Ok(Deploy { reply, request })
}

fn unknown(reply: &Reply) -> String {
    format!(
        "RequestType {:?} is none of Create, Update, Delete",
        reply.request_type
    )
}

/// Why the properties do not name this function's service, if they do not.
fn mismatch(properties: &Value, config: &Config) -> Option<String> {
    for (property, variable) in EXPECTED {
        let configured = match variable {
            "ECS_CLUSTER_NAME" => &config.cluster,
            "ECS_SERVICE_NAME" => &config.service,
            _ => &config.asg_name,
        };
        match properties[property].as_str() {
            None => return Some(format!("ResourceProperties.{property} is missing")),
            Some(given) if given != configured => {
                return Some(format!(
                    "ResourceProperties.{property} is {given:?}, but this function's \
                     {variable} is {configured:?}"
                ))
            }
            Some(_) => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use cm_core::asg_event::{AsgSignal, LifecycleAction};
    use cm_testkit::env_json::function_env;
    use serde_json::json;

    use super::*;

    /// The configuration of the sample events' group (events/env.json).
    fn config() -> Config {
        Config::from_env(function_env("AsgEcsSyncFunction", &[])).unwrap()
    }

    fn group_event(input: Input) -> AsgEvent {
        match input {
            Input::Group(event) => event,
            other => panic!("a group event: {other:?}"),
        }
    }

    fn sample(name: &str) -> Value {
        cm_testkit::events::sample(&format!("asg/{name}"))
    }

    #[test]
    fn the_sample_launches_are_launches_and_only_the_warm_pool_one_is_not_into_service() {
        for (name, into_service) in [
            ("launch-successful.json", true),
            ("launch-from-warm-pool.json", true),
            ("launch-into-warm-pool.json", false),
        ] {
            let input = group_event(parse(&sample(name), &config()).unwrap());
            assert_eq!(input.group, "cm-asg-dev-mc");
            assert_eq!(
                input.signal,
                AsgSignal::Launch {
                    instance_id: "i-0a1b2c3d4e5f60718".into(),
                    into_service
                },
                "{name}"
            );
        }
    }

    #[test]
    fn the_sample_terminate_carries_its_hook_token_and_instance() {
        let input =
            group_event(parse(&sample("terminate-lifecycle-action.json"), &config()).unwrap());
        assert_eq!(
            input.signal,
            AsgSignal::Terminate(LifecycleAction {
                hook_name: "cm-hook-dev-mc-drain".into(),
                token: "71514b9d-6a40-4b26-8523-05e7eEXAMPLE".into(),
                instance_id: "i-0a1b2c3d4e5f60718".into(),
            })
        );
    }

    #[test]
    fn an_event_of_another_group_is_refused_naming_both_groups() {
        let other = Config {
            asg_name: "cm-asg-prod-mc".into(),
            ..config()
        };
        let err = parse(&sample("launch-successful.json"), &other).unwrap_err();
        assert_eq!(err.kind(), "InvalidEvent");
        assert!(
            err.to_string()
                .contains("group \"cm-asg-dev-mc\", not \"cm-asg-prod-mc\""),
            "{err}"
        );
    }

    #[test]
    fn a_terminate_without_its_hook_or_token_is_refused_naming_the_field() {
        for field in ["LifecycleHookName", "LifecycleActionToken"] {
            let mut event = sample("terminate-lifecycle-action.json");
            event["detail"].as_object_mut().unwrap().remove(field);
            let err = parse(&event, &config()).unwrap_err();
            assert!(
                err.to_string()
                    .contains(&format!("detail.{field} is missing")),
                "{err}"
            );
        }
    }

    #[test]
    fn the_sample_schedule_tick_asks_for_a_scheduled_run() {
        assert_eq!(
            parse(&sample("scheduled-event.json"), &config()).unwrap(),
            Input::Reconcile(Schedule {
                rule: Some(
                    "arn:aws:events:us-east-1:123456789012:rule/cm-dev-mc-AsgEcsSyncFunctionReconcileSchedule-1A2B3C4D5E6F"
                        .into()
                ),
            })
        );
        let bare = json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
        assert_eq!(
            parse(&bare, &config()).unwrap(),
            Input::Reconcile(Schedule::default())
        );
    }

    #[test]
    fn another_event_of_aws_events_is_refused_naming_its_detail_type() {
        let mut other = sample("scheduled-event.json");
        other["detail-type"] = "Object Created".into();
        let err = parse(&other, &config()).unwrap_err();
        assert_eq!(err.kind(), "InvalidEvent");
        assert!(
            err.to_string()
                .contains("detail-type \"Object Created\" from aws.events"),
            "{err}"
        );
        let no_detail_type = json!({"source": "aws.events", "detail": {}});
        let err = parse(&no_detail_type, &config()).unwrap_err();
        assert!(
            err.to_string()
                .contains("not an EventBridge scheduled event"),
            "{err}"
        );
    }
}
