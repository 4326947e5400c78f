//! The domain's registry of containers: one TXT record per container in the domain's
//! hosted zone, which the container's own stack creates (and deletes with it), in any
//! region: Route 53 is a global API. The router (the dns-query trigger) and the control
//! panel read it; nothing else has to know which containers exist.
//!
//! The record is `<container>._cm.<domain>` (so Route 53 lists every entry of a
//! domain in one contiguous run: it sorts names by their labels reversed), TXT, one
//! string of space-separated `key=value` fields:
//!
//! ```text
//! "v=cm1 region=eu-west-1 asg=cm-asg-prod-valheim metric=cm-prod-valheim threshold=20"
//! ```
//!
//! - `v=cm1`: the format (entries of another version are skipped);
//! - `region`: where the container's Auto Scaling group, alarms and metrics are;
//! - `asg`: its Auto Scaling group;
//! - `metric`: the value of the `ContainerName` dimension of its metrics (the
//!   keep-alive `DnsQueries`, the presence probe's `Players`);
//! - `threshold`: its idle alarm's threshold (the keep-alive is put at this + 1).
//!
//! Unknown keys are ignored (a later version may add some). An entry that does not
//! parse is skipped with the reason: a record anyone with write access to the zone can
//! edit is input, not configuration.

use std::collections::BTreeMap;
use std::fmt;

/// The version this code reads and writes.
pub const VERSION: &str = "cm1";

/// The label under the domain that holds the entries: `<container>._cm.<domain>`.
pub const LABEL: &str = "_cm";

/// One container of the domain.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The container's short name: its DNS name is `<name>.<domain>`.
    pub name: String,
    pub region: String,
    pub asg: String,
    /// The `ContainerName` dimension of its metrics.
    pub metric: String,
    pub threshold: f64,
}

/// Why a record is not an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadEntry {
    /// The record's name, as given.
    pub record: String,
    pub reason: String,
}

impl fmt::Display for BadEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "registry record {}: {}", self.record, self.reason)
    }
}

/// The name of a container's entry: `<container>._cm.<domain>` (no trailing dot).
pub fn record_name(container: &str, domain: &str) -> String {
    format!(
        "{}.{LABEL}.{}",
        container.to_ascii_lowercase(),
        normalise(domain)
    )
}

/// Where the entries of `domain` start in Route 53's listing order
/// (`ListResourceRecordSets`' `StartRecordName`).
pub fn listing_start(domain: &str) -> String {
    format!("{LABEL}.{}", normalise(domain))
}

/// The container's short name if `record` (a name as Route 53 lists it, with or
/// without the trailing dot, any case) is an entry's name under `domain`; `None` for
/// any other record, including one past the entries in the listing.
pub fn container_of(record: &str, domain: &str) -> Option<String> {
    let record = normalise(record);
    let suffix = format!(".{LABEL}.{}", normalise(domain));
    let label = record.strip_suffix(&suffix)?;
    (is_label(label)).then(|| label.to_string())
}

/// The TXT value (without the quotes Route 53 wants around it) for an entry.
pub fn format_value(entry: &Entry) -> String {
    format!(
        "v={VERSION} region={} asg={} metric={} threshold={}",
        entry.region, entry.asg, entry.metric, entry.threshold
    )
}

/// Reads one record: its name (as listed) and its TXT values (each as Route 53 returns
/// it, quoted; several quoted strings in one value are joined, as DNS does).
pub fn parse_record(record: &str, domain: &str, values: &[String]) -> Result<Entry, BadEntry> {
    let bad = |reason: String| BadEntry {
        record: record.to_string(),
        reason,
    };
    let name = container_of(record, domain)
        .ok_or_else(|| bad(format!("is not <container>.{}", listing_start(domain))))?;
    let [value] = values else {
        return Err(bad(format!("has {} values, not one", values.len())));
    };
    let text = unquote(value).ok_or_else(|| bad("is not a quoted TXT string".to_string()))?;
    let mut fields = BTreeMap::new();
    for field in text.split_ascii_whitespace() {
        let (key, val) = field
            .split_once('=')
            .ok_or_else(|| bad(format!("field {field:?} is not key=value")))?;
        if fields.insert(key, val).is_some() {
            return Err(bad(format!("field {key} is given twice")));
        }
    }
    match fields.get("v") {
        Some(&v) if v == VERSION => {}
        Some(v) => return Err(bad(format!("is version {v:?}, not {VERSION}"))),
        None => return Err(bad("has no v= field".to_string())),
    }
    let field = |key: &str| {
        fields
            .get(key)
            .copied()
            .ok_or_else(|| bad(format!("has no {key}= field")))
    };
    let region = field("region")?;
    if !is_region(region) {
        return Err(bad(format!("region {region:?} is not a region name")));
    }
    let asg = field("asg")?;
    if !is_resource_name(asg) {
        return Err(bad(format!("asg {asg:?} is not a group name")));
    }
    let metric = field("metric")?;
    if !is_resource_name(metric) {
        return Err(bad(format!("metric {metric:?} is not a dimension value")));
    }
    let threshold = field("threshold")?;
    let threshold = threshold
        .parse::<f64>()
        .ok()
        .filter(|t| t.is_finite())
        .ok_or_else(|| bad(format!("threshold {threshold:?} is not a number")))?;
    Ok(Entry {
        name,
        region: region.to_string(),
        asg: asg.to_string(),
        metric: metric.to_string(),
        threshold,
    })
}

/// Is `label` a container's name as the registry holds it (a lower-case DNS label:
/// a letter first, then letters, digits and `-`, not ending with `-`, at most 63)?
pub fn is_container_name(label: &str) -> bool {
    is_label(label)
}

/// One record set as `ListResourceRecordSets` gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// As listed: with its trailing dot.
    pub name: String,
    /// `TXT`, `A`...
    pub kind: String,
    /// The values, as Route 53 returns them (a TXT value with its quotes).
    pub values: Vec<String>,
}

/// Where a listing starts (`StartRecordName`, `StartRecordType`; an empty type: none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordStart {
    pub name: String,
    pub kind: String,
}

impl RecordStart {
    /// The first page of `domain`'s entries: from `_cm.<domain>`, TXT.
    pub fn first(domain: &str) -> Self {
        RecordStart {
            name: listing_start(domain),
            kind: "TXT".to_string(),
        }
    }
}

/// One page of the listing, and where the next starts (`None`: the last page).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RecordPage {
    pub records: Vec<Record>,
    pub next: Option<RecordStart>,
}

/// What one page of the listing holds.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PageEntries {
    pub entries: Vec<Entry>,
    /// Records under `_cm.<domain>` that are not entries, with the reason.
    pub bad: Vec<BadEntry>,
    /// The listing went past the entries: no need for another page.
    pub past_end: bool,
}

/// The entries among `records` (a page of the listing from [`listing_start`]); the
/// run of entries ends at the first name that is not under `_cm.<domain>`.
pub fn read_page(domain: &str, records: &[Record]) -> PageEntries {
    let start = listing_start(domain);
    let under = format!(".{start}");
    let mut page = PageEntries::default();
    for record in records {
        let name = record.name.trim_end_matches('.').to_ascii_lowercase();
        if name == start {
            continue;
        }
        if !name.ends_with(&under) {
            page.past_end = true;
            break;
        }
        if record.kind != "TXT" {
            page.bad.push(BadEntry {
                record: record.name.clone(),
                reason: format!("is a {} record, not TXT", record.kind),
            });
            continue;
        }
        match parse_record(&record.name, domain, &record.values) {
            Ok(entry) => page.entries.push(entry),
            Err(bad) => page.bad.push(bad),
        }
    }
    page
}

/// At most this many pages of the listing ([`RECORDS_PER_PAGE`] records each) are read.
pub const MAX_PAGES: usize = 20;

/// The whole registry as [`read`] found it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Listing {
    pub entries: Vec<Entry>,
    /// The records skipped, with the reason (each is logged too).
    pub bad: Vec<BadEntry>,
    /// Pages read.
    pub pages: usize,
}

/// Reads `domain`'s registry through `list` (one `ListResourceRecordSets` page from
/// the given start): from [`RecordStart::first`], page after page until the first
/// name past the entries, at most [`MAX_PAGES`]. A record that is not an entry is
/// skipped and logged with the reason (a warning); a failed page is the error.
pub async fn read<F, Fut>(domain: &str, mut list: F) -> Result<Listing, crate::Error>
where
    F: FnMut(RecordStart) -> Fut,
    Fut: std::future::Future<Output = Result<RecordPage, crate::Error>>,
{
    let mut start = RecordStart::first(domain);
    let mut listing = Listing::default();
    while listing.pages < MAX_PAGES {
        let page = list(start).await?;
        listing.pages += 1;
        let read = read_page(domain, &page.records);
        for bad in &read.bad {
            tracing::warn!(record = %bad.record, reason = %bad.reason, "registry record skipped");
        }
        listing.entries.extend(read.entries);
        listing.bad.extend(read.bad);
        match page.next {
            Some(next) if !read.past_end => start = next,
            _ => return Ok(listing),
        }
    }
    tracing::warn!(
        pages = MAX_PAGES,
        entries = listing.entries.len(),
        "the registry listing was cut after its page limit"
    );
    Ok(listing)
}

/// Records per page of the listing (Route 53's most).
pub const RECORDS_PER_PAGE: i32 = 300;

/// `ListResourceRecordSets` of `zone` from `start` through the SDK (feature `route53`):
/// one page of at most [`RECORDS_PER_PAGE`] records, and where the next starts.
#[cfg(feature = "route53")]
pub async fn list_page(
    route53: &aws_sdk_route53::Client,
    zone: &str,
    start: &RecordStart,
) -> Result<RecordPage, crate::Error> {
    use aws_sdk_route53::types::RrType;

    let mut call = route53
        .list_resource_record_sets()
        .hosted_zone_id(zone)
        .start_record_name(&start.name)
        .max_items(RECORDS_PER_PAGE);
    if !start.kind.is_empty() {
        call = call.start_record_type(RrType::from(start.kind.as_str()));
    }
    let out = call
        .send()
        .await
        .map_err(|e| crate::Error::aws(format!("ListResourceRecordSets {zone}"), e))?;
    let records = out
        .resource_record_sets()
        .iter()
        .map(|r| Record {
            name: r.name().to_string(),
            kind: r.r#type().as_str().to_string(),
            values: r
                .resource_records()
                .iter()
                .map(|v| v.value().to_string())
                .collect(),
        })
        .collect();
    let next = match (out.is_truncated(), out.next_record_name()) {
        (true, Some(name)) => Some(RecordStart {
            name: name.to_string(),
            kind: out
                .next_record_type()
                .map(|t| t.as_str().to_string())
                .unwrap_or_default(),
        }),
        _ => None,
    };
    Ok(RecordPage { records, next })
}

/// Lower case, without the trailing dot.
fn normalise(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// A DNS label as the template's ContainerName allows it.
fn is_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 63
        && label.starts_with(|c: char| c.is_ascii_lowercase())
        && !label.ends_with('-')
        && label
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn is_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && region.len() <= 32
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && parts[parts.len() - 1].chars().all(|c| c.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty()
}

/// Letters, digits, `-`, `_` and `.`, at most 255: the names the template gives.
fn is_resource_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// `"a" "b"` -> `ab` (DNS joins a TXT value's strings); `None` if not quoted strings.
fn unquote(value: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = value.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let inner = rest.strip_prefix('"')?;
        let mut chars = inner.char_indices();
        let end = loop {
            match chars.next()? {
                (i, '"') => break i,
                (_, '\\') => {
                    let (_, escaped) = chars.next()?;
                    out.push(escaped);
                }
                (_, c) => out.push(c),
            }
        };
        rest = inner[end + 1..].trim_start();
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry {
        Entry {
            name: "valheim".into(),
            region: "eu-west-1".into(),
            asg: "cm-asg-prod-valheim".into(),
            metric: "cm-prod-valheim".into(),
            threshold: 20.0,
        }
    }

    #[test]
    fn an_entry_round_trips_through_its_record() {
        let name = record_name("valheim", "Games.Example.com.");
        assert_eq!(name, "valheim._cm.games.example.com");
        let value = format!("\"{}\"", format_value(&entry()));
        assert_eq!(
            value,
            "\"v=cm1 region=eu-west-1 asg=cm-asg-prod-valheim metric=cm-prod-valheim threshold=20\""
        );
        let parsed = parse_record(&format!("{name}."), "games.example.com", &[value]).unwrap();
        assert_eq!(parsed, entry());
    }

    #[test]
    fn entries_list_under_one_start() {
        assert_eq!(listing_start("example.com."), "_cm.example.com");
        assert_eq!(
            container_of("MC._cm.Example.com.", "example.com"),
            Some("mc".into())
        );
        for other in [
            "_cm.example.com.",
            "mc.example.com.",
            "a.b._cm.example.com.",
            "mc._cm.other.com.",
            "-x._cm.example.com.",
        ] {
            assert_eq!(container_of(other, "example.com"), None, "{other}");
        }
    }

    #[test]
    fn split_strings_are_joined_and_unknown_keys_ignored() {
        let values =
            vec!["\"v=cm1 region=us-east-1 \" \"asg=g metric=m threshold=0.5 game=a2s\"".into()];
        let e = parse_record("x._cm.example.com.", "example.com", &values).unwrap();
        assert_eq!(e.region, "us-east-1");
        assert_eq!(e.threshold, 0.5);
    }

    fn txt(name: &str, value: &str) -> Record {
        Record {
            name: name.into(),
            kind: "TXT".into(),
            values: vec![value.into()],
        }
    }

    #[test]
    fn a_page_holds_the_run_of_entries_and_says_why_others_are_skipped() {
        let good = format!("\"{}\"", format_value(&entry()));
        let records = vec![
            txt("_cm.example.com.", "\"not an entry\""),
            txt("valheim._cm.example.com.", &good),
            Record {
                name: "x._cm.example.com.".into(),
                kind: "A".into(),
                values: vec!["192.0.2.1".into()],
            },
            txt("y._cm.example.com.", "\"v=cm1\""),
            txt("_dmarc.example.com.", "\"v=DMARC1\""),
            txt("z._cm.example.com.", &good),
        ];
        let page = read_page("example.com", &records);
        assert_eq!(page.entries, vec![entry()]);
        assert!(page.past_end);
        let reasons: Vec<&str> = page.bad.iter().map(|b| b.reason.as_str()).collect();
        assert_eq!(reasons.len(), 2, "{reasons:?}");
        assert!(reasons[0].contains("not TXT"), "{reasons:?}");
        assert!(reasons[1].contains("no region= field"), "{reasons:?}");
        assert!(!read_page("example.com", &records[..4]).past_end);
        assert!(is_container_name("valheim") && !is_container_name("_cm"));
    }

    /// `pages` as `ListResourceRecordSets` would give them, one after the other.
    fn lister(
        pages: Vec<RecordPage>,
    ) -> impl FnMut(RecordStart) -> std::future::Ready<Result<RecordPage, crate::Error>> {
        let mut pages = pages.into_iter();
        move |_start| std::future::ready(Ok(pages.next().unwrap_or_default()))
    }

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime")
            .block_on(future)
    }

    #[test]
    fn the_registry_is_read_page_after_page_until_past_its_entries() {
        let good = format!("\"{}\"", format_value(&entry()));
        let next = |name: &str| {
            Some(RecordStart {
                name: name.into(),
                kind: "TXT".into(),
            })
        };
        let pages = vec![
            RecordPage {
                records: vec![txt("valheim._cm.example.com.", &good)],
                next: next("w._cm.example.com."),
            },
            RecordPage {
                records: vec![txt("w._cm.example.com.", "\"v=cm1\"")],
                next: next("x._cm.example.com."),
            },
            RecordPage {
                records: vec![txt("www.example.com.", "\"hello\"")],
                next: next("zzz.example.com."),
            },
        ];
        let listing = block_on(read("example.com", lister(pages))).unwrap();
        assert_eq!(listing.entries, vec![entry()]);
        assert_eq!(listing.bad.len(), 1);
        assert_eq!(listing.pages, 3, "stops at the first name past the entries");
        let mut starts = Vec::new();
        let failing = |start: RecordStart| {
            starts.push(start);
            std::future::ready(Err(crate::Error::Aws {
                operation: "ListResourceRecordSets Z1".into(),
                message: "Throttling".into(),
            }))
        };
        let err = block_on(read("Example.com.", failing)).unwrap_err();
        assert!(err.to_string().contains("ListResourceRecordSets Z1"));
        assert_eq!(starts, vec![RecordStart::first("example.com")]);
        assert_eq!(starts[0].name, "_cm.example.com");
    }

    #[test]
    fn bad_records_say_why() {
        let cases: &[(&str, &str)] = &[
            (
                "\"v=cm2 region=us-east-1 asg=g metric=m threshold=1\"",
                "version",
            ),
            (
                "\"region=us-east-1 asg=g metric=m threshold=1\"",
                "no v= field",
            ),
            ("\"v=cm1 asg=g metric=m threshold=1\"", "no region= field"),
            ("\"v=cm1 region=mars asg=g metric=m threshold=1\"", "region"),
            (
                "\"v=cm1 region=us-east-1 asg=a/b metric=m threshold=1\"",
                "asg",
            ),
            (
                "\"v=cm1 region=us-east-1 asg=g metric=m threshold=NaN\"",
                "threshold",
            ),
            (
                "\"v=cm1 region=us-east-1 asg=g asg=h metric=m threshold=1\"",
                "twice",
            ),
            ("\"v=cm1 oops\"", "key=value"),
            ("v=cm1 unquoted", "quoted"),
            ("\"unterminated", "quoted"),
        ];
        for (value, why) in cases {
            let err = parse_record("mc._cm.example.com.", "example.com", &[value.to_string()])
                .unwrap_err();
            assert!(err.reason.contains(why), "{value}: {err}");
            assert!(err
                .to_string()
                .starts_with("registry record mc._cm.example.com."));
        }
        let two = vec!["\"a\"".to_string(), "\"b\"".to_string()];
        assert!(parse_record("mc._cm.example.com", "example.com", &two)
            .unwrap_err()
            .reason
            .contains("2 values"));
        assert!(parse_record("mc.example.com", "example.com", &[])
            .unwrap_err()
            .reason
            .contains("is not <container>._cm.example.com"));
    }
}
