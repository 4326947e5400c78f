//! The probe's declared variables against docs/functions.md, template.yaml and
//! events/env.json.

#[test]
#[ignore = "wired into template.yaml with the presence alarms"]
fn declared_variables_match_docs_template_and_env_json() {
    cm_testkit::contract::check(&cm_testkit::contract::Function {
        crate_name: "presence-probe",
        logical_id: "PresenceProbeFunction",
        vars: presence_probe::config::VARS,
    });
}

/// The part of the contract that holds before the template wiring: the table in
/// docs/functions.md agrees with `config::VARS`.
#[test]
fn declared_variables_match_the_docs() {
    let problems: Vec<String> = cm_testkit::contract::problems(&cm_testkit::contract::Function {
        crate_name: "presence-probe",
        logical_id: "PresenceProbeFunction",
        vars: presence_probe::config::VARS,
    })
    .into_iter()
    .filter(|p| p.starts_with("docs/functions.md"))
    .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
