//! The router's pure path on realistic batches: `awslogs.data` (base64 of gzip of the
//! JSON envelope) -> decoded batch -> lines counted, and the containers of the domain
//! they ask for counted per label.
//!
//! `cargo bench -p dns-query-trigger --bench decode_filter` (or `scripts/bench`, which
//! also writes the results to BENCHMARKS.md). Target: 10,000 lines in <= 10 ms.

use std::hint::black_box;

use cm_testkit::events::{numbered_query_line, query_log_event};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use dns_query_trigger::parse::{parse, queries, QueryTarget};
use serde_json::Value;

/// A subscription event of `lines` query-log lines, one per log event as Route53
/// writes them: half of them lookups of a container of the domain (`mc`, `api`, `vh`),
/// the others sub-names, the apex and other types.
fn event(lines: usize) -> Value {
    let names = [
        "mc.example.com",
        "_minecraft._tcp.mc.example.com",
        "www.example.com",
        "mc.example.com.",
        "MC.EXAMPLE.COM",
        "api.example.com",
        "example.com",
        "mail.example.com",
        "vh.example.com",
        "pw.example.com",
    ];
    let types = ["A", "SRV", "AAAA", "A", "A", "A", "MX", "TXT", "A", "HTTPS"];
    let lines: Vec<String> = (0..lines)
        .map(|i| numbered_query_line(i, names[i % names.len()], types[i % names.len()]))
        .collect();
    query_log_event("DATA_MESSAGE", &lines)
}

fn decode_filter(c: &mut Criterion) {
    let target = QueryTarget {
        domain: "example.com".to_string(),
        record_type: "A".to_string(),
    };
    let mut group = c.benchmark_group("decode_filter");
    for lines in [10usize, 1_000, 10_000] {
        let event = event(lines);
        // The benchmark measures real work: check once that it sees every line and
        // finds the containers' lookups (`<label>.example.com` A, with and without
        // the dot, in any case).
        let data = parse(&event).expect("decodes");
        let found = queries(&target, &data);
        assert_eq!(found.lines_seen, lines);
        assert_eq!(
            found.lines_matched,
            (0..lines)
                .filter(|i| [0, 3, 4, 5, 8].contains(&(i % 10)))
                .count()
        );
        group.throughput(Throughput::Elements(lines as u64));
        group.bench_with_input(BenchmarkId::from_parameter(lines), &event, |b, event| {
            b.iter(|| {
                let data = parse(black_box(event)).expect("decodes");
                black_box(queries(&target, &data))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, decode_filter);
criterion_main!(benches);
