//! The declared environment variables against the docs, the template and
//! events/env.json.

#[test]
fn declared_variables_match_docs_template_and_env_json() {
    cm_testkit::contract::check(&cm_testkit::contract::Function {
        crate_name: "notifier",
        logical_id: "NotifierFunction",
        vars: notifier::config::VARS,
    });
}
