//! The trigger's declared variables against docs/functions.md, template.yaml and
//! events/env.json.

#[test]
fn declared_variables_match_docs_template_and_env_json() {
    cm_testkit::contract::check(&cm_testkit::contract::Function {
        crate_name: "dns-query-trigger",
        logical_id: "DnsQueryTriggerFunction",
        vars: dns_query_trigger::config::VARS,
    });
}
