//! Configuration from environment variables.
//!
//! A function reads every variable it needs through one [`Env`], which records each
//! missing or malformed variable by name instead of stopping at the first, so a
//! misconfigured deployment is reported completely in one log line.
//!
//! Each function declares its variables once, as a list of [`EnvVar`]s
//! (`config::VARS` in its crate). The reader is made from that list and refuses to
//! read a variable that is not on it, so the list is the whole contract; the
//! documentation, the template and `events/env.json` are checked against it by each
//! function's contract test.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;

/// Every configuration problem found, one entry per variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub problems: Vec<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration: {}", self.problems.join("; "))
    }
}

impl std::error::Error for ConfigError {}

/// One environment variable of a function's contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvVar {
    pub name: &'static str,
    pub required: bool,
    /// The value used when unset (as documented), if any.
    pub default: Option<&'static str>,
    /// One line for people: what it is, with an example.
    pub meaning: &'static str,
}

impl EnvVar {
    pub const fn required(name: &'static str, meaning: &'static str) -> Self {
        EnvVar {
            name,
            required: true,
            default: None,
            meaning,
        }
    }

    pub const fn optional(name: &'static str, meaning: &'static str) -> Self {
        EnvVar {
            name,
            required: false,
            default: None,
            meaning,
        }
    }

    pub const fn with_default(
        name: &'static str,
        default: &'static str,
        meaning: &'static str,
    ) -> Self {
        EnvVar {
            name,
            required: false,
            default: Some(default),
            meaning,
        }
    }
}

/// The variables every function reads besides its own (through the SDK and the
/// logging set-up), for the documentation.
pub const COMMON_VARS: &[EnvVar] = &[
    EnvVar::optional(
        "AWS_ENDPOINT_URL",
        "every AWS call goes to this endpoint instead of AWS, e.g. a local emulator \
         (the template's LocalEndpointUrl); unset or blank: AWS",
    ),
    EnvVar::with_default(
        "AWS_MAX_ATTEMPTS",
        "3",
        "attempts per AWS call, in the SDK's standard retry mode",
    ),
    EnvVar::with_default(
        "AWS_LAMBDA_LOG_LEVEL",
        "INFO",
        "set by Lambda's logging controls (ApplicationLogLevel); wins over RUST_LOG",
    ),
    EnvVar::with_default(
        "AWS_LAMBDA_LOG_FORMAT",
        "JSON",
        "set by Lambda's logging controls: JSON, or Text for plain lines",
    ),
    EnvVar::optional(
        "RUST_LOG",
        "the local override of the log level and filters, when Lambda sets no level",
    ),
];

type Lookup<'a> = Box<dyn Fn(&str) -> Option<String> + 'a>;

/// A reader of environment variables that collects problems.
pub struct Env<'a> {
    lookup: Lookup<'a>,
    declared: Option<&'static [EnvVar]>,
    problems: Vec<String>,
}

impl Env<'static> {
    /// Reads the process environment.
    pub fn from_process() -> Self {
        Env::new(|name| std::env::var(name).ok())
    }
}

impl<'a> Env<'a> {
    pub fn new(lookup: impl Fn(&str) -> Option<String> + 'a) -> Self {
        Env {
            lookup: Box::new(lookup),
            declared: None,
            problems: Vec::new(),
        }
    }

    /// Reads from a map (tests, local tools).
    pub fn from_map(map: &'a HashMap<String, String>) -> Self {
        Env::new(move |name| map.get(name).cloned())
    }

    /// Reads from `(name, value)` pairs (tests, local tools); of two pairs with the
    /// same name, the later wins, so defaults can be followed by what a case changes.
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Env<'static> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Env::new(move |name| map.get(name).cloned())
    }

    /// Restricts reading to the declared variables: reading any other is recorded as
    /// a problem (a programming error that every configuration test then shows).
    pub fn declared(mut self, vars: &'static [EnvVar]) -> Self {
        self.declared = Some(vars);
        self
    }

    /// The value, trimmed; `None` when unset or blank.
    pub fn optional(&mut self, name: &str) -> Option<String> {
        if let Some(vars) = self.declared {
            if !vars.iter().any(|v| v.name == name) {
                self.problems
                    .push(format!("{name} is read but not declared in config::VARS"));
                return None;
            }
        }
        (self.lookup)(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    /// The value, or a problem "NAME is not set".
    pub fn required(&mut self, name: &str) -> Option<String> {
        let value = self.optional(name);
        if value.is_none() {
            self.problems.push(format!("{name} is not set"));
        }
        value
    }

    /// The value, or the default its declaration gives (see [`Env::declared`]) when
    /// unset: the default is written once, in the declaration.
    pub fn or_declared_default(&mut self, name: &str) -> String {
        let default = self
            .declared
            .and_then(|vars| vars.iter().find(|v| v.name == name))
            .and_then(|v| v.default);
        if self.declared.is_some() && default.is_none() {
            self.problems
                .push(format!("{name} has no declared default in config::VARS"));
        }
        self.optional_or(name, default.unwrap_or_default())
    }

    /// Parses the value, or the declared default when unset.
    pub fn parse_or_declared_default<T: FromStr>(
        &mut self,
        name: &str,
        expected: &str,
    ) -> Option<T> {
        let raw = self.or_declared_default(name);
        self.parse_value(name, &raw, expected)
    }

    /// The value or `default` when unset.
    pub fn optional_or(&mut self, name: &str, default: &str) -> String {
        self.optional(name).unwrap_or_else(|| default.to_string())
    }

    /// Parses a required value; `expected` describes a valid value for the message.
    pub fn parse_required<T: FromStr>(&mut self, name: &str, expected: &str) -> Option<T> {
        let raw = self.required(name)?;
        self.parse_value(name, &raw, expected)
    }

    /// Parses an optional value, `default` when unset.
    pub fn parse_or<T: FromStr>(&mut self, name: &str, default: T, expected: &str) -> Option<T> {
        match self.optional(name) {
            None => Some(default),
            Some(raw) => self.parse_value(name, &raw, expected),
        }
    }

    /// Parses an optional value: `None` when unset, and when malformed (recorded).
    pub fn parse_optional<T: FromStr>(&mut self, name: &str, expected: &str) -> Option<T> {
        let raw = self.optional(name)?;
        self.parse_value(name, &raw, expected)
    }

    fn parse_value<T: FromStr>(&mut self, name: &str, raw: &str, expected: &str) -> Option<T> {
        match raw.parse::<T>() {
            Ok(value) => Some(value),
            Err(_) => {
                self.invalid(name, raw, expected);
                None
            }
        }
    }

    /// `value` (`None`: it was not read, and the reason is already recorded) when
    /// `ok` accepts it; otherwise a problem "NAME must be {expected}, got ..." naming
    /// the value, and `None`.
    pub fn check<T: fmt::Display>(
        &mut self,
        name: &str,
        value: Option<T>,
        expected: &str,
        ok: impl FnOnce(&T) -> bool,
    ) -> Option<T> {
        let value = value?;
        if ok(&value) {
            return Some(value);
        }
        self.invalid(name, &value.to_string(), expected);
        None
    }

    /// Records a malformed value.
    pub fn invalid(&mut self, name: &str, raw: &str, expected: &str) {
        self.problems
            .push(format!("{name} must be {expected}, got {raw:?}"));
    }

    /// CloudWatch metric dimensions: a JSON object of names to non-empty string values
    /// (at most CloudWatch's 30), or the declared default when unset.
    pub fn metric_dimensions(&mut self, name: &str) -> Option<BTreeMap<String, String>> {
        let raw = self.or_declared_default(name);
        match parse_metric_dimensions(&raw) {
            Ok(dims) => Some(dims),
            Err(expected) => {
                self.invalid(name, &raw, &expected);
                None
            }
        }
    }

    /// An optional SNS topic ARN, checked for its shape.
    pub fn optional_topic_arn(&mut self, name: &str) -> Option<String> {
        let arn = self.optional(name)?;
        if !arn.starts_with("arn:") || arn.split(':').count() != 6 {
            self.invalid(name, &arn, "an SNS topic ARN");
        }
        Some(arn)
    }

    /// A required DNS name, lower case and without a trailing dot.
    pub fn required_dns_name(&mut self, name: &str) -> Option<String> {
        let raw = self.required(name)?;
        let normalised = normalise_dns_name(&raw);
        if normalised.is_none() {
            self.invalid(name, &raw, "a DNS name such as mc.example.com");
        }
        normalised
    }

    /// A required Route 53 hosted zone id, given bare (`Z0123456789ABCDEFGHIJ`) or as
    /// `/hostedzone/<id>`; kept bare.
    pub fn required_hosted_zone_id(&mut self, name: &str) -> Option<String> {
        let zone = self.required(name).map(|z| {
            z.strip_prefix("/hostedzone/")
                .map(str::to_string)
                .unwrap_or(z)
        });
        self.check(
            name,
            zone,
            "a hosted zone id such as Z0123456789ABCDEFGHIJ",
            |z| !z.is_empty() && z.len() <= 32 && z.chars().all(|c| c.is_ascii_alphanumeric()),
        )
    }

    /// Ends reading: every problem at once, or the value `build` makes from what was
    /// read. `build` returns `None` only when a value it needs was not read, which
    /// cannot happen without a recorded problem.
    pub fn finish<T>(self, build: impl FnOnce() -> Option<T>) -> Result<T, ConfigError> {
        if !self.problems.is_empty() {
            return Err(ConfigError {
                problems: self.problems,
            });
        }
        build().ok_or_else(|| ConfigError {
            problems: vec!["configuration incomplete (a value was not read)".to_string()],
        })
    }
}

/// Lower-cases a DNS name and drops one trailing dot; `None` if it is not a name.
pub fn normalise_dns_name(raw: &str) -> Option<String> {
    let trimmed = raw.trim();
    let name = trimmed.strip_suffix('.').unwrap_or(trimmed);
    let valid = !name.is_empty()
        && name.len() <= 253
        && !name.contains("..")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
    valid.then(|| name.to_ascii_lowercase())
}

/// CloudWatch's limit on dimensions per metric.
pub const MAX_METRIC_DIMENSIONS: usize = 30;

/// Parses `{"Name":"value",...}`; the error says what was expected.
pub fn parse_metric_dimensions(raw: &str) -> Result<BTreeMap<String, String>, String> {
    const EXPECTED: &str = "a JSON object of dimension names to string values";
    let dims: BTreeMap<String, serde_json::Value> =
        serde_json::from_str(raw).map_err(|_| EXPECTED.to_string())?;
    if dims.len() > MAX_METRIC_DIMENSIONS {
        return Err(format!("at most {MAX_METRIC_DIMENSIONS} dimensions"));
    }
    dims.into_iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) if !k.is_empty() && !s.is_empty() => Ok((k, s)),
            _ => Err(EXPECTED.to_string()),
        })
        .collect()
}

/// Parses a boolean the way people write it in a console: true/false, yes/no, 1/0.
pub fn parse_bool(raw: &str) -> Option<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" | "on" => Some(true),
        "false" | "no" | "0" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_every_problem_by_name_at_once() {
        let vars = HashMap::from(
            [("THRESHOLD", "lots"), ("BLANK", "   ")].map(|(k, v)| (k.to_string(), v.to_string())),
        );
        let mut env = Env::from_map(&vars);
        let a = env.required("ASG_NAME");
        let b = env.required("BLANK");
        let t: Option<f64> = env.parse_required("THRESHOLD", "a number");
        let err = env.finish(|| Some((a?, b?, t?))).unwrap_err();
        assert_eq!(
            err.problems,
            vec![
                "ASG_NAME is not set".to_string(),
                "BLANK is not set".to_string(),
                "THRESHOLD must be a number, got \"lots\"".to_string(),
            ]
        );
        assert!(err
            .to_string()
            .starts_with("invalid configuration: ASG_NAME"));
    }

    #[test]
    fn defaults_apply_only_when_unset() {
        let mut env = Env::from_pairs(&[("TTL", "60"), ("UNIT", " Bytes ")]);
        let ttl: Option<u32> = env.parse_or("TTL", 1, "a whole number");
        let other: Option<u32> = env.parse_or("OTHER", 7, "a whole number");
        let absent: Option<u32> = env.parse_optional("ABSENT", "a whole number");
        assert_eq!(absent, None);
        let unit = env.optional_or("UNIT", "Count");
        let kind = env.optional_or("KIND", "A");
        let got = env.finish(|| Some((ttl?, other?, unit, kind))).unwrap();
        assert_eq!(got, (60, 7, "Bytes".to_string(), "A".to_string()));
    }

    #[test]
    fn a_value_read_is_kept_only_when_the_check_accepts_it() {
        let mut env = Env::from_pairs(&[("POLL", "0"), ("TTL", "60"), ("TTL", "70")]);
        let poll: Option<u64> = env.parse_required("POLL", "a whole number");
        assert_eq!(env.check("POLL", poll, "at least 1", |p| *p > 0), None);
        let ttl: Option<u64> = env.parse_required("TTL", "a whole number");
        assert_eq!(
            env.check("TTL", ttl, "at most 100", |t| *t <= 100),
            Some(70)
        );
        let unset: Option<u64> = env.parse_optional("UNSET", "a whole number");
        assert_eq!(env.check("UNSET", unset, "anything", |_| false), None);
        let err = env.finish(|| Some(())).unwrap_err();
        assert_eq!(
            err.problems,
            vec!["POLL must be at least 1, got \"0\"".to_string()]
        );
    }

    #[test]
    fn dns_names_and_topic_arns_are_checked() {
        assert_eq!(
            normalise_dns_name(" MC.Example.com. "),
            Some("mc.example.com".into())
        );
        assert_eq!(normalise_dns_name("."), None);
        assert_eq!(normalise_dns_name("a..b"), None);
        assert_eq!(normalise_dns_name("a b"), None);
        let mut env = Env::from_pairs(&[("TOPIC", "my-topic"), ("NAME", "mc example.com")]);
        env.optional_topic_arn("TOPIC");
        env.required_dns_name("NAME");
        let err = env.finish(|| Some(())).unwrap_err();
        assert_eq!(err.problems.len(), 2, "{err}");
    }

    #[test]
    fn hosted_zone_ids_are_kept_bare() {
        let mut env = Env::from_pairs(&[
            ("BARE", "Z0123456789ABCDEFGHIJ"),
            ("PREFIXED", "/hostedzone/Z0123"),
            ("BAD", "zone/with/slashes"),
            ("EMPTY", "/hostedzone/"),
        ]);
        assert_eq!(
            env.required_hosted_zone_id("BARE").as_deref(),
            Some("Z0123456789ABCDEFGHIJ")
        );
        assert_eq!(
            env.required_hosted_zone_id("PREFIXED").as_deref(),
            Some("Z0123")
        );
        assert_eq!(env.required_hosted_zone_id("BAD"), None);
        assert_eq!(env.required_hosted_zone_id("EMPTY"), None);
        assert_eq!(env.required_hosted_zone_id("UNSET"), None);
        let err = env.finish(|| Some(())).unwrap_err();
        assert_eq!(err.problems.len(), 3, "{err}");
        assert!(err.problems[0].starts_with("BAD must be a hosted zone id"));
        assert_eq!(err.problems[2], "UNSET is not set");
    }

    #[test]
    fn a_declared_reader_refuses_undeclared_variables() {
        const VARS: &[EnvVar] = &[EnvVar::required("ASG_NAME", "the group")];
        let mut env = Env::from_pairs(&[("ASG_NAME", "g"), ("OTHER", "x")]).declared(VARS);
        let asg = env.required("ASG_NAME");
        let other = env.optional("OTHER");
        assert_eq!((asg.as_deref(), other), (Some("g"), None));
        let err = env.finish(|| Some(())).unwrap_err();
        assert_eq!(
            err.problems,
            vec!["OTHER is read but not declared in config::VARS".to_string()]
        );
    }

    #[test]
    fn declared_defaults_are_used_when_unset() {
        const VARS: &[EnvVar] = &[
            EnvVar::with_default("TTL", "60", "ttl"),
            EnvVar::with_default("UNIT", "Count", "unit"),
            EnvVar::optional("NONE", "no default"),
        ];
        let mut env = Env::from_pairs(&[("UNIT", "Bytes")]).declared(VARS);
        let ttl: Option<u32> = env.parse_or_declared_default("TTL", "a whole number");
        let unit = env.or_declared_default("UNIT");
        let none = env.or_declared_default("NONE");
        assert_eq!((ttl, unit.as_str(), none.as_str()), (Some(60), "Bytes", ""));
        let err = env.finish(|| Some(())).unwrap_err();
        assert_eq!(
            err.problems,
            vec!["NONE has no declared default in config::VARS".to_string()]
        );
    }

    #[test]
    fn metric_dimensions_are_string_to_string_objects() {
        assert_eq!(
            parse_metric_dimensions(r#"{"ContainerName":"mc"}"#).unwrap()["ContainerName"],
            "mc"
        );
        assert!(parse_metric_dimensions("{}").unwrap().is_empty());
        for bad in ["[1,2]", r#"{"a":3}"#, r#"{"a":""}"#, r#"{"":"x"}"#, "nope"] {
            assert!(parse_metric_dimensions(bad).is_err(), "{bad}");
        }
        let many: serde_json::Map<String, serde_json::Value> = (0..31)
            .map(|i| (format!("d{i}"), serde_json::Value::from("v")))
            .collect();
        let err = parse_metric_dimensions(&serde_json::Value::Object(many).to_string());
        assert_eq!(err.unwrap_err(), "at most 30 dimensions");
        const VARS: &[EnvVar] = &[EnvVar::with_default("DIMS", "{}", "dims")];
        let mut env = Env::from_pairs(&[("DIMS", "[]")]).declared(VARS);
        assert_eq!(env.metric_dimensions("DIMS"), None);
        assert_eq!(env.finish(|| Some(())).unwrap_err().problems.len(), 1);
    }

    #[test]
    fn bools_accept_common_spellings() {
        assert_eq!(parse_bool("TRUE"), Some(true));
        assert_eq!(parse_bool("no"), Some(false));
        assert_eq!(parse_bool("maybe"), None);
    }
}
