//! The sync's declared variables (`config::VARS`) against docs/functions.md, the
//! template's `Environment` block and events/env.json.

#[test]
fn declared_variables_match_docs_template_and_env_json() {
    cm_testkit::contract::check(&cm_testkit::contract::Function {
        crate_name: "asg-ecs-sync",
        logical_id: "AsgEcsSyncFunction",
        vars: asg_ecs_sync::config::VARS,
    });
}
