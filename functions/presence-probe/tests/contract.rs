//! The probe's declared variables against docs/functions.md, template.yaml and
//! events/env.json.

#[test]
fn declared_variables_match_docs_template_and_env_json() {
    cm_testkit::contract::check(&cm_testkit::contract::Function {
        crate_name: "presence-probe",
        logical_id: "PresenceProbeFunction",
        vars: presence_probe::config::VARS,
    });
}
