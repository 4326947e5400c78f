//! The environment `sam local invoke` gives each function (`events/env.json`): the
//! configuration the functions' fast tests run with, and what a test changes in it.

use std::collections::HashMap;

use cm_core::Env;
use serde_json::Value;

use crate::repo_root;

/// The variables `events/env.json` sets for `function` (its logical id in
/// template.yaml, e.g. `AsgEcsSyncFunction`), with `changes` applied in order:
/// `Some` sets the variable, `None` removes it. Panics naming the file or the
/// function when they are not there.
pub fn function_env(function: &str, changes: &[(&str, Option<&str>)]) -> Env<'static> {
    let file = repo_root().join("events").join("env.json");
    let text =
        std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
    let env: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", file.display()));
    let entry = env[function]
        .as_object()
        .unwrap_or_else(|| panic!("{} has no object for {function}", file.display()));
    let mut vars: HashMap<String, String> = entry
        .iter()
        .map(|(name, value)| {
            let value = value.as_str().unwrap_or_else(|| {
                panic!(
                    "{} sets {function}'s {name} to a non-string",
                    file.display()
                )
            });
            (name.clone(), value.to_string())
        })
        .collect();
    for (name, value) in changes {
        match value {
            Some(value) => vars.insert(name.to_string(), value.to_string()),
            None => vars.remove(*name),
        };
    }
    Env::new(move |name| vars.get(name).cloned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_functions_entry_is_read_with_the_changes_applied() {
        let mut env = function_env(
            "DnsRecordUpdaterFunction",
            &[("DNS_TTL", Some("60")), ("SNS_TOPIC_ARN", None)],
        );
        assert_eq!(env.optional("ASG_NAME").as_deref(), Some("cm-asg-dev-mc"));
        assert_eq!(env.optional("DNS_TTL").as_deref(), Some("60"));
        assert_eq!(env.optional("SNS_TOPIC_ARN"), None);
    }
}
