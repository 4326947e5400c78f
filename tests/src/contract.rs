//! Checks one function's declared environment variables (`config::VARS`) against the
//! places that repeat them: the function's table in `docs/functions.md`, its
//! `Environment` block in `template.yaml`, and its entry in `events/env.json` (what
//! `sam local invoke --env-vars` passes). Each function crate's `tests/contract.rs`
//! calls [`check`]; every disagreement is listed at once.

use std::collections::{BTreeMap, BTreeSet};

use cm_core::config::COMMON_VARS;
use cm_core::EnvVar;
use serde_json::Value;

use crate::repo_root;

/// One function as the template and the docs know it.
pub struct Function<'a> {
    /// The crate's name, as its heading in docs/functions.md shows it: `dns-query-trigger`.
    pub crate_name: &'a str,
    /// The function's logical id in template.yaml, e.g. `DnsQueryTriggerFunction`.
    pub logical_id: &'a str,
    pub vars: &'a [EnvVar],
}

/// Every disagreement between `function.vars` and the docs, the template and
/// events/env.json; empty when they agree.
pub fn problems(function: &Function<'_>) -> Vec<String> {
    let read = |path: &str| {
        std::fs::read_to_string(repo_root().join(path))
            .unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
    };
    let mut problems = Vec::new();
    let declared: BTreeMap<&str, &EnvVar> = function.vars.iter().map(|v| (v.name, v)).collect();
    // The template and env.json may also set what every function reads through the
    // SDK or the logging set-up.
    let known =
        |name: &str| declared.contains_key(name) || COMMON_VARS.iter().any(|v| v.name == name);

    // docs/functions.md: the table after the function's heading.
    match docs_table(&read("docs/functions.md"), function.crate_name) {
        None => problems.push(format!(
            "docs/functions.md has no variable table under a heading naming `{}`",
            function.crate_name
        )),
        Some(rows) => {
            for row in &rows {
                match declared.get(row.name.as_str()) {
                    None => problems.push(format!(
                        "docs/functions.md documents {} but the function does not declare it",
                        row.name
                    )),
                    Some(var) => {
                        if row.required != var.required {
                            problems.push(format!(
                                "docs/functions.md says {} is {}required; the code says {}",
                                row.name,
                                if row.required { "" } else { "not " },
                                if var.required { "required" } else { "optional" }
                            ));
                        }
                        if row.default.as_deref() != var.default {
                            problems.push(format!(
                                "docs/functions.md gives {} the default {:?}; the code {:?}",
                                row.name, row.default, var.default
                            ));
                        }
                    }
                }
            }
            for var in function.vars {
                if !rows.iter().any(|r| r.name == var.name) {
                    problems.push(format!(
                        "docs/functions.md does not document {} (declared in config::VARS)",
                        var.name
                    ));
                }
            }
        }
    }

    // template.yaml: the function's Environment.Variables.
    let template = read("template.yaml");
    let in_template = match template_variables(&template, function.logical_id) {
        None => {
            problems.push(format!(
                "template.yaml has no Environment.Variables under {}",
                function.logical_id
            ));
            BTreeSet::new()
        }
        Some(names) => names,
    };
    for name in &in_template {
        if !known(name) {
            problems.push(format!(
                "template.yaml sets {name} on {} but the function does not declare it",
                function.logical_id
            ));
        }
    }
    for var in function.vars.iter().filter(|v| v.required) {
        if !in_template.contains(var.name) {
            problems.push(format!(
                "template.yaml does not set the required {} on {}",
                var.name, function.logical_id
            ));
        }
    }

    // events/env.json: sam local passes only what the template declares.
    let env: Value = serde_json::from_str(&read("events/env.json"))
        .unwrap_or_else(|e| panic!("events/env.json is not JSON: {e}"));
    match env.get(function.logical_id).and_then(Value::as_object) {
        None => problems.push(format!(
            "events/env.json has no object for {}",
            function.logical_id
        )),
        Some(vars) => {
            for name in vars.keys() {
                if !known(name) {
                    problems.push(format!(
                        "events/env.json sets {name} for {} but the function does not declare it",
                        function.logical_id
                    ));
                } else if !in_template.contains(name) {
                    problems.push(format!(
                        "events/env.json sets {name} for {}, which the template does not declare \
                         (sam local would drop it)",
                        function.logical_id
                    ));
                }
            }
            for var in function.vars.iter().filter(|v| v.required) {
                if !vars.contains_key(var.name) {
                    problems.push(format!(
                        "events/env.json does not set the required {} for {}",
                        var.name, function.logical_id
                    ));
                }
            }
        }
    }
    problems
}

/// Panics with every disagreement, one per line.
pub fn check(function: &Function<'_>) {
    let problems = problems(function);
    assert!(
        problems.is_empty(),
        "{} problems in the contract of {}:\n{}",
        problems.len(),
        function.crate_name,
        problems.join("\n")
    );
}

/// One row of a variable table: `| `NAME` | yes | `default` | meaning |`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocRow {
    pub name: String,
    pub required: bool,
    pub default: Option<String>,
}

/// The rows of the first `| variable | ...` table after the `## ` heading that names
/// `crate_name` in backticks.
pub fn docs_table(markdown: &str, crate_name: &str) -> Option<Vec<DocRow>> {
    let marker = format!("`{crate_name}`");
    let mut lines = markdown
        .lines()
        .skip_while(|l| !(l.starts_with("## ") && l.contains(&marker)))
        .skip(1)
        .take_while(|l| !l.starts_with("## "));
    lines.find(|l| l.starts_with("| variable |"))?;
    let cell = |c: &str| c.trim().trim_matches('`').to_string();
    Some(
        lines
            .take_while(|l| l.starts_with('|'))
            .filter(|l| !l.starts_with("|---"))
            .filter_map(|l| {
                let cells: Vec<&str> = l.trim().trim_matches('|').split('|').collect();
                let name = cell(cells.first()?);
                let default = cell(cells.get(2)?);
                Some(DocRow {
                    name,
                    required: cell(cells.get(1)?) == "yes",
                    default: (!default.is_empty()).then_some(default),
                })
            })
            .collect(),
    )
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// The names under `Environment: Variables:` of the resource `logical_id` (a key at
/// two spaces under `Resources:`), read from the YAML text: CloudFormation's tags
/// (`!Sub`, `!If`) need no YAML library that knows them.
pub fn template_variables(template: &str, logical_id: &str) -> Option<BTreeSet<String>> {
    let header = format!("  {logical_id}:");
    let mut lines = template
        .lines()
        .skip_while(|l| l.trim_end() != header)
        .skip(1)
        .take_while(|l| l.trim().is_empty() || l.starts_with("   ") || l.starts_with('#'));
    let env_indent = lines.find(|l| l.trim() == "Environment:").map(indent)?;
    let vars_line = lines.find(|l| !l.trim().is_empty())?;
    if vars_line.trim() != "Variables:" || indent(vars_line) <= env_indent {
        return None;
    }
    let key_indent = indent(vars_line) + 2;
    Some(
        lines
            .take_while(|l| l.trim().is_empty() || indent(l) >= key_indent)
            .filter(|l| indent(l) == key_indent && !l.trim_start().starts_with('#'))
            .filter_map(|l| l.trim().split_once(':').map(|(k, _)| k.to_string()))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = "Resources:\n  AFunction:\n    Type: AWS::Serverless::Function\n    Properties:\n      Environment:\n        Variables:\n          ASG_NAME: !Sub x\n          # a note\n          TTL: \"1\"\n      Policies: []\n  BFunction:\n    Type: X\n";
    const DOCS: &str = "# F\n\n## The a (`a-fn`)\n\ntext\n\n| variable | required | default | meaning |\n|---|---|---|---|\n| `ASG_NAME` | yes | | the group |\n| `TTL` | no | `1` | ttl |\n\n## The b (`b-fn`)\n";

    #[test]
    fn reads_the_template_block_and_the_docs_table() {
        let names = template_variables(TEMPLATE, "AFunction").unwrap();
        assert_eq!(
            names.into_iter().collect::<Vec<_>>(),
            vec!["ASG_NAME", "TTL"]
        );
        assert_eq!(template_variables(TEMPLATE, "BFunction"), None);
        let rows = docs_table(DOCS, "a-fn").unwrap();
        assert_eq!(
            rows,
            vec![
                DocRow {
                    name: "ASG_NAME".into(),
                    required: true,
                    default: None
                },
                DocRow {
                    name: "TTL".into(),
                    required: false,
                    default: Some("1".into())
                },
            ]
        );
        assert_eq!(docs_table(DOCS, "b-fn"), None);
    }
}
