//! The router's in-process cost for one 1,000-line batch naming 20 containers in two
//! regions: `awslogs.data` (base64 of gzip of the JSON envelope) -> decoded batch ->
//! labels counted -> the plan (per region: the groups to start and the keep-alive
//! points), with the registry held (a warm process within its TTL). The AWS calls
//! the plan makes are counted once with the in-memory cloud: one round per region,
//! 10 UpdateAutoScalingGroup + 1 PutMetricData in each.
//!
//! `cargo bench -p dns-query-trigger --bench router`; `cm-bench router` (benchmarks/)
//! reads the result and counts the calls against the emulator.

use std::hint::black_box;

use cm_core::registry::Entry;
use cm_testkit::events::{container_lookups, query_log_event};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use dns_query_trigger::decide::{plan, registry_of, Registry};
use dns_query_trigger::fake::{FakeCloud, ManualClock};
use dns_query_trigger::parse::{parse, queries, QueryTarget};
use dns_query_trigger::{handle, Config, Router};
use serde_json::Value;

const LINES: usize = 1_000;
const CONTAINERS: usize = 20;
const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];

fn entry(i: usize) -> Entry {
    Entry {
        name: format!("game{i:02}"),
        region: REGIONS[i % 2].to_string(),
        asg: format!("cm-asg-prod-game{i:02}"),
        metric: format!("cm-prod-game{i:02}"),
        threshold: 20.0,
    }
}

/// The subscription event: each line a lookup of one of the containers, as
/// resolvers write it (any case, with or without the trailing dot).
fn event() -> Value {
    query_log_event(
        "DATA_MESSAGE",
        &container_lookups(LINES, CONTAINERS, "example.com"),
    )
}

fn config() -> Config {
    Config::from_env(cm_core::Env::from_pairs(&[
        ("DOMAIN_NAME", "example.com"),
        ("HOSTED_ZONE_ID", "Z0123456789ABCDEFGHIJ"),
        ("METRIC_NAMESPACE", "ContainerManager"),
        ("METRIC_NAME", "DnsQueries"),
    ]))
    .expect("a valid configuration")
}

/// The calls one invocation makes, counted with the in-memory cloud: the first
/// (registry read) and a second within the TTL.
fn check_calls(event: &Value) {
    let router = Router::with_clock(FakeCloud::default(), ManualClock::default());
    for i in 0..CONTAINERS {
        router.cloud.add_container(&entry(i), "example.com", 0);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let config = config();
    let outcome = runtime
        .block_on(handle(&config, &router, event))
        .expect("the batch is handled");
    assert_eq!(outcome.lines_matched, LINES);
    let fake = &router.cloud;
    for region in REGIONS {
        assert_eq!(
            fake.count_in("UpdateAutoScalingGroup", region),
            CONTAINERS / 2
        );
        assert_eq!(fake.count_in("PutMetricData", region), 1);
    }
    assert_eq!(fake.recorder.count("ListResourceRecordSets"), 1);
    fake.recorder.clear();
    runtime
        .block_on(handle(&config, &router, event))
        .expect("the batch is handled");
    assert_eq!(fake.recorder.calls().len(), CONTAINERS + REGIONS.len());
}

fn router(c: &mut Criterion) {
    let target = QueryTarget {
        domain: "example.com".to_string(),
        record_type: "A".to_string(),
    };
    let registry: Registry = registry_of((0..CONTAINERS).map(entry));
    let event = event();
    // The benchmark measures real work: check once that every line names a container
    // and that the plan is one round per region.
    let found = queries(&target, &parse(&event).expect("decodes"));
    assert_eq!((found.lines_seen, found.lines_matched), (LINES, LINES));
    assert_eq!(found.labels.len(), CONTAINERS);
    let p = plan(&registry, &found);
    assert_eq!(p.regions.len(), 2);
    assert_eq!(p.calls(), CONTAINERS + REGIONS.len());
    check_calls(&event);

    let mut group = c.benchmark_group("router");
    group.throughput(Throughput::Elements(LINES as u64));
    group.bench_with_input(
        BenchmarkId::new("decode_parse_decide", LINES),
        &event,
        |b, event| {
            b.iter(|| {
                let data = parse(black_box(event)).expect("decodes");
                let found = queries(&target, &data);
                black_box(plan(&registry, &found))
            })
        },
    );
    group.bench_with_input(BenchmarkId::new("decide", LINES), &found, |b, found| {
        b.iter(|| black_box(plan(&registry, black_box(found))))
    });
    group.finish();
}

criterion_group!(benches, router);
criterion_main!(benches);
