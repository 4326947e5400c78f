//! The sam-local tier: the functions as `sam build` makes them, run by SAM CLI's own
//! Lambda emulator (the Runtime Interface Emulator in a container of the Lambda base
//! image), against the local AWS emulator on this machine.
//!
//! `scripts/sam-local` prepares everything (Docker, the base image, `sam build`) and
//! runs this file with `--test-threads=1`. The function containers reach the
//! emulator through the Docker bridge's gateway address: the emulator listens on
//! 127.0.0.1 and a forwarder listens on the gateway, so the functions get
//! `--parameter-overrides LocalEndpointUrl=http://<gateway>:<port>` exactly as a
//! person running `sam local invoke` against an emulator would.
//!
//! The resources are the ones `events/env.json` and the sample events name
//! (`cm-asg-dev-mc`, its hook, cluster, service, topic, `mc.example.com`, the
//! registry entry `mc._cm.example.com`, the start token's parameter); the things the
//! emulator chooses itself are put into copies: the hosted zones' ids (into the
//! `--env-vars` file) and the instance id (into the ASG events). Where a function
//! answers over HTTP (a custom resource's ResponseURL, the notifier's webhooks), the
//! samples' URLs are rewritten to a recording listener of this test.
#![cfg(feature = "sam-local")]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_sdk_route53::types::RrType;
use cm_testkit::emulator::{self, Emulator, REGION};
use cm_testkit::panel_fixture::{put_txt, upsert_record};
use cm_testkit::process::{Sink, Spawn};
use cm_testkit::repo_root;
use serde_json::{json, Value};

const TRIGGER: &str = "DnsQueryTriggerFunction";
const SYNC: &str = "AsgEcsSyncFunction";
const UPDATER: &str = "DnsRecordUpdaterFunction";
const WATCHDOG: &str = "WatchdogFunction";
const PROBE: &str = "PresenceProbeFunction";
const PANEL: &str = "ControlPanelFunction";
const NOTIFIER: &str = "NotifierFunction";

/// The folders of `events/` and the test that sends each one's samples (each test
/// checks that it sends every sample of its folders; a folder missing here fails
/// `every_sample_folder_has_its_test`).
const SAMPLE_FOLDERS: [(&str, &str); 7] = [
    ("asg", "every_function_with_every_sample_event"),
    (
        "dns-query-trigger",
        "every_function_with_every_sample_event",
    ),
    (
        "watchdog-scale-down",
        "every_function_with_every_sample_event",
    ),
    ("presence-probe", "every_function_with_every_sample_event"),
    (
        "asg-ecs-sync",
        "the_service_reconcile_custom_resource_converges_and_answers",
    ),
    ("notifier", "the_notifier_posts_only_where_it_may"),
    (
        "control-panel",
        "the_control_panel_serves_its_routes_from_the_registry",
    ),
];

/// The Ed25519 key pair of RFC 8032's first test vector: its public half is
/// `events/env.json`'s `DISCORD_PUBLIC_KEY`, so the test signs Discord's requests
/// with the private half (public too, in the RFC), at the current time.
const DISCORD_TEST_SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";

/// The idle alarm's threshold in the container's registry entry.
const REGISTRY_THRESHOLD: f64 = 20.0;

/// The instance id the sample ASG events carry.
const SAMPLE_INSTANCE: &str = "i-0a1b2c3d4e5f60718";

/// Invocations made through SAM CLI by this test binary.
static INVOCATIONS: AtomicUsize = AtomicUsize::new(0);

// ------------------------------------------------------------------ the set-up

/// Runs a program (`sam`, `docker`) to its end; its standard output, or a panic
/// with its standard error.
fn run(program: &str, args: &[&str]) -> String {
    let output = Spawn::new(program)
        .args(args)
        .envs(aws_env())
        .run()
        .unwrap_or_else(|e| panic!("{e} (scripts/sam-local sets up {program})"));
    if !output.status.success() {
        panic!(
            "{program} {} failed ({}): {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// What SAM CLI passes on to the functions: test credentials and the region.
fn aws_env() -> Vec<(String, String)> {
    [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", REGION),
        ("AWS_DEFAULT_REGION", REGION),
        ("SAM_CLI_TELEMETRY", "0"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// SAM CLI's environment: [`aws_env`], and its own one AWS call (STS
/// GetCallerIdentity, for the account id) sent to the emulator too.
fn sam_env(emulator: &Emulator) -> Vec<(String, String)> {
    let mut env = aws_env();
    env.push(("AWS_ENDPOINT_URL_STS".to_string(), emulator.endpoint()));
    env
}

/// The built template and a Docker daemon must be there; `scripts/sam-local` makes
/// both.
fn check_prerequisites() {
    // SAM CLI runs from the repository's root, as a person would run it: it finds the
    // built template and samconfig.toml there.
    std::env::set_current_dir(repo_root()).unwrap_or_else(|e| panic!("cd to the repository: {e}"));
    let built = repo_root().join(".aws-sam/build/template.yaml");
    assert!(
        built.exists(),
        "{} is missing: run scripts/sam-local (it runs `sam build --beta-features`)",
        built.display()
    );
    assert!(
        std::env::var_os("DOCKER_HOST").is_some(),
        "DOCKER_HOST is not set: run scripts/sam-local (scripts/dockerd-start prints it)"
    );
}

/// The address of this machine on the default Docker bridge, as containers see it:
/// the network's gateway, which older daemons leave out of the network's description
/// (then it is the subnet's first address, which Docker gives the bridge).
fn bridge_gateway() -> String {
    let out = run(
        "docker",
        &[
            "network",
            "inspect",
            "bridge",
            "--format",
            "{{range .IPAM.Config}}{{.Gateway}} {{.Subnet}}{{end}}",
        ],
    );
    let mut fields = out.split_whitespace();
    let (first, second) = (fields.next().unwrap_or_default(), fields.next());
    if second.is_some() {
        return first.to_string();
    }
    let network: std::net::Ipv4Addr = first
        .split('/')
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("the bridge network has no IPv4 subnet: {out:?}"));
    std::net::Ipv4Addr::from(u32::from(network) + 1).to_string()
}

/// Forwards connections to `host`:(a free port) to 127.0.0.1:`port`; returns the
/// port. The threads end with the test process.
fn forward(host: &str, port: u16) -> u16 {
    let listener = TcpListener::bind((host, 0))
        .unwrap_or_else(|e| panic!("listen on the bridge gateway {host}: {e}"));
    let local = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    std::thread::spawn(move || {
        for client in listener.incoming().map_while(Result::ok) {
            let Ok(upstream) = TcpStream::connect(("127.0.0.1", port)) else {
                continue;
            };
            let (Ok(client_w), Ok(upstream_w)) = (client.try_clone(), upstream.try_clone()) else {
                continue;
            };
            std::thread::spawn(move || pipe(client, upstream_w));
            std::thread::spawn(move || pipe(upstream, client_w));
        }
    });
    local
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let _ = std::io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Write);
}

/// A folder of this run's files (the `--env-vars` file, rewritten events, logs),
/// removed at the end.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("cm-sam-local-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        Scratch(dir)
    }

    fn write(&self, name: &str, doc: &Value) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, doc.to_string()).unwrap_or_else(|e| panic!("{name}: {e}"));
        path
    }
}

/// The last `n` lines of `text`, for failure messages.
fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One HTTP request a [`Recorder`] received.
#[derive(Debug, Clone)]
struct Recorded {
    method: String,
    /// The request target: path and query.
    target: String,
    /// The headers, names in lower case.
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

impl Recorded {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{} {}: the body is not JSON ({e}): {}",
                self.method,
                self.target,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// An HTTP listener of this test that records each request and answers 200 with an
/// empty body; the threads end with the test process.
struct Recorder {
    port: u16,
    seen: Arc<Mutex<Vec<Recorded>>>,
}

impl Recorder {
    /// Listens on `host`, a free port.
    fn start(host: &str) -> Recorder {
        let listener =
            TcpListener::bind((host, 0)).unwrap_or_else(|e| panic!("listen on {host}: {e}"));
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let log = log.clone();
                std::thread::spawn(move || {
                    if let Some(request) = read_request(stream) {
                        if let Ok(mut log) = log.lock() {
                            log.push(request);
                        }
                    }
                });
            }
        });
        Recorder { port, seen }
    }

    fn requests(&self) -> Vec<Recorded> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

/// Reads one HTTP/1.1 request (a body by Content-Length or chunked) and answers 200.
fn read_request(mut stream: TcpStream) -> Option<Recorded> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0_u8; 8192];
    let mut more = |buf: &mut Vec<u8>, stream: &mut TcpStream| -> Option<()> {
        let n = stream.read(&mut chunk).ok()?;
        (n > 0).then(|| buf.extend_from_slice(&chunk[..n]))
    };
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        more(&mut buf, &mut stream)?;
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, target) = (first.next()?.to_string(), first.next()?.to_string());
    let headers: BTreeMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = buf.split_off(head_end + 4);
    let chunked = headers
        .get("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    if chunked {
        while !body.ends_with(b"0\r\n\r\n") {
            more(&mut body, &mut stream)?;
        }
        body = dechunk(&body)?;
    } else {
        let length: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        while body.len() < length {
            more(&mut body, &mut stream)?;
        }
        body.truncate(length);
    }
    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    let _ = stream.shutdown(Shutdown::Both);
    Some(Recorded {
        method,
        target,
        headers,
        body,
    })
}

/// A chunked body's content.
fn dechunk(mut raw: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = raw.windows(2).position(|w| w == b"\r\n")?;
        let size_text = String::from_utf8_lossy(&raw[..line_end]).into_owned();
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        raw = &raw[line_end + 2..];
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(raw.get(..size)?);
        raw = raw.get(size + 2..)?;
    }
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn sample_path(name: &str) -> PathBuf {
    repo_root().join("events").join(name)
}

/// The names the samples and `events/env.json` use.
struct Names {
    group: String,
    hook: String,
    cluster: String,
    service: String,
    domain: String,
    topic_arn: String,
    token: String,
    /// The container's short name (`mc`).
    container: String,
    /// The `ContainerName` dimension of its metrics (the presence probe's
    /// `METRIC_DIMENSIONS`): its registry entry's `metric`.
    metric: String,
    /// The domain (`example.com`): the router's and the control panel's
    /// `DOMAIN_NAME`, whose hosted zone holds the registry.
    registry_domain: String,
    /// The control panel's start token's parameter.
    start_parameter: String,
    /// The token of the start sample's `Authorization: Bearer` header.
    start_token: String,
    /// The notifier's webhook list parameter.
    webhooks_parameter: String,
}

impl Names {
    fn from_samples() -> Names {
        let env = read_json(&sample_path("env.json"));
        let var = |function: &str, name: &str| {
            env[function][name]
                .as_str()
                .unwrap_or_else(|| panic!("events/env.json has no {function}.{name}"))
                .to_string()
        };
        let registry_domain = var(TRIGGER, "DOMAIN_NAME");
        assert_eq!(
            registry_domain,
            var(PANEL, "DOMAIN_NAME"),
            "the router and the control panel read the registry of one domain"
        );
        let dimensions: Value = serde_json::from_str(&var(PROBE, "METRIC_DIMENSIONS"))
            .unwrap_or_else(|e| panic!("events/env.json's METRIC_DIMENSIONS: {e}"));
        let metric = dimensions["ContainerName"]
            .as_str()
            .unwrap_or_else(|| panic!("METRIC_DIMENSIONS has no ContainerName: {dimensions}"))
            .to_string();
        let terminate = read_json(&sample_path("asg/terminate-lifecycle-action.json"));
        let detail = |name: &str| {
            terminate["detail"][name]
                .as_str()
                .unwrap_or_else(|| panic!("the terminate sample has no detail.{name}"))
                .to_string()
        };
        Names {
            group: var(SYNC, "ASG_NAME"),
            hook: detail("LifecycleHookName"),
            cluster: var(SYNC, "ECS_CLUSTER_NAME"),
            service: var(SYNC, "ECS_SERVICE_NAME"),
            domain: var(UPDATER, "DOMAIN_NAME"),
            topic_arn: var(UPDATER, "SNS_TOPIC_ARN"),
            token: detail("LifecycleActionToken"),
            container: var(UPDATER, "CONTAINER_NAME"),
            metric,
            registry_domain,
            start_parameter: var(PANEL, "START_TOKEN_PARAMETER"),
            start_token: start_token(),
            webhooks_parameter: var(NOTIFIER, "WEBHOOK_URLS_PARAMETER"),
        }
    }
}

/// The bearer token of `events/control-panel/start.json`.
fn start_token() -> String {
    let start = read_json(&sample_path("control-panel/start.json"));
    start["headers"]["authorization"]
        .as_str()
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or_else(|| panic!("control-panel/start.json has no Bearer authorization"))
        .to_string()
}

/// The emulator with the container's resources, reachable from the function
/// containers, and the files the invocations use.
struct Local {
    emulator: Emulator,
    sdk: SdkConfig,
    names: Names,
    gateway: String,
    /// `LocalEndpointUrl`: the emulator as a container reaches it.
    endpoint: String,
    /// The zone of the container's record (the DNS record updater's).
    zone: String,
    /// The domain's zone, with the registry (the router's and the control panel's).
    domain_zone: String,
    scratch: Scratch,
    /// `events/env.json` with the emulator's hosted zones' ids.
    env_vars: PathBuf,
}

impl Local {
    async fn start(name: &str) -> Local {
        check_prerequisites();
        let gateway = bridge_gateway();
        let emulator = Emulator::start();
        let port = forward(&gateway, emulator.port());
        let endpoint = format!("http://{gateway}:{port}");
        let sdk = emulator.sdk_config().await;
        let names = Names::from_samples();

        let autoscaling = aws_sdk_autoscaling::Client::new(&sdk);
        emulator::create_group(&autoscaling, &names.group, "us-east-1a", 0)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        emulator::put_terminate_hook(&autoscaling, &names.group, &names.hook)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let ecs = aws_sdk_ecs::Client::new(&sdk);
        let family = names.service.replace("-service-", "-task-");
        emulator::create_service(&ecs, &names.cluster, &family, "mc", &names.service)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let route53 = aws_sdk_route53::Client::new(&sdk);
        let zone = emulator::create_zone(&route53, &names.domain, "0.0.0.0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let topic_name = names.topic_arn.rsplit(':').next().unwrap_or_default();
        let topic = emulator::create_topic(&aws_sdk_sns::Client::new(&sdk), topic_name)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            topic, names.topic_arn,
            "the topic's ARN is the one env.json names"
        );

        // The router's and the control panel's: the domain's zone with the
        // container's registry entry (its group, in this region); and the panel's
        // start token as a SecureString.
        let domain_zone = emulator::create_zone(&route53, &names.registry_domain, "0.0.0.0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let entry = cm_core::registry::Entry {
            name: names.container.clone(),
            region: REGION.to_string(),
            asg: names.group.clone(),
            metric: names.metric.clone(),
            threshold: REGISTRY_THRESHOLD,
        };
        put_txt(
            &route53,
            &domain_zone,
            &cm_core::registry::record_name(&entry.name, &names.registry_domain),
            &cm_core::registry::format_value(&entry),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        put_secure_string(&sdk, &names.start_parameter, &names.start_token).await;

        let scratch = Scratch::new(name);
        let mut env = read_json(&sample_path("env.json"));
        env[UPDATER]["HOSTED_ZONE_ID"] = zone.clone().into();
        env[TRIGGER]["HOSTED_ZONE_ID"] = domain_zone.clone().into();
        env[PANEL]["HOSTED_ZONE_ID"] = domain_zone.clone().into();
        let env_vars = scratch.write("env.json", &env);
        Local {
            emulator,
            sdk,
            names,
            gateway,
            endpoint,
            zone,
            domain_zone,
            scratch,
            env_vars,
        }
    }

    fn autoscaling(&self) -> aws_sdk_autoscaling::Client {
        aws_sdk_autoscaling::Client::new(&self.sdk)
    }

    async fn desired(&self) -> i32 {
        emulator::desired(&self.autoscaling(), &self.names.group).await
    }

    async fn set_desired(&self, desired: i32) {
        self.autoscaling()
            .set_desired_capacity()
            .auto_scaling_group_name(&self.names.group)
            .desired_capacity(desired)
            .send()
            .await
            .unwrap_or_else(|e| panic!("SetDesiredCapacity: {e}"));
    }

    async fn instance(&self) -> String {
        emulator::in_service_instance(&self.autoscaling(), &self.names.group)
            .await
            .unwrap_or_else(|| panic!("{} has no InService instance", self.names.group))
    }

    async fn service_desired(&self) -> i32 {
        let ecs = aws_sdk_ecs::Client::new(&self.sdk);
        emulator::service_desired(&ecs, &self.names.cluster, &self.names.service).await
    }

    async fn record(&self) -> String {
        let route53 = aws_sdk_route53::Client::new(&self.sdk);
        emulator::a_record(&route53, &self.zone, &self.names.domain).await
    }

    async fn public_ip(&self, instance: &str) -> String {
        emulator::public_ip(&aws_sdk_ec2::Client::new(&self.sdk), instance).await
    }

    fn messages(&self) -> Vec<String> {
        self.emulator
            .sns_messages()
            .iter()
            .map(|m| m["Message"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// The registry's listings so far: `ListResourceRecordSets` of the domain's zone.
    fn registry_reads(&self) -> u64 {
        self.emulator.call_count(&format!(
            "route53:GET /2013-04-01/hostedzone/{}/rrset",
            self.domain_zone
        ))
    }

    /// The router's outcome for a lookup of the container asking for `unknown` too:
    /// its group set to 1 and its keep-alive point (its idle alarm's threshold + 1),
    /// both in this region.
    fn started(&self, lines: (usize, usize), unknown: &[&str]) -> Value {
        let env = read_json(&self.env_vars);
        let (namespace, metric) = (
            &env[TRIGGER]["METRIC_NAMESPACE"],
            &env[TRIGGER]["METRIC_NAME"],
        );
        json!({
            "message_type": "DATA_MESSAGE",
            "log_group": format!("/aws/route53/{}", self.names.registry_domain),
            "lines_seen": lines.0,
            "lines_matched": lines.1,
            "actions": [
                {"call": "UpdateAutoScalingGroup", "region": REGION,
                 "group": self.names.group, "desired_capacity": 1},
                {"call": "PutMetricData", "region": REGION, "namespace": namespace,
                 "metric": metric, "container": self.names.metric,
                 "value": REGISTRY_THRESHOLD + 1.0},
            ],
            "unknown": unknown,
            "gone": [],
        })
    }

    /// Calls that change something, in total.
    fn writes(&self) -> u64 {
        self.emulator.writes().values().sum()
    }

    /// The calls the functions made: all but SAM CLI's own (STS, for the account id).
    fn function_calls(&self) -> BTreeMap<String, u64> {
        self.emulator
            .calls()
            .into_iter()
            .filter(|(operation, _)| !operation.starts_with("sts:"))
            .collect()
    }

    /// What a person might do by hand: the service's desired count.
    async fn edit_service(&self, desired: i32) {
        aws_sdk_ecs::Client::new(&self.sdk)
            .update_service()
            .cluster(&self.names.cluster)
            .service(&self.names.service)
            .desired_count(desired)
            .send()
            .await
            .unwrap_or_else(|e| panic!("UpdateService: {e}"));
    }

    /// What a person might do by hand: the A record's value.
    async fn edit_record(&self, ip: &str) {
        let route53 = aws_sdk_route53::Client::new(&self.sdk);
        upsert_record(&route53, &self.zone, &self.names.domain, RrType::A, 1, ip)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// The sample ASG event `events/asg/<name>` for `instance`, written to a file;
    /// the sample is noted in `used`.
    fn asg_event(&self, name: &str, instance: &str, used: &mut BTreeSet<String>) -> PathBuf {
        used.insert(format!("asg/{name}"));
        let text = std::fs::read_to_string(sample_path(&format!("asg/{name}")))
            .unwrap_or_else(|e| panic!("events/asg/{name}: {e}"));
        let event: Value = serde_json::from_str(&text.replace(SAMPLE_INSTANCE, instance))
            .unwrap_or_else(|e| panic!("events/asg/{name}: {e}"));
        assert_eq!(
            event["detail"]["AutoScalingGroupName"],
            self.names.group.as_str()
        );
        self.scratch.write(&format!("{instance}-{name}"), &event)
    }

    /// `sam local invoke` with the emulator as the endpoint.
    fn invoke(&self, function: &str, event: &Path) -> Invoked {
        self.invoke_with(function, event, &self.env_vars, Some(&self.endpoint), &[])
    }

    /// `sam local invoke FUNCTION -e EVENT --env-vars ENV_VARS [--parameter-overrides
    /// LocalEndpointUrl=ENDPOINT] --skip-pull-image [EXTRA...]`.
    fn invoke_with(
        &self,
        function: &str,
        event: &Path,
        env_vars: &Path,
        endpoint: Option<&str>,
        extra: &[String],
    ) -> Invoked {
        let relative = |path: &Path| {
            path.strip_prefix(repo_root())
                .unwrap_or(path)
                .display()
                .to_string()
        };
        let event_arg = relative(event);
        let env_arg = relative(env_vars);
        let mut args = vec![
            "local".to_string(),
            "invoke".to_string(),
            function.to_string(),
            "-e".to_string(),
            event_arg.clone(),
            "--env-vars".to_string(),
            env_arg,
            "--skip-pull-image".to_string(),
            "--region".to_string(),
            REGION.to_string(),
        ];
        if let Some(endpoint) = endpoint {
            args.push("--parameter-overrides".to_string());
            args.push(format!("LocalEndpointUrl={endpoint}"));
        }
        args.extend(extra.iter().cloned());
        let started = Instant::now();
        let output = Spawn::new("sam")
            .args(&args)
            .envs(sam_env(&self.emulator))
            .run()
            .unwrap_or_else(|e| panic!("{e} (scripts/sam-local puts .tools/bin on PATH)"));
        let elapsed = started.elapsed();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(
            output.status.success(),
            "sam local invoke {function} -e {event_arg} failed ({}):\n{stderr}",
            output.status
        );
        // The response is the last line of standard output (the logs go to stderr).
        let response = stdout
            .lines()
            .rev()
            .find_map(|line| serde_json::from_str::<Value>(line.trim()).ok())
            .unwrap_or_else(|| panic!("no JSON response from {function}:\n{stdout}\n{stderr}"));
        let invoked = Invoked {
            response,
            logs: stderr,
        };
        report(function, &event_arg, &invoked.summary(), elapsed);
        invoked
    }
}

/// Puts (or overwrites) the SSM SecureString `name`.
async fn put_secure_string(sdk: &SdkConfig, name: &str, value: &str) {
    aws_sdk_ssm::Client::new(sdk)
        .put_parameter()
        .name(name)
        .value(value)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .overwrite(true)
        .send()
        .await
        .unwrap_or_else(|e| panic!("PutParameter {name}: {e}"));
}

fn report(function: &str, event: &str, summary: &str, elapsed: Duration) {
    let n = INVOCATIONS.fetch_add(1, Ordering::SeqCst) + 1;
    println!(
        "sam-local invocation {n:>2}: {function} {event} -> {summary} ({:.1} s)",
        elapsed.as_secs_f64()
    );
}

/// One invocation's response (the function's result, or its error as Lambda
/// reports it) and SAM CLI's log output (the function's logs among it).
struct Invoked {
    response: Value,
    logs: String,
}

impl Invoked {
    fn error_type(&self) -> Option<&str> {
        self.response.get("errorType").and_then(Value::as_str)
    }

    fn error_message(&self) -> &str {
        self.response["errorMessage"].as_str().unwrap_or_default()
    }

    fn ok(&self, what: &str) -> &Value {
        assert!(
            self.error_type().is_none(),
            "{what}: {}\n{}",
            self.response,
            self.logs
        );
        &self.response
    }

    fn failed(&self, what: &str, error_type: &str) -> &str {
        assert_eq!(
            self.error_type(),
            Some(error_type),
            "{what}: {}\n{}",
            self.response,
            self.logs
        );
        self.error_message()
    }

    fn summary(&self) -> String {
        match self.error_type() {
            Some(kind) => format!("{kind}: {}", self.error_message()),
            None => {
                let text = self.response.to_string();
                if text.chars().count() > 160 {
                    format!("{}...", text.chars().take(160).collect::<String>())
                } else {
                    text
                }
            }
        }
    }
}

// ------------------------------------------------------------------ the tests

/// Every sample event in `events/`, each through `sam local invoke` of the function
/// it is for, in the order AWS would send them, with the emulator's state after each.
/// (`start_lambda_serves_repeated_events_from_warm_containers` sends every sample to
/// the functions it is not for.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_function_with_every_sample_event() {
    let local = Local::start("samples").await;
    // The samples this test sends, to check at the end that it sends them all.
    let mut used = BTreeSet::new();
    let sample = |name: &str, used: &mut BTreeSet<String>| {
        used.insert(name.to_string());
        sample_path(name)
    };

    // The presence probe while the group is at 0: it asks nothing, puts nothing.
    let tick = sample("presence-probe/schedule.json", &mut used);
    let writes = local.writes();
    let probed = local.invoke(PROBE, &tick);
    assert_eq!(probed.ok("probe, group at 0")["presence"], "not-probed");
    assert_eq!(
        local.writes(),
        writes,
        "the probe of a stopped group changes nothing"
    );

    // The router: a lookup of a container's name (`mc.example.com`, A) starts it,
    // found in the registry; nothing else does, and a batch that asks for no
    // container does not even read the registry.
    for name in [
        "dns-query-trigger/query-log-other-names.json",
        "dns-query-trigger/control-message.json",
        "dns-query-trigger/aws-sample-no-match.json",
    ] {
        let (writes, reads) = (local.writes(), local.registry_reads());
        let outcome = local
            .invoke(TRIGGER, &sample(name, &mut used))
            .ok(name)
            .clone();
        assert_eq!(outcome["actions"], json!([]), "{name}: {outcome}");
        assert_eq!(outcome["unknown"], json!([]), "{name}: {outcome}");
        assert_eq!(local.writes(), writes, "{name} changes nothing");
        assert_eq!(local.registry_reads(), reads, "{name} reads no registry");
    }
    assert_eq!(local.desired().await, 0);
    let writes = local.writes();
    let invoked = local.invoke(
        TRIGGER,
        &sample("dns-query-trigger/malformed-gzip.json", &mut used),
    );
    let message = invoked.failed("malformed-gzip.json", "InvalidEvent");
    assert!(
        message.contains("gzip"),
        "the error names the bad layer: {message}"
    );
    assert_eq!(local.writes(), writes, "a malformed event changes nothing");
    let (calls, reads) = (
        local.emulator.call_count("monitoring:PutMetricData"),
        local.registry_reads(),
    );
    let lookup = sample("dns-query-trigger/query-log-match.json", &mut used);
    let outcome = local
        .invoke(TRIGGER, &lookup)
        .ok("query-log-match.json")
        .clone();
    assert_eq!(outcome, local.started((3, 1), &[]));
    assert_eq!(
        local.desired().await,
        1,
        "a lookup of the name starts the group"
    );
    assert_eq!(
        local.emulator.call_count("monitoring:PutMetricData"),
        calls + 1,
        "and puts the keep-alive metric once"
    );
    assert_eq!(
        local.registry_reads(),
        reads + 1,
        "the registry is read once (the process is new)"
    );
    // A batch asking for the container twice (any case, trailing dot) and for two
    // names the registry does not hold (`vh`, `old`: removed containers, or never
    // ones): the container's one start and keep-alive, the others listed as unknown
    // and scaling nothing, no error.
    let calls = local.emulator.call_count("monitoring:PutMetricData");
    let several = sample("dns-query-trigger/query-log-several.json", &mut used);
    let outcome = local
        .invoke(TRIGGER, &several)
        .ok("query-log-several.json")
        .clone();
    assert_eq!(outcome, local.started((9, 5), &["old", "vh"]));
    assert_eq!(local.desired().await, 1);
    assert_eq!(
        local.emulator.call_count("monitoring:PutMetricData"),
        calls + 1,
        "one keep-alive for the one container"
    );

    // The instance is up: the service and the record follow it. The ASG samples
    // carry the emulator's instance id instead of the sample's.
    let instance = local.instance().await;
    let ip = local.public_ip(&instance).await;
    assert!(
        !ip.is_empty(),
        "the emulator gives {instance} a public address"
    );
    let launch = local.asg_event("launch-successful.json", &instance, &mut used);
    local.invoke(SYNC, &launch).ok("sync, launch");
    assert_eq!(
        local.service_desired().await,
        1,
        "the service follows the launch"
    );
    local.invoke(UPDATER, &launch).ok("updater, launch");
    assert_eq!(
        local.record().await,
        ip,
        "the record is the instance's address"
    );
    let messages = local.messages();
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(
        messages[0].contains(&ip),
        "the launch is announced: {messages:?}"
    );

    // The presence probe of the booting server: the emulator's instance has an
    // address no container can reach, so the count is unknown; within the boot grace
    // that changes nothing.
    let writes = local.writes();
    let probed = local.invoke(PROBE, &tick);
    let response = probed.ok("probe, booting");
    assert_eq!(response["presence"], "unknown", "{response}");
    assert_eq!(response["boot"], "booting", "{response}");
    assert_eq!(local.writes(), writes, "a booting server is left alone");

    // Warm pools: into the pool changes nothing; out of it is a launch, already
    // followed, so it changes nothing either (the record is already right).
    for name in ["launch-into-warm-pool.json", "launch-from-warm-pool.json"] {
        let event = local.asg_event(name, &instance, &mut used);
        local.invoke(SYNC, &event).ok(name);
        local.invoke(UPDATER, &event).ok(name);
        assert_eq!(local.service_desired().await, 1, "{name}");
        assert_eq!(local.record().await, ip, "{name}");
        assert_eq!(local.messages().len(), 1, "{name} announces nothing");
    }

    // The scheduled runs heal what a missed event or a hand left behind.
    local.edit_service(0).await;
    local.edit_record("192.0.2.99").await;
    let schedule = sample("asg/scheduled-event.json", &mut used);
    local.invoke(SYNC, &schedule).ok("sync, scheduled run");
    assert_eq!(
        local.service_desired().await,
        1,
        "the scheduled run restores the service"
    );
    local
        .invoke(UPDATER, &schedule)
        .ok("updater, scheduled run");
    assert_eq!(
        local.record().await,
        ip,
        "the scheduled run restores the record"
    );
    let writes = local.writes();
    local
        .invoke(SYNC, &schedule)
        .ok("sync, scheduled run, nothing to heal");
    local
        .invoke(UPDATER, &schedule)
        .ok("updater, scheduled run, nothing to heal");
    assert_eq!(
        local.writes(),
        writes,
        "a scheduled run with nothing to heal changes nothing"
    );

    // The watchdog while the container runs: OK and a normal scale-in are ignored,
    // the left-up alarm only tells people (STOP_WHEN_LEFT_UP is false), idle stops.
    for name in [
        "watchdog-scale-down/alarm-idle-ok.json",
        "watchdog-scale-down/ecs-task-scaled-in.json",
    ] {
        let writes = local.writes();
        local.invoke(WATCHDOG, &sample(name, &mut used)).ok(name);
        assert_eq!(local.writes(), writes, "{name} changes nothing");
    }
    let told = local.messages().len();
    for (alarm, desired, what) in [
        ("alarm-left-up.json", 1, "left up: told, not stopped"),
        ("alarm-idle.json", 0, "idle: the group goes to 0"),
    ] {
        let name = format!("watchdog-scale-down/{alarm}");
        let before = local.messages().len();
        local.invoke(WATCHDOG, &sample(&name, &mut used)).ok(alarm);
        assert_eq!(local.desired().await, desired, "{what}");
        assert_eq!(
            local.messages().len(),
            before + 1,
            "{alarm}: people are told"
        );
    }

    // The instance's terminate lifecycle action: the service stops, the action is
    // completed once, the record goes back to the unavailable address.
    local.emulator.begin_lifecycle_action(
        &local.names.group,
        &local.names.hook,
        &instance,
        &local.names.token,
    );
    let terminate = local.asg_event("terminate-lifecycle-action.json", &instance, &mut used);
    local.invoke(SYNC, &terminate).ok("sync, terminate");
    assert_eq!(
        local.service_desired().await,
        0,
        "the service follows the terminate"
    );
    assert_eq!(local.emulator.completed_lifecycle_actions(), 1);
    local
        .invoke(SYNC, &terminate)
        .ok("sync, the same terminate again");
    assert_eq!(
        local.emulator.completed_lifecycle_actions(),
        1,
        "completed once"
    );
    local.invoke(UPDATER, &terminate).ok("updater, terminate");
    assert_eq!(local.record().await, "0.0.0.0");
    let messages = local.messages();
    assert_eq!(messages.len(), told + 3, "{messages:?}");
    assert!(
        messages[told + 2].contains("shutting down"),
        "the stop is announced: {messages:?}"
    );

    // The other ways the watchdog stops a running container: a crash, a task that
    // cannot start, the idle alarm through SNS. Each time the owner starts it again
    // first (as the console would).
    for name in [
        "watchdog-scale-down/ecs-task-crashed.json",
        "watchdog-scale-down/ecs-task-failed-to-start.json",
        "watchdog-scale-down/sns-alarm-idle.json",
    ] {
        local.set_desired(1).await;
        let told = local.messages().len();
        local.invoke(WATCHDOG, &sample(name, &mut used)).ok(name);
        assert_eq!(local.desired().await, 0, "{name} stops the group");
        assert_eq!(local.messages().len(), told + 1, "{name}: people are told");
    }

    // Every sample of these functions went through here.
    for folder in [
        "dns-query-trigger",
        "asg",
        "watchdog-scale-down",
        "presence-probe",
    ] {
        assert_known(&json_files(&sample_path(folder)), &used);
    }
}

/// Every sample of `folder` (its subfolders too) is in `used`.
fn assert_all_sent(folder: &str, used: &BTreeSet<String>) {
    assert_known(&event_files(&sample_path(folder)), used);
}

/// Every one of `files` (samples in `events/`) is in `used`, by its path below
/// `events/`: one that is not is a sample this tier does not know.
fn assert_known(files: &[PathBuf], used: &BTreeSet<String>) {
    let root = repo_root().join("events");
    for file in files {
        let name = file
            .strip_prefix(&root)
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        assert!(
            used.contains(&name),
            "events/{name}: a sample this tier does not know; add it here"
        );
    }
}

/// Every folder of `events/` is one a test of this tier sends in full.
#[test]
fn every_sample_folder_has_its_test() {
    let mut folders: Vec<String> = std::fs::read_dir(repo_root().join("events"))
        .unwrap_or_else(|e| panic!("events/: {e}"))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    folders.sort();
    let mut known: Vec<String> = SAMPLE_FOLDERS.iter().map(|(f, _)| f.to_string()).collect();
    known.sort();
    assert_eq!(
        folders, known,
        "a folder of events/ this tier does not send: add it to SAMPLE_FOLDERS and its test"
    );
}

/// The stack's `ServiceReconcile` custom resource through `sam local invoke` of the
/// ECS sync: each sample's ResponseURL leads to a recording listener of this test
/// (on the bridge gateway, where the container reaches it), which checks the answer
/// CloudFormation would read; Create and Update converge the service on the group
/// (desired 1 iff an instance is InService), Delete answers and changes nothing; a
/// request for another service is answered FAILED, changing nothing; one without a
/// usable ResponseURL is an `InvalidEvent`, changing nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_reconcile_custom_resource_converges_and_answers() {
    let local = Local::start("custom-resource").await;
    let recorder = Recorder::start(&local.gateway);
    let mut used = BTreeSet::new();
    // The sample as CloudFormation would send it, answering at the recorder: the
    // pre-signed URL's path and query kept, its scheme and host this machine's.
    let request = |name: &str, used: &mut BTreeSet<String>| -> (Value, String) {
        let file = format!("asg-ecs-sync/{name}");
        used.insert(file.clone());
        let mut event = read_json(&sample_path(&file));
        let url = event["ResponseURL"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let target = url
            .strip_prefix("https://")
            .and_then(|rest| rest.find('/').map(|i| rest[i..].to_string()))
            .unwrap_or_else(|| panic!("events/{file}: ResponseURL is not an https URL: {url}"));
        event["ResponseURL"] = format!("http://{}:{}{target}", local.gateway, recorder.port).into();
        (event, target)
    };
    let send = |event: &Value, name: &str| local.scratch.write(name, event);
    // A request (as `request` makes it) through the sync as `what`, its event written
    // to `file`, and the one answer it PUT, checked against the request.
    let reconcile = |(event, target): &(Value, String), file: &str, what: &str, status: &str| {
        let before = recorder.requests().len();
        local.invoke(SYNC, &send(event, file)).ok(what);
        let requests = recorder.requests();
        assert_eq!(
            requests.len(),
            before + 1,
            "one answer per request: {requests:?}"
        );
        let put = &requests[before];
        assert_eq!(put.method, "PUT");
        assert_eq!(&put.target, target, "the answer goes to the pre-signed URL");
        assert!(
            !put.headers.contains_key("content-type"),
            "a pre-signed PUT without a signed Content-Type sends none: {:?}",
            put.headers
        );
        let answer = put.json();
        assert_eq!(answer["Status"], status, "{answer}");
        for field in ["RequestId", "LogicalResourceId", "StackId"] {
            assert_eq!(answer[field], event[field], "{field}: {answer}");
        }
        let physical = match event["PhysicalResourceId"].as_str() {
            Some(id) => id.to_string(),
            None => format!("{}/{}", local.names.cluster, local.names.service),
        };
        assert_eq!(answer["PhysicalResourceId"], physical.as_str(), "{answer}");
        answer
    };

    // Create, the group at 0 and the service at 1 by hand: the service goes to 0.
    local.edit_service(1).await;
    let create = request("service-reconcile-create.json", &mut used);
    let answer = reconcile(&create, "create.json", "Create", "SUCCESS");
    assert_eq!(answer["Data"]["DesiredCount"], "0", "{answer}");
    assert_eq!(local.service_desired().await, 0, "no instance: service 0");

    // Update with the group up: the service goes to 1.
    local.set_desired(1).await;
    let instance = local.instance().await;
    let update = request("service-reconcile-update.json", &mut used);
    let answer = reconcile(&update, "update.json", "Update, the group up", "SUCCESS");
    assert_eq!(answer["Data"]["DesiredCount"], "1", "{answer}");
    assert!(
        answer["Reason"]
            .as_str()
            .unwrap_or_default()
            .contains(&instance),
        "the reason names the InService instance: {answer}"
    );
    assert_eq!(local.service_desired().await, 1, "{instance} InService: 1");

    // The same Update again: answered, nothing to change.
    let writes = local.writes();
    reconcile(
        &update,
        "update.json",
        "Update, nothing to change",
        "SUCCESS",
    );
    assert_eq!(
        local.writes(),
        writes,
        "an Update with nothing to change writes nothing"
    );

    // Update with the group at 0: the service goes to 0.
    local.set_desired(0).await;
    assert_eq!(
        emulator::in_service_instance(&local.autoscaling(), &local.names.group).await,
        None,
        "the group at 0 has no InService instance"
    );
    let answer = reconcile(&update, "update.json", "Update, the group at 0", "SUCCESS");
    assert_eq!(answer["Data"]["DesiredCount"], "0", "{answer}");
    assert_eq!(local.service_desired().await, 0, "no instance: service 0");

    // Delete: SUCCESS, nothing changed (the service at 1 by hand stays at 1).
    local.edit_service(1).await;
    let writes = local.writes();
    let delete = request("service-reconcile-delete.json", &mut used);
    reconcile(&delete, "delete.json", "Delete", "SUCCESS");
    assert_eq!(local.writes(), writes, "a Delete changes nothing");
    assert_eq!(
        local.service_desired().await,
        1,
        "a Delete leaves the service"
    );

    // A request for another cluster: answered FAILED, naming it; nothing changed.
    let mut other = update.clone();
    other.0["ResourceProperties"]["Cluster"] = "cm-cluster-prod-mc".into();
    let answer = reconcile(
        &other,
        "other-cluster.json",
        "Update of another cluster",
        "FAILED",
    );
    assert!(
        answer["Reason"]
            .as_str()
            .unwrap_or_default()
            .contains("ResourceProperties.Cluster"),
        "the reason names the property: {answer}"
    );
    assert_eq!(local.writes(), writes, "a refused request changes nothing");

    // No usable ResponseURL: an InvalidEvent, no answer, nothing changed.
    let mut nowhere = update.0.clone();
    nowhere["ResponseURL"] = "ftp://example.com/answer".into();
    let before = recorder.requests().len();
    let invoked = local.invoke(SYNC, &send(&nowhere, "nowhere.json"));
    let message = invoked.failed("a request without an http(s) ResponseURL", "InvalidEvent");
    assert!(message.contains("ResponseURL"), "{message}");
    assert_eq!(recorder.requests().len(), before, "nothing answered");
    assert_eq!(
        local.writes(),
        writes,
        "a malformed request changes nothing"
    );
    assert_eq!(local.service_desired().await, 1);

    assert_all_sent("asg-ecs-sync", &used);
}

/// The notifier's samples, as `events/notifier/` holds them.
const NOTIFIER_SAMPLES: [&str; 4] = [
    "notifier/sns-up.json",
    "notifier/sns-crashed.json",
    "notifier/generated/sns-notification.json",
    "notifier/generated/sns-down.json",
];

/// The notifier through `sam local invoke`, its webhook list an SSM SecureString in
/// the emulator. It takes plain http only for a loopback host, and `sam local` cannot
/// put a function's container on the host's network (SAM CLI 1.170 takes
/// `--docker-network host` but only skips connecting the container to a network then:
/// it stays on the default bridge, with a loopback of its own; and `--add-host
/// localhost:<gateway>` does not help, the container's resolver answering the first
/// `localhost` line of its hosts file, 127.0.0.1, only). What is posted, and in which
/// format, is checked by the notifier's own tiers (`tests/handler.rs`,
/// `tests/emulator.rs`). Here:
///
/// - URLs of `127.0.0.1` (a recording listener of this test on this machine's
///   loopback, which the container's own loopback is not): every sample is the clean
///   `HttpError` naming each webhook by its label, never its URL or token, after its
///   attempts; nothing is posted, nothing changed;
/// - a plain-http URL of the bridge address, where a listener of this test is in the
///   container's reach: refused by the loopback rule before anything is posted (a
///   `ConfigError` naming the line, not the URL).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_notifier_posts_only_where_it_may() {
    let local = Local::start("notifier").await;
    let mut used = BTreeSet::new();
    let paths = ["/api/webhooks/1/token", "/services/x", "/plain"];
    let list = |host: &str, port: u16| -> String {
        paths
            .iter()
            .map(|path| format!("http://{host}:{port}{path}\n"))
            .collect()
    };
    let messages: Vec<PathBuf> = NOTIFIER_SAMPLES
        .iter()
        .map(|name| {
            used.insert(name.to_string());
            sample_path(name)
        })
        .collect();

    // 127.0.0.1: refused in the container; a clean error, nothing posted.
    let loopback = Recorder::start("127.0.0.1");
    put_secure_string(
        &local.sdk,
        &local.names.webhooks_parameter,
        &list("127.0.0.1", loopback.port),
    )
    .await;
    let writes = local.writes();
    for path in &messages {
        let invoked = local.invoke(NOTIFIER, path);
        let message = invoked.failed("webhooks on 127.0.0.1", "HttpError");
        for label in ["#1 (discord)", "#2 (slack)", "#3 (plain)"] {
            assert!(
                message.contains(label),
                "the error names {label}: {message}"
            );
        }
        for path in paths {
            assert!(
                !message.contains(path) && !invoked.logs.contains(path),
                "a webhook's URL reached the error or the log: {message}\n{}",
                invoked.logs
            );
        }
    }
    assert!(loopback.requests().is_empty(), "{:?}", loopback.requests());
    assert_eq!(local.writes(), writes, "the notifier changes nothing");

    // A plain-http URL of the bridge address: refused by the rule, nothing posted.
    let bridge = Recorder::start(&local.gateway);
    put_secure_string(
        &local.sdk,
        &local.names.webhooks_parameter,
        &list(&local.gateway, bridge.port),
    )
    .await;
    let (before, writes) = (bridge.requests().len(), local.writes());
    let invoked = local.invoke(NOTIFIER, &messages[0]);
    let message = invoked.failed("plain http to a non-loopback host", "ConfigError");
    assert!(
        message.contains("line 1") && message.contains("loopback"),
        "{message}"
    );
    assert!(!message.contains("/api/webhooks/1/token"), "{message}");
    assert_eq!(bridge.requests().len(), before, "nothing posted");

    // Not an SNS event: refused before the parameter is read.
    let calls = local.function_calls();
    let invoked = local.invoke(NOTIFIER, &sample_path("presence-probe/schedule.json"));
    invoked.failed("a scheduled event", "InvalidEvent");
    assert_eq!(local.function_calls(), calls, "nothing was read");
    assert_eq!(local.writes(), writes, "nothing changed");

    assert_all_sent("notifier", &used);
}

/// Signs `message` with the Ed25519 key of `seed` (hex) with Python's
/// `cryptography` in the emulator's virtualenv; returns the signature and the public
/// key, in hex.
fn ed25519_sign(seed: &str, message: &[u8]) -> (String, String) {
    let script = "import sys\n\
                  from cryptography.hazmat.primitives import serialization as s\n\
                  from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey\n\
                  k = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(sys.argv[1]))\n\
                  p = k.public_key().public_bytes(s.Encoding.Raw, s.PublicFormat.Raw)\n\
                  print(k.sign(bytes.fromhex(sys.argv[2])).hex(), p.hex())";
    let hex: String = message.iter().map(|b| format!("{b:02x}")).collect();
    let output = Spawn::new(python())
        .args(["-c".to_string(), script.to_string(), seed.to_string(), hex])
        .run()
        .unwrap_or_else(|e| panic!("{e}"));
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (signature, public) = text.trim().split_once(' ').unwrap_or_else(|| {
        panic!(
            "the signer: {text}{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (signature.to_string(), public.to_string())
}

fn python() -> PathBuf {
    std::env::var("CM_EMULATOR_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo_root().join(".venv/bin/python"))
}

/// A Function URL response: its status, its `content-type` and its body (as JSON
/// when it is JSON).
fn http_response(response: &Value) -> (u64, String, Value) {
    let status = response["statusCode"].as_u64().unwrap_or(0);
    let content_type = response["headers"]["content-type"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let body = response["body"].as_str().unwrap_or_default();
    let doc = serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_string()));
    (status, content_type, doc)
}

/// The control panel through `sam local invoke` with the Function URL samples, the
/// registry (`mc._cm.example.com` naming the container's group), the group and the
/// start token in the emulator: the page names the container, `/status` gives its
/// state, a start without the token is a 401 and scales nothing, the start with it
/// is a 202 and the group at 1. The Discord samples carry a placeholder signature
/// over a fixed timestamp: refused (401), reading nothing; signed again at the
/// current time with the key whose public half `events/env.json` holds (RFC 8032's
/// test key), the ping is answered `{"type":1}`, the status and start commands as
/// Discord shows them, the start scaling the group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_panel_serves_its_routes_from_the_registry() {
    let local = Local::start("panel").await;
    let mut used = BTreeSet::new();
    let sample = |name: &str, used: &mut BTreeSet<String>| {
        let file = format!("control-panel/{name}");
        used.insert(file.clone());
        sample_path(&file)
    };
    let name = local.names.container.clone();
    let address = format!("{name}.{}", local.names.registry_domain);
    let invoke = |event: &Path, what: &str| http_response(local.invoke(PANEL, event).ok(what));

    // The page and the JSON status, the group at 0.
    let (status, content_type, page) = invoke(&sample("page.json", &mut used), "page");
    assert_eq!(status, 200, "{page}");
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let page = page.as_str().unwrap_or_default().to_string();
    assert!(
        page.contains(&format!("<li data-name=\"{name}\">")),
        "the page names {name}: {page}"
    );
    let status_sample = sample("status.json", &mut used);
    let (status, content_type, doc) = invoke(&status_sample, "status");
    assert_eq!((status, content_type.as_str()), (200, "application/json"));
    assert_eq!(
        doc,
        json!({"containers": [
            {"name": name, "state": "asleep", "address": address, "players": null}
        ]})
    );

    // A start without the token: 401, nothing scaled.
    let writes = local.writes();
    let (status, _, doc) = invoke(&sample("start-without-token.json", &mut used), "no token");
    assert_eq!(status, 401, "{doc}");
    assert_eq!(local.desired().await, 0);
    assert_eq!(
        local.writes(),
        writes,
        "a start without the token changes nothing"
    );

    // The Discord samples as they are: a placeholder signature, an old timestamp.
    let calls = local.function_calls();
    let discord = [
        "discord-ping.json",
        "discord-status.json",
        "discord-start.json",
    ];
    for file in discord {
        let (status, _, doc) = invoke(&sample(file, &mut used), file);
        assert_eq!(status, 401, "{file}: {doc}");
    }
    assert_eq!(
        local.function_calls(),
        calls,
        "an unsigned Discord request reads nothing"
    );

    // Signed again, now, with RFC 8032's test key.
    let signed = |file: &str| -> PathBuf {
        let mut event = read_json(&sample_path(&format!("control-panel/{file}")));
        let body = event["body"].as_str().unwrap_or_default().to_string();
        let raw = if event["isBase64Encoded"] == true {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .decode(body.as_bytes())
                .unwrap_or_else(|e| panic!("{file}: {e}"))
        } else {
            body.into_bytes()
        };
        let timestamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
            .to_string();
        let mut message = timestamp.clone().into_bytes();
        message.extend_from_slice(&raw);
        let (signature, public) = ed25519_sign(DISCORD_TEST_SEED, &message);
        let env = read_json(&sample_path("env.json"));
        assert_eq!(
            env[PANEL]["DISCORD_PUBLIC_KEY"], public,
            "events/env.json's DISCORD_PUBLIC_KEY is RFC 8032's test key"
        );
        event["headers"]["x-signature-ed25519"] = signature.into();
        event["headers"]["x-signature-timestamp"] = timestamp.into();
        local.scratch.write(&format!("signed-{file}"), &event)
    };
    let (status, _, doc) = invoke(&signed("discord-ping.json"), "signed ping");
    assert_eq!((status, doc), (200, json!({"type": 1})));
    // A command's reply: a message (type 4) in the channel; its text.
    let command = |file: &str, what: &str| -> String {
        let (status, _, doc) = invoke(&signed(file), what);
        assert_eq!((status, &doc["type"]), (200, &json!(4)), "{doc}");
        doc["data"]["content"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let content = command("discord-status.json", "signed status");
    assert!(
        content.contains(&format!("**{name}**: asleep")),
        "the status command: {content}"
    );
    let content = command("discord-start.json", "signed start");
    assert!(
        content.starts_with(&format!("Starting **{name}**")),
        "the start command: {content}"
    );
    assert_eq!(
        local.desired().await,
        1,
        "the start command scales the group"
    );

    // The start with the token, the group at 0 again: 202 and the group at 1.
    local.set_desired(0).await;
    let (status, content_type, doc) = invoke(&sample("start.json", &mut used), "start");
    assert_eq!(
        (status, content_type.as_str()),
        (202, "application/json"),
        "{doc}"
    );
    assert_eq!(doc["name"], name.as_str(), "{doc}");
    assert_eq!(doc["address"], address.as_str(), "{doc}");
    assert_eq!(local.desired().await, 1, "the start scales the group to 1");
    let (_, _, doc) = invoke(&status_sample, "status, started");
    let state = doc["containers"][0]["state"].clone();
    let expected =
        match emulator::in_service_instance(&local.autoscaling(), &local.names.group).await {
            Some(_) => "up",
            None => "starting",
        };
    assert_eq!(state, expected, "{doc}");

    // Not a Function URL request: an InvalidEvent, nothing read.
    let calls = local.function_calls();
    local
        .invoke(PANEL, &sample_path("notifier/sns-up.json"))
        .failed("an SNS event", "InvalidEvent");
    assert_eq!(local.function_calls(), calls, "nothing was read");

    assert_all_sent("control-panel", &used);
}

/// A bad configuration is the init error naming every bad variable, and the event
/// is not processed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_variable_is_the_init_error_naming_it() {
    let local = Local::start("bad-config").await;
    let mut env = read_json(&local.env_vars);
    env[TRIGGER]["REGISTRY_TTL_SECONDS"] = "lots".into();
    env[TRIGGER]["DOMAIN_NAME"] = "".into();
    let bad = local.scratch.write("bad-env.json", &env);
    let writes = local.writes();
    let invoked = local.invoke_with(
        TRIGGER,
        &sample_path("dns-query-trigger/query-log-match.json"),
        &bad,
        Some(&local.endpoint),
        &[],
    );
    let error_type = invoked.error_type().unwrap_or_default();
    let message = invoked.error_message();
    assert!(
        error_type.contains("InitError") || error_type == "ConfigError",
        "an init error: {}\n{}",
        invoked.response,
        invoked.logs
    );
    for name in ["REGISTRY_TTL_SECONDS", "DOMAIN_NAME"] {
        assert!(
            message.contains(name) || invoked.logs.contains(name),
            "the error names {name}: {}\n{}",
            invoked.response,
            invoked.logs
        );
    }
    assert_eq!(local.writes(), writes, "nothing changed");
    assert_eq!(local.desired().await, 0);
}

/// An empty `LocalEndpointUrl` (the default) is AWS itself: the function makes its
/// calls to AWS's own endpoints. Here the AWS host names lead to a listener of this
/// test on the bridge, which reads the TLS handshake's server name and hangs up,
/// so nothing leaves the machine; the emulator sees nothing. The router's first call
/// is the registry's listing (Route 53's global endpoint); that failing, it scales
/// nothing: no Auto Scaling or CloudWatch call is made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_local_endpoint_url_means_aws() {
    let local = Local::start("aws").await;
    let listener = TcpListener::bind((local.gateway.as_str(), 443))
        .unwrap_or_else(|e| panic!("listen on {}:443: {e}", local.gateway));
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let names = seen.clone();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().map_while(Result::ok) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut hello = vec![0_u8; 4096];
            let n = stream.read(&mut hello).unwrap_or(0);
            if let Some(name) = server_name(&hello[..n]) {
                if let Ok(mut names) = names.lock() {
                    names.push(name);
                }
            }
        }
    });
    let registry = "route53.amazonaws.com".to_string();
    let scaling = [
        format!("autoscaling.{REGION}.amazonaws.com"),
        format!("monitoring.{REGION}.amazonaws.com"),
    ];
    let hosts: Vec<&String> = std::iter::once(&registry).chain(&scaling).collect();
    let extra: Vec<String> = hosts
        .iter()
        .flat_map(|h| ["--add-host".to_string(), format!("{h}:{}", local.gateway)])
        .collect();
    let calls = local.function_calls();
    let invoked = local.invoke_with(
        TRIGGER,
        &sample_path("dns-query-trigger/query-log-match.json"),
        &local.env_vars,
        None,
        &extra,
    );
    let message = invoked
        .failed("no LocalEndpointUrl", "AwsError")
        .to_string();
    assert!(!message.contains("panicked"), "{message}");
    assert!(
        message.contains("ListResourceRecordSets"),
        "the error names the registry's listing: {message}"
    );
    let seen: Vec<String> = seen.lock().map(|s| s.clone()).unwrap_or_default();
    assert!(
        seen.contains(&registry),
        "the function called {registry} over TLS; the handshakes named {seen:?}"
    );
    for host in &scaling {
        assert!(
            !seen.contains(host),
            "the registry unread, nothing is scaled, yet {host} was called: {seen:?}"
        );
    }
    assert_eq!(
        local.function_calls(),
        calls,
        "the emulator saw no call of the function"
    );
}

/// The server name of a TLS ClientHello (its `server_name` extension), if `hello`
/// holds one.
fn server_name(hello: &[u8]) -> Option<String> {
    // record header (5) + handshake header (4) + version (2) + random (32)
    let mut at = 5 + 4 + 2 + 32;
    let byte = |i: usize| hello.get(i).copied().map(usize::from);
    let u16_at = |i: usize| Some((byte(i)? << 8) | byte(i + 1)?);
    if hello.first() != Some(&0x16) || byte(5)? != 1 {
        return None;
    }
    at += 1 + byte(at)?; // session id
    at += 2 + u16_at(at)?; // cipher suites
    at += 1 + byte(at)?; // compression methods
    let end = at + 2 + u16_at(at)?;
    at += 2;
    while at + 4 <= end {
        let (kind, len) = (u16_at(at)?, u16_at(at + 2)?);
        if kind == 0 {
            // list length (2), name type (1), name length (2), name
            let name_len = u16_at(at + 4 + 3)?;
            let start = at + 4 + 5;
            return hello
                .get(start..start + name_len)
                .map(|name| String::from_utf8_lossy(name).into_owned());
        }
        at += 4 + len;
    }
    None
}

/// The events `sam local generate-event` makes are the ones in `events/` (so they
/// stay what SAM makes), and each function takes or refuses them as its contract
/// says: a CloudWatch Logs event without a matching line does nothing; a scheduled
/// event is the ECS sync's and the DNS updater's scheduled run (nothing to heal
/// here) and the presence probe's tick (nothing to probe), and is refused by the
/// watchdog; an SNS notification that is not an alarm is refused by the watchdog;
/// the idle alarm through SNS stops the container. The notifier's generated samples
/// are checked here against SAM's too; its test sends them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_sam_generates_are_taken_or_refused_per_contract() {
    let local = Local::start("generated").await;
    let alarm = read_json(&sample_path("watchdog-scale-down/sns-alarm-idle.json"));
    let sns = &alarm["Records"][0]["Sns"];
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let topic = text(&sns["TopicArn"]);
    let generated: [(&str, Vec<String>); 6] = [
        (
            "dns-query-trigger/aws-sample-no-match.json",
            vec!["cloudwatch".into(), "logs".into()],
        ),
        (
            "asg/generated/scheduled-event.json",
            vec!["cloudwatch".into(), "scheduled-event".into()],
        ),
        (
            "watchdog-scale-down/generated/sns-notification.json",
            vec!["sns".into(), "notification".into()],
        ),
        (
            "watchdog-scale-down/generated/sns-alarm-idle.json",
            vec![
                "sns".into(),
                "notification".into(),
                "--topic".into(),
                topic.rsplit(':').next().unwrap_or_default().to_string(),
                // SAM puts the values into its JSON template as they are.
                "--subject".into(),
                json_escaped(&text(&sns["Subject"])),
                "--message".into(),
                json_escaped(&text(&sns["Message"])),
            ],
        ),
        (
            "notifier/generated/sns-notification.json",
            vec!["sns".into(), "notification".into()],
        ),
        (
            "notifier/generated/sns-down.json",
            vec![
                "sns".into(),
                "notification".into(),
                "--topic".into(),
                "cm-topic-dev-mc".into(),
                "--subject".into(),
                "mc is down".into(),
                "--message".into(),
                "mc is down".into(),
            ],
        ),
    ];
    for (file, args) in &generated {
        let mut command = vec!["local", "generate-event"];
        command.extend(args.iter().map(String::as_str));
        let made: Value = serde_json::from_str(&run("sam", &command))
            .unwrap_or_else(|e| panic!("sam {}: {e}", command.join(" ")));
        assert_eq!(
            made,
            read_json(&sample_path(file)),
            "events/{file} is what `sam {}` makes",
            command[..command.len().min(4)].join(" ")
        );
    }

    let writes = local.writes();
    local
        .invoke(TRIGGER, &sample_path(generated[0].0))
        .ok("CloudWatch Logs sample");
    for function in [SYNC, UPDATER, PROBE] {
        local
            .invoke(function, &sample_path(generated[1].0))
            .ok("a scheduled run");
    }
    local
        .invoke(WATCHDOG, &sample_path(generated[1].0))
        .failed("a scheduled event", "InvalidEvent");
    local
        .invoke(WATCHDOG, &sample_path(generated[2].0))
        .failed("an SNS notification that is not an alarm", "InvalidEvent");
    assert_eq!(local.writes(), writes, "none of these changes anything");

    local.set_desired(1).await;
    local
        .invoke(WATCHDOG, &sample_path(generated[3].0))
        .ok("the idle alarm through SNS");
    assert_eq!(
        local.desired().await,
        0,
        "the idle alarm through SNS stops the group"
    );
    assert_eq!(local.messages().len(), 1, "and people are told");
}

/// `value` as it reads inside a JSON string, without the quotes.
fn json_escaped(value: &str) -> String {
    let quoted = Value::String(value.to_string()).to_string();
    quoted[1..quoted.len() - 1].to_string()
}

/// `sam local start-lambda` with warm containers, called through the SDK's Lambda
/// client: every sample event goes to every function it is not for (refused, except a
/// scheduled event, which is the ECS sync's and the DNS updater's scheduled run and
/// the presence probe's tick: nothing to heal or probe here; and an SNS notification
/// to the notifier, which takes any: it reads its webhook list, absent here, so the
/// `AwsError` naming that parameter), changing nothing; then the trigger's repeated
/// lookups each start the group and put the keep-alive metric, the warm process
/// reading the registry once. One container per function, and in it one bootstrap
/// process, serves every invocation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_lambda_serves_repeated_events_from_warm_containers() {
    let local = Local::start("start-lambda").await;
    let port = TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("a free port: {e}"));
    let log = local.scratch.0.join("start-lambda.log");
    let mut server = Spawn::new("sam")
        .args([
            "local".to_string(),
            "start-lambda".to_string(),
            "--host".to_string(),
            "127.0.0.1".to_string(),
            "--port".to_string(),
            port.to_string(),
            "--env-vars".to_string(),
            local.env_vars.display().to_string(),
            "--parameter-overrides".to_string(),
            format!("LocalEndpointUrl={}", local.endpoint),
            "--warm-containers".to_string(),
            "LAZY".to_string(),
            "--skip-pull-image".to_string(),
            "--region".to_string(),
            REGION.to_string(),
        ])
        .envs(sam_env(&local.emulator))
        .output(Sink::Log(log.clone()))
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        let log_text = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(
            server.try_wait().is_none(),
            "sam local start-lambda ended:\n{log_text}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "sam local start-lambda did not listen within 180 s:\n{log_text}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    println!(
        "sam local start-lambda listens on 127.0.0.1:{port} after {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let config = aws_sdk_lambda::config::Builder::from(&local.sdk)
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .build();
    let lambda = aws_sdk_lambda::Client::from_conf(config);
    let invoke = |function: &'static str, event: PathBuf| {
        let lambda = lambda.clone();
        async move {
            let payload = std::fs::read(&event).unwrap_or_else(|e| panic!("{e}"));
            let started = Instant::now();
            let out = lambda
                .invoke()
                .function_name(function)
                .payload(aws_smithy_types::Blob::new(payload))
                .send()
                .await
                .unwrap_or_else(|e| {
                    panic!(
                        "Invoke {function}: {}",
                        aws_smithy_types::error::display::DisplayErrorContext(e)
                    )
                });
            let response: Value = out
                .payload()
                .and_then(|p| serde_json::from_slice(p.as_ref()).ok())
                .unwrap_or(Value::Null);
            let invoked = Invoked {
                response,
                logs: String::new(),
            };
            let short = event
                .strip_prefix(repo_root())
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            let summary = match out.function_error() {
                Some(kind) => format!("({kind}) {}", invoked.summary()),
                None => invoked.summary(),
            };
            report(
                function,
                &format!("{short} [Lambda Invoke]"),
                &summary,
                started.elapsed(),
            );
            invoked
        }
    };

    // Every sample to every function it is not for.
    let own: BTreeMap<&str, &[&str]> = [
        (TRIGGER, &["dns-query-trigger"][..]),
        (SYNC, &["asg", "asg-ecs-sync"][..]),
        (UPDATER, &["asg"][..]),
        (WATCHDOG, &["watchdog-scale-down"][..]),
        (PROBE, &["presence-probe"][..]),
        (PANEL, &["control-panel"][..]),
        (NOTIFIER, &["notifier"][..]),
    ]
    .into_iter()
    .collect();
    for function in template_functions() {
        assert!(
            own.contains_key(function.as_str()),
            "{function}: a function this tier does not know; add it here"
        );
    }
    let samples = event_files(&repo_root().join("events"));
    let writes = local.writes();
    let (mut refused, mut scheduled, mut unlisted) = (0, 0, 0);
    let mut warm = BTreeMap::new();
    for (function, folders) in &own {
        for event in &samples {
            if folders.iter().any(|f| event.starts_with(sample_path(f))) {
                continue;
            }
            let doc = read_json(event);
            let what = format!("{function} {}", event.display());
            let invoked = invoke(function, event.clone()).await;
            if doc["source"] == "aws.events"
                && doc["detail-type"] == "Scheduled Event"
                && [SYNC, UPDATER, PROBE].contains(function)
            {
                invoked.ok(&what);
                scheduled += 1;
            } else if *function == NOTIFIER && doc["Records"][0]["EventSource"] == "aws:sns" {
                // Any SNS notification is the notifier's (the watchdog's alarm through
                // SNS too): it reads its webhook list, which this emulator lacks.
                let message = invoked.failed(&what, "AwsError");
                assert!(
                    message.contains(&local.names.webhooks_parameter),
                    "{what}: the error names the parameter: {message}"
                );
                unlisted += 1;
            } else {
                invoked.failed(&what, "InvalidEvent");
                refused += 1;
            }
            warm.entry(*function)
                .or_insert_with(|| bootstrap_of(function));
        }
    }
    assert_eq!(
        local.writes(),
        writes,
        "the other functions' events changed nothing"
    );
    println!(
        "{refused} refused, {scheduled} scheduled runs with nothing to do, \
         {unlisted} notifications without a webhook list"
    );

    // Repeated lookups: each one is a start and a keep-alive; the warm process
    // reads the registry once and holds it (REGISTRY_TTL_SECONDS).
    let lookup = sample_path("dns-query-trigger/query-log-match.json");
    let (puts, reads) = (
        local.emulator.call_count("monitoring:PutMetricData"),
        local.registry_reads(),
    );
    let repeats: u64 = 5;
    let started = Instant::now();
    for i in 0..repeats {
        let invoked = invoke(TRIGGER, lookup.clone()).await;
        let outcome = invoked.ok(&format!("lookup {}", i + 1));
        assert_eq!(outcome, &local.started((3, 1), &[]));
    }
    let elapsed = started.elapsed();
    assert_eq!(local.desired().await, 1);
    assert_eq!(
        local.emulator.call_count("monitoring:PutMetricData"),
        puts + repeats,
        "one keep-alive per lookup"
    );
    let ttl: u64 = read_json(&local.env_vars)[TRIGGER]["REGISTRY_TTL_SECONDS"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("events/env.json has no REGISTRY_TTL_SECONDS"));
    // One read, and at most one more per TTL the lookups took.
    let read = local.registry_reads() - reads;
    let most = 1 + elapsed.as_secs() / ttl.max(1);
    assert!(
        (1..=most).contains(&read),
        "{repeats} lookups in {elapsed:?} with a {ttl} s TTL: {read} registry reads"
    );

    // The same container and process served each function throughout.
    for (function, first) in &warm {
        let now = bootstrap_of(function);
        assert!(
            !first.0.is_empty() && !first.1.is_empty(),
            "{function} runs in a container"
        );
        assert_eq!(
            &now, first,
            "{function}: one container and bootstrap process for all"
        );
    }

    // Stopping SAM CLI stops its containers: one at a time, each given its stop
    // timeout, then removed. SIGTERM, what a supervisor sends, for which SAM CLI
    // installs its own handler: SIGINT (Ctrl+C) reaches Python only where it was not
    // ignored when SAM CLI started, and a shell's background job starts with it
    // ignored. The bound is generous (a loaded 2-core machine); how long it took is
    // printed, and SAM CLI's last lines if it did not stop.
    let pid = server.id().to_string();
    let stopping = Instant::now();
    run("kill", &["-TERM", &pid]);
    let status = server.wait_timeout(Duration::from_secs(300));
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        status.is_some(),
        "sam local start-lambda did not stop within 300 s of SIGTERM; its log ends:\n{}",
        last_lines(&log_text, 40)
    );
    println!(
        "sam local start-lambda stopped {:.1} s after SIGTERM",
        stopping.elapsed().as_secs_f64()
    );
    let left = run(
        "docker",
        &[
            "ps",
            "--format",
            "{{.ID}} {{.Image}} {{.Status}} {{.Command}}",
        ],
    );
    assert!(
        left.trim().is_empty(),
        "containers left running:\n{left}\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
}

/// The sample events under `dir`, in its folders too (every JSON file but
/// `env.json`), sorted.
fn event_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let Ok(path) = entry.map(|e| e.path()) else {
            continue;
        };
        if path.is_dir() {
            files.extend(event_files(&path));
        } else if path.extension().is_some_and(|e| e == "json")
            && path.file_name().is_some_and(|n| n != "env.json")
        {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// The logical ids of the template's functions.
fn template_functions() -> Vec<String> {
    let template = std::fs::read_to_string(repo_root().join("template.yaml"))
        .unwrap_or_else(|e| panic!("template.yaml: {e}"));
    let lines: Vec<&str> = template.lines().collect();
    lines
        .windows(2)
        .filter(|w| w[1].trim() == "Type: AWS::Serverless::Function")
        .filter_map(|w| w[0].trim().strip_suffix(':').map(str::to_string))
        .collect()
}

/// The JSON files directly in `dir`, sorted.
fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

/// The running container of `function` (SAM CLI gives it the function's logical id
/// as `AWS_LAMBDA_FUNCTION_NAME`) and the process id of the bootstrap in it.
fn bootstrap_of(function: &str) -> (String, String) {
    let ids = run("docker", &["ps", "--quiet", "--no-trunc"]);
    for id in ids.split_whitespace() {
        let env = run(
            "docker",
            &[
                "inspect",
                "--format",
                "{{range .Config.Env}}{{println .}}{{end}}",
                id,
            ],
        );
        let name = env
            .lines()
            .find_map(|l| l.strip_prefix("AWS_LAMBDA_FUNCTION_NAME="))
            .unwrap_or_default();
        if name != function {
            continue;
        }
        let top = run("docker", &["top", id, "-eo", "pid,args"]);
        let pid = top
            .lines()
            .find(|l| l.contains("bootstrap") && !l.contains("aws-lambda-rie"))
            .and_then(|l| l.split_whitespace().next())
            .unwrap_or_default()
            .to_string();
        return (id.to_string(), pid);
    }
    (String::new(), String::new())
}

/// `LocalEndpointUrl`'s pattern admits an http URL of this machine as a container
/// sees it, and the empty default, and nothing else.
#[test]
fn the_local_endpoint_pattern_admits_only_this_machine() {
    let template = std::fs::read_to_string(repo_root().join("template.yaml"))
        .unwrap_or_else(|e| panic!("template.yaml: {e}"));
    let block = template
        .split("\n  LocalEndpointUrl:\n")
        .nth(1)
        .unwrap_or_else(|| panic!("template.yaml has no LocalEndpointUrl parameter"));
    let line = block
        .lines()
        .find_map(|l| l.trim().strip_prefix("AllowedPattern: "))
        .unwrap_or_else(|| panic!("LocalEndpointUrl has no AllowedPattern"));
    // A double-quoted YAML string with backslashes doubled.
    let pattern: String = serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
    let admitted = [
        "",
        "http://172.17.0.1:4566",
        "http://172.31.0.1",
        "http://host.docker.internal:3000/",
        "http://127.0.0.1:5000",
        "http://localhost:4566",
        "http://[::1]:4566",
    ];
    let refused = [
        "https://172.17.0.1:4566",
        "http://example.com",
        "http://10.0.0.1:4566",
        "http://172.16.0.1:4566",
        "http://172.17.0.2:4566",
        "http://172.17.0.1.example.com",
        "http://172.17.0.1@example.com",
        "http://localhost:4566/path",
        " http://localhost",
    ];
    // CloudFormation matches AllowedPattern against the whole value (Java regular
    // expressions); Python's re.fullmatch reads this pattern the same way.
    let python = python();
    let script = "import json, re, sys\n\
                  p = sys.argv[1]\n\
                  print(json.dumps([bool(re.fullmatch(p, v)) for v in json.loads(sys.argv[2])]))";
    let values: Vec<&str> = admitted.iter().chain(refused.iter()).copied().collect();
    let output = Spawn::new(&python)
        .args([
            "-c".to_string(),
            script.to_string(),
            pattern.clone(),
            json!(values).to_string(),
        ])
        .run()
        .unwrap_or_else(|e| panic!("{e}"));
    let matched: Vec<bool> = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stderr)));
    for (value, matched) in values.iter().zip(matched) {
        let want = admitted.contains(value);
        assert_eq!(matched, want, "{pattern} on {value:?}");
    }
}
