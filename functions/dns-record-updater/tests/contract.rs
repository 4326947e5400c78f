//! The declared variables (`config::VARS`) agree with docs/functions.md,
//! template.yaml and events/env.json.

#[test]
fn declared_variables_match_docs_template_and_env_json() {
    cm_testkit::contract::check(&cm_testkit::contract::Function {
        crate_name: "dns-record-updater",
        logical_id: "DnsRecordUpdaterFunction",
        vars: dns_record_updater::config::VARS,
    });
}
