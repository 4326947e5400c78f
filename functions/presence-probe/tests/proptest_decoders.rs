//! The three decoders fuzzed: arbitrary bytes, and valid replies mutated (bytes
//! flipped, cut, inserted, removed). They never panic, and no allocation made while
//! decoding is larger than the reply itself (plus a small constant): a length field
//! never decides how much memory is taken. Valid replies with any counts decode to
//! exactly those counts.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use presence_probe::protocol::{a2s, bedrock, java, ProbeAnswer};
use proptest::collection::vec;
use proptest::prelude::*;

/// Records the largest allocation made on this thread while measuring.
struct Measuring;

thread_local! {
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Measuring {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

fn note(size: usize) {
    let _ = ACTIVE.try_with(|active| {
        if active.get() {
            let _ = LARGEST.try_with(|largest| largest.set(largest.get().max(size)));
        }
    });
}

#[global_allocator]
static ALLOCATOR: Measuring = Measuring;

/// Runs `decode` on `bytes`; fails when any allocation during it exceeds the reply's
/// size plus 4 KiB (error messages, serde's scratch space).
fn bounded<T>(bytes: &[u8], decode: impl FnOnce(&[u8]) -> T) -> Result<T, TestCaseError> {
    LARGEST.with(|l| l.set(0));
    ACTIVE.with(|a| a.set(true));
    let out = decode(bytes);
    ACTIVE.with(|a| a.set(false));
    let largest = LARGEST.with(Cell::get);
    prop_assert!(
        largest <= bytes.len() + 4096,
        "an allocation of {} bytes while decoding {} bytes",
        largest,
        bytes.len()
    );
    Ok(out)
}

#[derive(Debug, Clone)]
enum Mutation {
    Set(usize, u8),
    Cut(usize),
    Insert(usize, Vec<u8>),
    Remove(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        1 => any::<usize>().prop_map(Mutation::Cut),
        2 => (any::<usize>(), vec(any::<u8>(), 1..8)).prop_map(|(i, b)| Mutation::Insert(i, b)),
        1 => any::<usize>().prop_map(Mutation::Remove),
    ]
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let len = bytes.len().max(1);
        match m {
            Mutation::Set(i, b) => {
                if !bytes.is_empty() {
                    bytes[i % len] = *b;
                }
            }
            Mutation::Cut(i) => bytes.truncate(i % len),
            Mutation::Insert(i, b) => {
                let at = i % (bytes.len() + 1);
                bytes.splice(at..at, b.iter().copied());
            }
            Mutation::Remove(i) => {
                if !bytes.is_empty() {
                    bytes.remove(i % len);
                }
            }
        }
    }
    bytes
}

fn varint(value: i32) -> Vec<u8> {
    let mut out = Vec::new();
    java::encode_varint(value, &mut out);
    out
}

fn java_reply(online: u32, max: u32) -> Vec<u8> {
    let json = format!(
        r#"{{"version":{{"name":"1.21.4","protocol":769}},"players":{{"max":{max},"online":{online},"sample":[{{"name":"a","id":"00000000-0000-0000-0000-000000000000"}}]}},"description":{{"text":"hi"}}}}"#
    );
    let mut packet = vec![0x00];
    packet.extend(varint(json.len() as i32));
    packet.extend_from_slice(json.as_bytes());
    let mut out = varint(packet.len() as i32);
    out.extend(packet);
    out
}

fn bedrock_reply(online: u32, max: u32) -> Vec<u8> {
    let status = format!("MCPE;motd;766;1.21.50;{online};{max};1;level;Survival;1;19132;19133;");
    let mut out = vec![0x1c];
    out.extend_from_slice(&[0; 16]);
    out.extend_from_slice(&bedrock::MAGIC);
    out.extend_from_slice(&(status.len() as u16).to_be_bytes());
    out.extend_from_slice(status.as_bytes());
    out
}

fn a2s_reply(players: u8, max: u8, bots: u8) -> Vec<u8> {
    let mut out = vec![0xff, 0xff, 0xff, 0xff, 0x49, 17];
    out.extend_from_slice(b"name\0map\0folder\0game\0");
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&[players, max, bots, b'd', b'l', 0, 0]);
    out.extend_from_slice(b"1.0\0");
    out.push(0x80 | 0x20 | 0x01);
    out.extend_from_slice(&2457u16.to_le_bytes());
    out.extend_from_slice(b"tag,cp7\0");
    out.extend_from_slice(&892_970u64.to_le_bytes());
    out
}

fn decode_java(bytes: &[u8]) {
    let _ = java::decode_reply(bytes);
    let _ = java::decode_status_packet(bytes);
    if let Ok(Some((value, used))) = java::decode_varint(bytes) {
        assert!((1..=java::MAX_VARINT_BYTES).contains(&used));
        if let Ok(length) = java::packet_length(value) {
            assert!(length <= java::MAX_PACKET);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn java_never_panics_on_arbitrary_bytes(bytes in vec(any::<u8>(), 0..1024)) {
        bounded(&bytes, decode_java)?;
    }

    #[test]
    fn java_never_panics_on_mutated_replies(
        online in any::<u32>(),
        mutations in vec(mutation(), 1..6),
    ) {
        let bytes = mutate(java_reply(online, 20), &mutations);
        bounded(&bytes, decode_java)?;
    }

    #[test]
    fn java_reads_any_count(online in any::<u32>(), max in any::<u32>()) {
        let status = java::decode_reply(&java_reply(online, max)).unwrap();
        prop_assert_eq!(ProbeAnswer::from(status), ProbeAnswer { players: online, max_players: Some(max) });
    }

    #[test]
    fn varints_round_trip(value in any::<i32>()) {
        let bytes = varint(value);
        prop_assert_eq!(java::decode_varint(&bytes).unwrap(), Some((value, bytes.len())));
    }

    #[test]
    fn bedrock_never_panics_on_arbitrary_bytes(bytes in vec(any::<u8>(), 0..1024)) {
        let _ = bounded(&bytes, bedrock::decode_pong)?;
    }

    #[test]
    fn bedrock_never_panics_on_mutated_replies(
        online in any::<u32>(),
        mutations in vec(mutation(), 1..6),
    ) {
        let bytes = mutate(bedrock_reply(online, 10), &mutations);
        let _ = bounded(&bytes, bedrock::decode_pong)?;
    }

    #[test]
    fn bedrock_reads_any_count(online in any::<u32>(), max in any::<u32>()) {
        let pong = bedrock::decode_pong(&bedrock_reply(online, max)).unwrap();
        prop_assert_eq!((pong.players, pong.max_players), (online, max));
    }

    #[test]
    fn a2s_never_panics_on_arbitrary_bytes(
        tail in vec(any::<u8>(), 0..1024),
        kind in prop_oneof![Just(0x41u8), Just(0x49), Just(0x6d), any::<u8>()],
    ) {
        // Half of the inputs get a valid header and type, to go deeper.
        let mut bytes = vec![0xff, 0xff, 0xff, 0xff, kind];
        bytes.extend(tail.iter().copied());
        let _ = bounded(&bytes, a2s::decode_info_reply)?;
        let _ = bounded(&tail, a2s::decode_info_reply)?;
    }

    #[test]
    fn a2s_never_panics_on_mutated_replies(
        players in any::<u8>(),
        mutations in vec(mutation(), 1..6),
    ) {
        let bytes = mutate(a2s_reply(players, 16, 0), &mutations);
        let _ = bounded(&bytes, a2s::decode_info_reply)?;
    }

    #[test]
    fn a2s_reads_any_count(players in any::<u8>(), max in any::<u8>(), bots in any::<u8>()) {
        let reply = a2s::decode_info_reply(&a2s_reply(players, max, bots)).unwrap();
        let a2s::InfoReply::Info(info) = reply else {
            return Err(TestCaseError::fail("not an info reply"));
        };
        prop_assert_eq!(
            ProbeAnswer::from(info),
            ProbeAnswer {
                players: u32::from(players.saturating_sub(bots)),
                max_players: Some(u32::from(max)),
            }
        );
    }
}

#[test]
fn the_measure_sees_a_large_allocation() {
    let err = bounded(&[0u8; 16], |_| vec![0u8; 100_000].len()).unwrap_err();
    assert!(
        err.to_string().contains("an allocation of 100000 bytes"),
        "{err}"
    );
    assert_eq!(bounded(&[0u8; 16], |b| b.len()).unwrap(), 16);
}
