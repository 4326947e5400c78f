//! template.yaml deployed into the local AWS emulator's CloudFormation, as `sam deploy`
//! deploys it into AWS, and read back: the stack's status, outputs and physical
//! resources, and each function's deployed configuration, from which a function is
//! started with exactly the environment Lambda would give it.
//!
//! The path: `scripts/transform-template` applies the SAM transform offline (once per
//! test process; it needs `.tools` from `scripts/setup-tools`, or `CM_TOOLS_PYTHON`;
//! `CM_TRANSFORMED_TEMPLATE` names an already transformed template instead), and
//! `tests/emulator/cm_stack.py` (boto3, with the emulator's Python) packages it, creates
//! or updates the stack and reports it. What moto's CloudFormation lacks is bridged in
//! the emulator (`CFN_BRIDGES` in `tests/emulator/cm_emulator.py`); [`bridged`] lists
//! what the bridges made.
//!
//! The calls here block while the deploy runs (a few seconds), answering the stack's
//! custom resource requests (and, on a delete, delivering the terminate events of the
//! group's instances) with the real function binaries meanwhile, as AWS would.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use aws_config::{Region, SdkConfig};
use serde_json::Value;

use crate::function::{functions_dir, Spec};
use crate::process::Spawn;
use crate::{http, repo_root, Emulator};

/// Why a stack is not deployed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeployError {
    /// CloudFormation refused the request before it made anything (a parameter
    /// outside its constraints, a failed rule, a stack that does not exist...).
    Refused { code: String, message: String },
    /// The stack ended in `status`; `failures` are its failed events (resource, type,
    /// reason), the failing resources first.
    Failed {
        stack: String,
        region: String,
        status: String,
        failures: Vec<Failure>,
    },
    /// The deploy could not run (the transform, the deployer, its answer).
    Tool(String),
}

/// One failed event of a stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub logical_id: String,
    pub resource_type: String,
    pub status: String,
    pub reason: String,
}

impl fmt::Display for DeployError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeployError::Refused { code, message } => {
                write!(f, "CloudFormation refused the stack: {code}: {message}")
            }
            DeployError::Failed {
                stack,
                region,
                status,
                failures,
            } => {
                write!(f, "stack {stack} in {region} is {status}")?;
                for failure in failures {
                    write!(
                        f,
                        "; {} ({}) {}: {}",
                        failure.logical_id, failure.resource_type, failure.status, failure.reason
                    )?;
                }
                Ok(())
            }
            DeployError::Tool(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for DeployError {}

/// One resource of a stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    pub logical_id: String,
    pub resource_type: String,
    pub physical_id: String,
}

/// One function as deployed: its Lambda configuration and the crate that builds it.
#[derive(Debug, Clone)]
pub struct DeployedFunction {
    pub logical_id: String,
    /// The function's name (its `AWS_LAMBDA_FUNCTION_NAME`).
    pub name: String,
    pub arn: String,
    /// The binary that runs it: the last part of its CodeUri (`functions/<crate>`).
    pub binary: String,
    /// `Environment.Variables`.
    pub variables: BTreeMap<String, String>,
    /// GetFunctionConfiguration's whole answer.
    pub configuration: Value,
}

impl DeployedFunction {
    /// What Lambda puts in the function's environment from its configuration: the
    /// `Environment` variables, `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, and from its
    /// `LoggingConfig` `AWS_LAMBDA_LOG_GROUP_NAME`, `AWS_LAMBDA_LOG_FORMAT` and (in the
    /// JSON format) `AWS_LAMBDA_LOG_LEVEL`.
    pub fn lambda_env(&self) -> Vec<(String, String)> {
        let config = &self.configuration;
        let mut env: Vec<(String, String)> = self
            .variables
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if let Some(memory) = config["MemorySize"].as_u64() {
            env.push(("AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(), memory.to_string()));
        }
        let logging = &config["LoggingConfig"];
        if let Some(group) = logging["LogGroup"].as_str() {
            env.push(("AWS_LAMBDA_LOG_GROUP_NAME".into(), group.into()));
        }
        if let Some(format) = logging["LogFormat"].as_str() {
            env.push(("AWS_LAMBDA_LOG_FORMAT".into(), format.into()));
            if format == "JSON" {
                if let Some(level) = logging["ApplicationLogLevel"].as_str() {
                    env.push(("AWS_LAMBDA_LOG_LEVEL".into(), level.into()));
                }
            }
        }
        env
    }
}

/// The names of one container's resources, read from its deployed stack: what
/// CloudFormation made (outputs, physical ids, the group's hooks), not what the
/// functions' environments say, so the two can be compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerNames {
    /// The `ContainerName` parameter.
    pub container: String,
    /// The `ContainerAddress` output.
    pub domain: String,
    /// The hosted zone: the `HostedZoneId` output (Component=all), else the
    /// `HostedZoneId` parameter (Component=container: the domain stack's zone).
    pub zone: String,
    pub group: String,
    /// The group's terminate lifecycle hook.
    pub hook: String,
    /// The stack's own cluster (Component=all), else its region's base stack's.
    pub cluster: String,
    pub service: String,
    pub task_family: String,
    pub topic_arn: String,
    pub idle_alarm: String,
    pub left_up_alarm: String,
}

/// A stack as CloudFormation reports it.
#[derive(Debug, Clone)]
pub struct Stack {
    pub name: String,
    pub id: String,
    pub region: String,
    pub status: String,
    /// Every parameter's value (the defaults included).
    pub parameters: BTreeMap<String, String>,
    pub outputs: BTreeMap<String, String>,
    pub resources: Vec<Resource>,
    /// By logical id.
    pub functions: BTreeMap<String, DeployedFunction>,
}

impl Stack {
    /// Deploys template.yaml as stack `name` in `region` with `parameters` (the
    /// others at their defaults): creates it, or updates it if it exists. `Ok` once
    /// it is CREATE_COMPLETE or UPDATE_COMPLETE. Meanwhile each request CloudFormation
    /// sends to a custom resource (the stack's `ServiceReconcile`) is answered by the
    /// function its ServiceToken names, run as deployed (its binary must be built).
    pub fn deploy(
        emulator: &Emulator,
        region: &str,
        name: &str,
        parameters: &[(&str, &str)],
    ) -> Result<Stack, DeployError> {
        let template = transformed_template()?;
        let mut args = vec![
            "deploy".to_string(),
            name.to_string(),
            template.display().to_string(),
        ];
        args.extend(parameters.iter().map(|(k, v)| format!("{k}={v}")));
        let stack = run_deployer_answering(emulator, region, &args, Answer::AsDeployed(name))?;
        match stack.status.as_str() {
            "CREATE_COMPLETE" | "UPDATE_COMPLETE" => Ok(stack),
            _ => Err(stack.failed()),
        }
    }

    /// The stack `name` of `region` as it is now.
    pub fn describe(emulator: &Emulator, region: &str, name: &str) -> Result<Stack, DeployError> {
        run_deployer(
            emulator,
            region,
            &["describe".to_string(), name.to_string()],
        )
    }

    /// The stack `name` of `region` as it is at this moment, even while a deploy is
    /// under way (no waiting for it to settle).
    pub fn describe_now(
        emulator: &Emulator,
        region: &str,
        name: &str,
    ) -> Result<Stack, DeployError> {
        run_deployer(
            emulator,
            region,
            &[
                "describe".to_string(),
                name.to_string(),
                "--now".to_string(),
            ],
        )
    }

    /// Deletes the stack; `Ok` once it is DELETE_COMPLETE. Meanwhile, as AWS would,
    /// the custom resources' Delete requests are answered by their functions and the
    /// terminate events of the group's instances (the delete terminates them through
    /// the group's hook) are delivered to the functions the deployed rules route them
    /// to, each run as this stack deployed it.
    pub fn delete(&self, emulator: &Emulator) -> Result<Stack, DeployError> {
        let stack = run_deployer_answering(
            emulator,
            &self.region,
            &["delete".to_string(), self.name.clone()],
            Answer::As(self),
        )?;
        if stack.status == "DELETE_COMPLETE" {
            Ok(stack)
        } else {
            Err(stack.failed())
        }
    }

    fn failed(&self) -> DeployError {
        DeployError::Failed {
            stack: self.name.clone(),
            region: self.region.clone(),
            status: self.status.clone(),
            failures: Vec::new(),
        }
    }

    /// The output `key`.
    pub fn output(&self, key: &str) -> Result<&str, String> {
        self.outputs.get(key).map(String::as_str).ok_or_else(|| {
            format!(
                "stack {} has no output {key} (it has {:?})",
                self.name,
                self.outputs.keys().collect::<Vec<_>>()
            )
        })
    }

    /// The resource `logical_id`.
    pub fn resource(&self, logical_id: &str) -> Result<&Resource, String> {
        self.resources
            .iter()
            .find(|r| r.logical_id == logical_id)
            .ok_or_else(|| format!("stack {} has no resource {logical_id}", self.name))
    }

    /// The physical id of the resource `logical_id` (what Ref gives).
    pub fn physical_id(&self, logical_id: &str) -> Result<&str, String> {
        self.resource(logical_id).map(|r| r.physical_id.as_str())
    }

    /// The logical ids of the resources of `resource_type`.
    pub fn logical_ids_of(&self, resource_type: &str) -> Vec<&str> {
        self.resources
            .iter()
            .filter(|r| r.resource_type == resource_type)
            .map(|r| r.logical_id.as_str())
            .collect()
    }

    /// The function `logical_id` as deployed.
    pub fn function(&self, logical_id: &str) -> Result<&DeployedFunction, String> {
        self.functions
            .get(logical_id)
            .ok_or_else(|| format!("stack {} has no function {logical_id}", self.name))
    }

    /// The function whose binary is `binary` (e.g. `dns-query-trigger`).
    pub fn function_of(&self, binary: &str) -> Result<&DeployedFunction, String> {
        self.functions
            .values()
            .find(|f| f.binary == binary)
            .ok_or_else(|| format!("stack {} has no function built from {binary}", self.name))
    }

    /// One deployed variable of the function `logical_id`.
    pub fn variable(&self, logical_id: &str, name: &str) -> Result<&str, String> {
        self.function(logical_id)?
            .variables
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| format!("{logical_id} in stack {} has no variable {name}", self.name))
    }

    /// The whole environment of the function `logical_id`'s process: what Lambda
    /// gives it from its deployed configuration ([`DeployedFunction::lambda_env`]),
    /// then the standard AWS variables that point it at `emulator` in this stack's
    /// region (the deployed `AWS_ENDPOINT_URL`, empty outside `sam local`, is
    /// replaced).
    pub fn function_env(
        &self,
        emulator: &Emulator,
        logical_id: &str,
    ) -> Result<Vec<(String, String)>, String> {
        let mut env = self.function(logical_id)?.lambda_env();
        for (key, value) in emulator.aws_env() {
            let value = if key == "AWS_REGION" {
                self.region.clone()
            } else {
                value
            };
            env.retain(|(k, _)| *k != key);
            env.push((key, value));
        }
        Ok(env)
    }

    /// How to start the function `logical_id`: its binary from
    /// [`functions_dir`], under its deployed name, with [`Stack::function_env`].
    pub fn function_spec(&self, emulator: &Emulator, logical_id: &str) -> Result<Spec, String> {
        let function = self.function(logical_id)?;
        Ok(
            Spec::new(&function.name, functions_dir().join(&function.binary))
                .envs(self.function_env(emulator, logical_id)?),
        )
    }

    /// SDK configuration for this stack's region of `emulator`.
    pub async fn sdk_config(&self, emulator: &Emulator) -> SdkConfig {
        emulator
            .sdk_config()
            .await
            .into_builder()
            .region(Region::new(self.region.clone()))
            .build()
    }

    /// The names of the container's resources in this stack (a Component=all stack);
    /// the hook is read from the deployed group.
    pub async fn container_names(&self, emulator: &Emulator) -> Result<ContainerNames, String> {
        self.container_names_on(emulator, None).await
    }

    /// The names of the container's resources in this stack, a Component=all stack
    /// (`base` None) or a Component=container stack on the cluster of `base`, its
    /// region's Component=base stack (what the container's Fn::ImportValue reads).
    pub async fn container_names_on(
        &self,
        emulator: &Emulator,
        base: Option<&Stack>,
    ) -> Result<ContainerNames, String> {
        let last = |arn: &str, sep: char| arn.rsplit(sep).next().unwrap_or_default().to_string();
        let group = self.output("AutoScalingGroupName")?.to_string();
        let sdk = self.sdk_config(emulator).await;
        let hooks = aws_sdk_autoscaling::Client::new(&sdk)
            .describe_lifecycle_hooks()
            .auto_scaling_group_name(&group)
            .send()
            .await
            .map_err(|e| format!("DescribeLifecycleHooks {group}: {e:?}"))?;
        let hook = hooks
            .lifecycle_hooks()
            .iter()
            .find(|h| h.lifecycle_transition() == Some("autoscaling:EC2_INSTANCE_TERMINATING"))
            .and_then(|h| h.lifecycle_hook_name())
            .ok_or_else(|| format!("the group {group} has no terminate lifecycle hook"))?
            .to_string();
        let task_definition = last(self.physical_id("TaskDefinition")?, '/');
        let zone = match self.outputs.get("HostedZoneId") {
            Some(zone) => zone.clone(),
            None => self
                .parameters
                .get("HostedZoneId")
                .filter(|z| !z.is_empty())
                .cloned()
                .ok_or_else(|| format!("stack {} names no hosted zone", self.name))?,
        };
        let cluster = match (self.physical_id("Cluster"), base) {
            (Ok(own), _) => own.to_string(),
            (Err(_), Some(base)) => base.physical_id("Cluster")?.to_string(),
            (Err(e), None) => return Err(format!("{e}, and no base stack is given")),
        };
        Ok(ContainerNames {
            container: self
                .parameters
                .get("ContainerName")
                .cloned()
                .ok_or_else(|| format!("stack {} has no ContainerName parameter", self.name))?,
            domain: self.output("ContainerAddress")?.to_string(),
            zone,
            group,
            hook,
            cluster,
            service: last(self.physical_id("Service")?, '/'),
            task_family: task_definition
                .split(':')
                .next()
                .unwrap_or_default()
                .to_string(),
            topic_arn: self.output("TopicArn")?.to_string(),
            idle_alarm: self.physical_id("IdleAlarm")?.to_string(),
            left_up_alarm: self.physical_id("LeftUpAlarm")?.to_string(),
        })
    }

    /// The functions of this stack (logical ids, sorted) that EventBridge delivers
    /// `event` to: the targets of the enabled rules of the stack's region whose
    /// deployed event pattern matches it (the emulator matches, with moto's
    /// EventBridge; nothing is invoked).
    pub fn routed_to(&self, emulator: &Emulator, event: &Value) -> Result<Vec<String>, String> {
        let targets = route(emulator, &self.region, event)?;
        let mut routed: Vec<String> = self
            .functions
            .values()
            .filter(|f| targets.contains(&f.arn))
            .map(|f| f.logical_id.clone())
            .collect();
        routed.sort();
        Ok(routed)
    }

    /// Every request CloudFormation sent to this stack's custom resources, oldest
    /// first, with the answer its function gave.
    pub fn custom_resource_requests(
        &self,
        emulator: &Emulator,
    ) -> Result<Vec<CustomResourceRequest>, String> {
        custom_resource_requests(emulator, &self.region, &self.name, None)
    }

    /// What the emulator's CloudFormation bridges made or completed for this stack.
    pub fn bridged(&self, emulator: &Emulator) -> Result<Vec<Bridged>, String> {
        Ok(bridged(emulator)?
            .into_iter()
            .filter(|b| b.stack == self.name && b.region == self.region)
            .collect())
    }
}

/// The ARNs of the targets EventBridge delivers `event` to in `region`: those of every
/// enabled rule of the region whose deployed event pattern matches it (the emulator
/// matches, with moto's EventBridge; nothing is invoked).
pub fn route(emulator: &Emulator, region: &str, event: &Value) -> Result<Vec<String>, String> {
    let body = serde_json::json!({"Region": region, "Event": event}).to_string();
    let (status, text) = http::request(
        emulator.port(),
        "POST",
        "/_cm/eventbridge/route",
        Some(&body),
    )
    .map_err(|e| format!("POST /_cm/eventbridge/route: {e}"))?;
    if status != 200 {
        return Err(format!(
            "POST /_cm/eventbridge/route answered {status}: {text}"
        ));
    }
    let routes: Value = serde_json::from_str(&text)
        .map_err(|e| format!("POST /_cm/eventbridge/route: {e}: {text}"))?;
    Ok(routes
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["Targets"].as_array().into_iter().flatten())
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect())
}

/// One enabled scheduled EventBridge rule of a stack's region (`GET
/// /_cm/eventbridge/schedules`): what EventBridge invokes on its schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub rule: String,
    pub arn: String,
    /// `rate(1 minute)`, `cron(...)`.
    pub expression: String,
    /// The logical ids of this stack's functions among its targets, sorted.
    pub targets: Vec<String>,
}

impl Stack {
    /// The enabled scheduled rules of this stack's region that invoke one of its
    /// functions (the emulator lists them from moto's EventBridge; nothing runs).
    pub fn schedules(&self, emulator: &Emulator) -> Result<Vec<Schedule>, String> {
        let path = format!("/_cm/eventbridge/schedules?region={}", self.region);
        let doc = harness_get(emulator, &path)?;
        let mut schedules = Vec::new();
        for rule in doc.as_array().into_iter().flatten() {
            let arns: Vec<&str> = rule["Targets"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let mut targets: Vec<String> = self
                .functions
                .values()
                .filter(|f| arns.contains(&f.arn.as_str()))
                .map(|f| f.logical_id.clone())
                .collect();
            if targets.is_empty() {
                continue;
            }
            targets.sort();
            schedules.push(Schedule {
                rule: text(rule, "Rule"),
                arn: text(rule, "RuleArn"),
                expression: text(rule, "ScheduleExpression"),
                targets,
            });
        }
        Ok(schedules)
    }

    /// Every message published to the SNS topics of this stack's region, in the SNS
    /// API's shape (`[{"TopicArn", "MessageId", "Subject", "Message", ...}]`).
    pub fn sns_messages(&self, emulator: &Emulator) -> Result<Vec<Value>, String> {
        let path = format!("/_cm/sns-messages?region={}", self.region);
        match harness_get(emulator, &path)? {
            Value::Array(messages) => Ok(messages),
            other => Err(format!("GET {path}: not a list: {other}")),
        }
    }

    /// Registers, in this stack's region, the terminate lifecycle action of
    /// `instance` that its group's `hook` starts (the emulator then completes it once,
    /// as Auto Scaling does).
    pub fn begin_lifecycle_action(
        &self,
        emulator: &Emulator,
        group: &str,
        hook: &str,
        instance: &str,
        token: &str,
    ) -> Result<(), String> {
        let body = serde_json::json!({
            "AutoScalingGroupName": group, "LifecycleHookName": hook,
            "InstanceId": instance, "LifecycleActionToken": token, "Region": self.region,
        })
        .to_string();
        let (status, text) = http::request(
            emulator.port(),
            "POST",
            "/_cm/lifecycle-actions",
            Some(&body),
        )
        .map_err(|e| format!("POST /_cm/lifecycle-actions: {e}"))?;
        if status != 200 {
            return Err(format!(
                "POST /_cm/lifecycle-actions answered {status}: {text}"
            ));
        }
        Ok(())
    }
}

/// `GET path` of the emulator's harness, as JSON.
fn harness_get(emulator: &Emulator, path: &str) -> Result<Value, String> {
    let (status, text) = http::request(emulator.port(), "GET", path, None)
        .map_err(|e| format!("GET {path}: {e}"))?;
    if status != 200 {
        return Err(format!("GET {path} answered {status}: {text}"));
    }
    serde_json::from_str(&text).map_err(|e| format!("GET {path}: {e}: {text}"))
}

/// Puts the SSM SecureString parameter `name` = `value` in `region` of the emulator,
/// as `aws ssm put-parameter --type SecureString --overwrite` does.
pub fn put_secure_string(
    emulator: &Emulator,
    region: &str,
    name: &str,
    value: &str,
) -> Result<(), String> {
    let body = serde_json::json!({
        "Name": name,
        "Value": value,
        "Type": "SecureString",
        "Overwrite": true,
    });
    json_api(emulator, region, "ssm", "AmazonSSM.PutParameter", &body)
        .map(|_| ())
        .map_err(|e| format!("{e} ({name})"))
}

/// One call of an AWS JSON-protocol API to `region` of the emulator, as the AWS CLI
/// makes it: `target` is the `X-Amz-Target` (`AmazonSSM.PutParameter`,
/// `Logs_20140328.DescribeResourcePolicies`...), `service` the signing name (`ssm`,
/// `logs`; the emulator reads the service and the region from the credential scope and
/// checks no signature). The answer's JSON; `Err` names the call and what it answered.
pub fn json_api(
    emulator: &Emulator,
    region: &str,
    service: &str,
    target: &str,
    body: &Value,
) -> Result<Value, String> {
    use std::io::{BufReader, Write};
    let body = body.to_string();
    let port = emulator.port();
    let operation = target.rsplit('.').next().unwrap_or(target);
    let failed = |e: std::io::Error| format!("{service}:{operation} in {region}: {e}");
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).map_err(failed)?;
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .map_err(failed)?;
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Content-Type: application/x-amz-json-1.1\r\nX-Amz-Target: {target}\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/{region}/{service}/aws4_request, \
         SignedHeaders=host;x-amz-target, Signature=0\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .map_err(failed)?;
    let mut reader = BufReader::new(stream);
    let (status, headers) = http::read_head(&mut reader)
        .map_err(failed)?
        .ok_or_else(|| format!("{service}:{operation} in {region}: no answer"))?;
    let answer = http::read_body(&mut reader, &headers)
        .ok()
        .flatten()
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&answer);
    if status.split_whitespace().nth(1) != Some("200") {
        return Err(format!(
            "{service}:{operation} in {region}: {status}: {text}"
        ));
    }
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(&text)
        .map_err(|e| format!("{service}:{operation} in {region}: {e}: {text}"))
}

/// One resource a CloudFormation bridge of the emulator made or completed (see
/// `CFN_BRIDGES` in `tests/emulator/cm_emulator.py`).
#[derive(Debug, Clone)]
pub struct Bridged {
    /// The bridge's key in `CFN_BRIDGES`.
    pub bridge: String,
    pub region: String,
    pub stack: String,
    pub logical_id: String,
    pub resource_type: String,
    pub physical_id: String,
    /// The resource's properties as the bridge was given them.
    pub properties: Value,
}

/// Everything the emulator's CloudFormation bridges made or completed.
pub fn bridged(emulator: &Emulator) -> Result<Vec<Bridged>, String> {
    let (status, text) = http::request(emulator.port(), "GET", "/_cm/bridged", None)
        .map_err(|e| format!("GET /_cm/bridged: {e}"))?;
    if status != 200 {
        return Err(format!("GET /_cm/bridged answered {status}: {text}"));
    }
    let doc: Value =
        serde_json::from_str(&text).map_err(|e| format!("GET /_cm/bridged: {e}: {text}"))?;
    let text_of = |item: &Value, key: &str| item[key].as_str().unwrap_or_default().to_string();
    Ok(doc
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|item| Bridged {
                    bridge: text_of(item, "Bridge"),
                    region: text_of(item, "Region"),
                    stack: text_of(item, "StackName"),
                    logical_id: text_of(item, "LogicalResourceId"),
                    resource_type: text_of(item, "ResourceType"),
                    physical_id: text_of(item, "PhysicalResourceId"),
                    properties: item["Properties"].clone(),
                })
                .collect()
        })
        .unwrap_or_default())
}

/// A request CloudFormation sent to a custom resource (see the "Custom resources"
/// bridge of `tests/emulator/cm_emulator.py`), and its answer.
#[derive(Debug, Clone)]
pub struct CustomResourceRequest {
    pub logical_id: String,
    /// `Create`, `Update` or `Delete`.
    pub request_type: String,
    /// `pending` or `answered`.
    pub state: String,
    /// The event the function is invoked with.
    pub request: Value,
    /// The answer PUT to the request's ResponseURL (`Null` while pending).
    pub answer: Value,
}

/// The custom resource requests of stack `stack` in `region` (only those in `state`
/// when given).
fn custom_resource_requests(
    emulator: &Emulator,
    region: &str,
    stack: &str,
    state: Option<&str>,
) -> Result<Vec<CustomResourceRequest>, String> {
    let mut path = format!("/_cm/custom-resources?stack={stack}&region={region}");
    if let Some(state) = state {
        path.push_str(&format!("&state={state}"));
    }
    let (status, text) = http::request(emulator.port(), "GET", &path, None)
        .map_err(|e| format!("GET {path}: {e}"))?;
    if status != 200 {
        return Err(format!("GET {path} answered {status}: {text}"));
    }
    let doc: Value = serde_json::from_str(&text).map_err(|e| format!("GET {path}: {e}: {text}"))?;
    Ok(doc
        .as_array()
        .into_iter()
        .flatten()
        .map(|item| CustomResourceRequest {
            logical_id: text_of(item, "LogicalResourceId"),
            request_type: text_of(item, "RequestType"),
            state: text_of(item, "State"),
            request: item["Request"].clone(),
            answer: item["Answer"].clone(),
        })
        .collect())
}

fn text_of(item: &Value, key: &str) -> String {
    item[key].as_str().unwrap_or_default().to_string()
}

/// Who answers the custom resource requests sent while the deployer runs.
#[derive(Clone, Copy)]
enum Answer<'a> {
    /// Nobody (a describe sends none).
    Nobody,
    /// The function the request's ServiceToken names, as the stack `name` deploys it
    /// (read while the deploy is under way).
    AsDeployed(&'a str),
    /// The function the ServiceToken names, as this stack deployed it (for a delete,
    /// when the stack can no longer be described).
    As(&'a Stack),
}

/// Sends `request` to the function of `stack` its ServiceToken names, run as deployed
/// (as Lambda invokes a custom resource's function); `Err` says why it could not.
fn invoke_for_custom_resource(
    emulator: &Emulator,
    stack: &Stack,
    request: &Value,
) -> Result<(), String> {
    let token = request["ServiceToken"].as_str().unwrap_or_default();
    let function = stack
        .functions
        .values()
        .find(|f| f.arn == token || f.name == token)
        .ok_or_else(|| {
            format!(
                "the custom resource {} names the function {token}, which stack {} does not have",
                request["LogicalResourceId"], stack.name
            )
        })?;
    let running = stack
        .function_spec(emulator, &function.logical_id)?
        .timeouts(
            std::time::Duration::from_secs(60),
            std::time::Duration::from_secs(60),
        )
        .temp_log()
        .start()?;
    match running.invoke(request.clone()) {
        crate::Outcome::Response(_) => Ok(()),
        crate::Outcome::Error(error) => Err(format!(
            "{} answered the {} request of {} with an error: {error}\n{}",
            function.logical_id,
            request["RequestType"],
            request["LogicalResourceId"],
            running.log()
        )),
    }
}

/// The function that completes the group's terminate lifecycle action.
const HOOK_COMPLETER: &str = "AsgEcsSyncFunction";

/// Plays EventBridge for the terminate lifecycle actions the group of `stack` waits
/// on (a stack delete terminates the group's instances through its hook): each new
/// one's event goes to the functions the stack's deployed rules route it to, run as
/// deployed. `delivered` keeps the tokens already delivered.
fn deliver_terminates(
    emulator: &Emulator,
    stack: &Stack,
    delivered: &mut std::collections::BTreeSet<String>,
) -> Result<(), String> {
    let Some(group) = stack.outputs.get("AutoScalingGroupName") else {
        return Ok(());
    };
    let (status, text) = http::request(emulator.port(), "GET", "/_cm/lifecycle-actions", None)
        .map_err(|e| format!("GET /_cm/lifecycle-actions: {e}"))?;
    if status != 200 {
        return Err(format!(
            "GET /_cm/lifecycle-actions answered {status}: {text}"
        ));
    }
    let doc: Value = serde_json::from_str(&text)
        .map_err(|e| format!("GET /_cm/lifecycle-actions: {e}: {text}"))?;
    for action in doc["pending"].as_array().into_iter().flatten() {
        let token = text_of(action, "LifecycleActionToken");
        if text_of(action, "AutoScalingGroupName") != *group
            || text_of(action, "Region") != stack.region
            || !delivered.insert(token.clone())
        {
            continue;
        }
        let event = crate::events::terminate_event(
            group,
            &text_of(action, "LifecycleHookName"),
            &text_of(action, "InstanceId"),
            &token,
        );
        // EventBridge delivers the event to every target at once; the ECS sync then
        // drains the task (seconds) before it completes the action, which lets the
        // delete go on, while the DNS updater answers in milliseconds. Played here in
        // that order: the sync, which completes the action, last.
        let mut targets = stack.routed_to(emulator, &event)?;
        targets.sort_by_key(|logical_id| logical_id == HOOK_COMPLETER);
        for logical_id in targets {
            let running = stack
                .function_spec(emulator, &logical_id)?
                .timeouts(
                    std::time::Duration::from_secs(60),
                    std::time::Duration::from_secs(60),
                )
                .temp_log()
                .start()?;
            if let crate::Outcome::Error(error) = running.invoke(event.clone()) {
                return Err(format!(
                    "{logical_id} answered the terminate of {} with an error: {error}\n{}",
                    text_of(action, "InstanceId"),
                    running.log()
                ));
            }
        }
    }
    Ok(())
}

/// The emulator's Python (`CM_EMULATOR_PYTHON`, else `<repo>/.venv/bin/python`).
fn emulator_python() -> PathBuf {
    std::env::var_os("CM_EMULATOR_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv/bin/python"))
}

/// template.yaml after the SAM transform, as a file: `CM_TRANSFORMED_TEMPLATE` if
/// set, else made by `scripts/transform-template` once per process.
pub fn transformed_template() -> Result<PathBuf, DeployError> {
    static TRANSFORMED: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    if let Some(path) = std::env::var_os("CM_TRANSFORMED_TEMPLATE") {
        return Ok(PathBuf::from(path));
    }
    TRANSFORMED
        .get_or_init(|| transform(&repo_root().join("template.yaml")))
        .clone()
        .map_err(DeployError::Tool)
}

/// Runs `scripts/transform-template` on `template`; the file it wrote.
fn transform(template: &Path) -> Result<PathBuf, String> {
    let output = Spawn::new(repo_root().join("scripts/transform-template"))
        .args([template.as_os_str()])
        .run()?;
    if !output.status.success() {
        return Err(format!(
            "scripts/transform-template {} failed ({}): {}",
            template.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let path = std::env::temp_dir().join(format!("cm-template-{}.json", std::process::id()));
    std::fs::write(&path, &output.stdout)
        .map_err(|e| format!("write the transformed template {}: {e}", path.display()))?;
    Ok(path)
}

/// Runs `tests/emulator/cm_stack.py` against `emulator` in `region` and reads its
/// report.
fn run_deployer(emulator: &Emulator, region: &str, args: &[String]) -> Result<Stack, DeployError> {
    run_deployer_answering(emulator, region, args, Answer::Nobody)
}

/// [`run_deployer`], answering meanwhile each custom resource request of the stack
/// (`args[1]`) as `answer` says, as CloudFormation invokes the function of a custom
/// resource while the stack waits.
fn run_deployer_answering(
    emulator: &Emulator,
    region: &str,
    args: &[String],
    answer: Answer<'_>,
) -> Result<Stack, DeployError> {
    let python = emulator_python();
    let deployer = Spawn::new(&python)
        .args([repo_root()
            .join("tests/emulator/cm_stack.py")
            .into_os_string()])
        .args(["--endpoint".to_string(), emulator.endpoint()])
        .args(["--region", region])
        .args(args.iter().cloned());
    let running = std::thread::spawn(move || deployer.run());
    let stack_name = args.get(1).cloned().unwrap_or_default();
    let mut answered = std::collections::BTreeSet::new();
    let mut problems = Vec::new();
    while !running.is_finished() {
        if !matches!(answer, Answer::Nobody) {
            let pending = custom_resource_requests(emulator, region, &stack_name, Some("pending"))
                .unwrap_or_default();
            for request in pending {
                let id = text_of(&request.request, "RequestId");
                if !answered.insert(id) {
                    continue;
                }
                let result = match answer {
                    Answer::As(stack) => {
                        invoke_for_custom_resource(emulator, stack, &request.request)
                    }
                    Answer::AsDeployed(name) => Stack::describe_now(emulator, region, name)
                        .map_err(|e| e.to_string())
                        .and_then(|stack| {
                            invoke_for_custom_resource(emulator, &stack, &request.request)
                        }),
                    Answer::Nobody => Ok(()),
                };
                if let Err(problem) = result {
                    problems.push(problem);
                }
            }
        }
        if let Answer::As(stack) = answer {
            if let Err(problem) = deliver_terminates(emulator, stack, &mut answered) {
                problems.push(problem);
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let output = running
        .join()
        .map_err(|_| DeployError::Tool("the deployer's thread panicked".to_string()))?
        .map_err(|e| {
            DeployError::Tool(format!(
                "{e}; run ./scripts/setup or set CM_EMULATOR_PYTHON"
            ))
        })?;
    if !problems.is_empty() {
        return Err(DeployError::Tool(problems.join("\n")));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let report: Value = serde_json::from_str(&stdout).map_err(|e| {
        DeployError::Tool(format!(
            "cm_stack.py {} answered no report ({}; {e}): {} {}",
            args.join(" "),
            output.status,
            stdout.trim(),
            stderr.trim()
        ))
    })?;
    if let Some(error) = report.get("Error") {
        return Err(DeployError::Refused {
            code: error["Code"].as_str().unwrap_or_default().to_string(),
            message: error["Message"].as_str().unwrap_or_default().to_string(),
        });
    }
    let stack = parse_report(&report).map_err(DeployError::Tool)?;
    if stack.status.ends_with("_FAILED") || stack.status.contains("ROLLBACK") {
        return Err(DeployError::Failed {
            stack: stack.name,
            region: stack.region,
            status: stack.status,
            failures: parse_failures(&report),
        });
    }
    Ok(stack)
}

fn text(value: &Value, key: &str) -> String {
    match &value[key] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The failed events, the failing resources before the stack's own.
fn parse_failures(report: &Value) -> Vec<Failure> {
    let mut failures: Vec<Failure> = report["Failures"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|item| Failure {
                    logical_id: text(item, "LogicalResourceId"),
                    resource_type: text(item, "ResourceType"),
                    status: text(item, "ResourceStatus"),
                    reason: text(item, "ResourceStatusReason"),
                })
                .collect()
        })
        .unwrap_or_default();
    failures.sort_by_key(|f| f.resource_type == "AWS::CloudFormation::Stack");
    failures
}

/// A [`Stack`] from cm_stack.py's report.
fn parse_report(report: &Value) -> Result<Stack, String> {
    let name = text(report, "StackName");
    if name.is_empty() {
        return Err(format!("the deployer's report names no stack: {report}"));
    }
    let map = |key: &str| -> BTreeMap<String, String> {
        report[key]
            .as_object()
            .map(|o| {
                o.keys()
                    .map(|k| (k.clone(), text(&report[key], k)))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (parameters, outputs) = (map("Parameters"), map("Outputs"));
    let resources = report["Resources"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|r| Resource {
                    logical_id: text(r, "LogicalResourceId"),
                    resource_type: text(r, "ResourceType"),
                    physical_id: text(r, "PhysicalResourceId"),
                })
                .collect()
        })
        .unwrap_or_default();
    let mut functions = BTreeMap::new();
    if let Some(configs) = report["Functions"].as_object() {
        for (logical_id, config) in configs {
            let code = text(&report["CodeUri"], logical_id);
            let binary = code
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or_default();
            if binary.is_empty() {
                return Err(format!(
                    "function {logical_id} of stack {name} has no CodeUri in its Metadata \
                     (scripts/transform-template keeps it there)"
                ));
            }
            let variables = config["Environment"]["Variables"]
                .as_object()
                .map(|vars| {
                    vars.keys()
                        .map(|k| (k.clone(), text(&config["Environment"]["Variables"], k)))
                        .collect()
                })
                .unwrap_or_default();
            functions.insert(
                logical_id.clone(),
                DeployedFunction {
                    logical_id: logical_id.clone(),
                    name: text(config, "FunctionName"),
                    arn: text(config, "FunctionArn"),
                    binary: binary.to_string(),
                    variables,
                    configuration: config.clone(),
                },
            );
        }
    }
    Ok(Stack {
        name,
        id: text(report, "StackId"),
        region: text(report, "Region"),
        status: text(report, "StackStatus"),
        parameters,
        outputs,
        resources,
        functions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report() -> Value {
        json!({
            "StackName": "cm-test-mc", "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/cm-test-mc/1",
            "Region": "eu-west-1", "StackStatus": "CREATE_COMPLETE", "Failures": [],
            "Outputs": {"AutoScalingGroupName": "cm-asg-test-mc"},
            "Resources": [{"LogicalResourceId": "WatchdogFunction", "ResourceType": "AWS::Lambda::Function",
                           "PhysicalResourceId": "cm-function-test-mc-watchdog"}],
            "Functions": {"WatchdogFunction": {
                "FunctionName": "cm-function-test-mc-watchdog", "FunctionArn": "arn:aws:lambda:eu-west-1:123456789012:function:cm-function-test-mc-watchdog",
                "MemorySize": 128,
                "Environment": {"Variables": {"ASG_NAME": "cm-asg-test-mc", "IDLE_MINUTES": "30", "AWS_ENDPOINT_URL": ""}},
                "LoggingConfig": {"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG", "LogGroup": "/aws/lambda/w"}}},
            "CodeUri": {"WatchdogFunction": "functions/watchdog-scale-down"},
        })
    }

    #[test]
    fn a_report_reads_as_the_stack_with_its_functions() {
        let stack = parse_report(&report()).expect("a stack");
        assert_eq!(stack.region, "eu-west-1");
        assert_eq!(stack.output("AutoScalingGroupName"), Ok("cm-asg-test-mc"));
        assert!(stack.output("Nope").is_err());
        assert_eq!(
            stack.physical_id("WatchdogFunction"),
            Ok("cm-function-test-mc-watchdog")
        );
        let function = stack
            .function_of("watchdog-scale-down")
            .expect("the watchdog");
        assert_eq!(function.logical_id, "WatchdogFunction");
        assert_eq!(stack.variable("WatchdogFunction", "IDLE_MINUTES"), Ok("30"));
    }

    #[test]
    fn lambda_sets_the_logging_variables_from_the_configuration() {
        let stack = parse_report(&report()).expect("a stack");
        let env = stack.function("WatchdogFunction").expect("w").lambda_env();
        for (key, value) in [
            ("ASG_NAME", "cm-asg-test-mc"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
            ("AWS_LAMBDA_LOG_LEVEL", "DEBUG"),
            ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/w"),
        ] {
            assert!(
                env.contains(&(key.to_string(), value.to_string())),
                "{key}={value} in {env:?}"
            );
        }
    }

    #[test]
    fn a_function_without_its_code_location_is_an_error() {
        let mut report = report();
        report["CodeUri"] = json!({});
        let error = parse_report(&report).expect_err("no binary");
        assert!(error.contains("WatchdogFunction"), "{error}");
    }

    #[test]
    fn failures_name_the_resource_before_the_stack() {
        let report = json!({"Failures": [
            {"LogicalResourceId": "cm-test-mc", "ResourceType": "AWS::CloudFormation::Stack",
             "ResourceStatus": "CREATE_FAILED", "ResourceStatusReason": "The following resource(s) failed to create: [Topic]."},
            {"LogicalResourceId": "Topic", "ResourceType": "AWS::SNS::Topic",
             "ResourceStatus": "CREATE_FAILED", "ResourceStatusReason": "boom"}]});
        let failures = parse_failures(&report);
        assert_eq!(failures[0].logical_id, "Topic");
        let error = DeployError::Failed {
            stack: "cm-test-mc".into(),
            region: "us-east-1".into(),
            status: "CREATE_FAILED".into(),
            failures,
        };
        let text = error.to_string();
        assert!(
            text.starts_with("stack cm-test-mc in us-east-1 is CREATE_FAILED; Topic (AWS::SNS::Topic) CREATE_FAILED: boom"),
            "{text}"
        );
    }
}
