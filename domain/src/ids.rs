//! Identifiers and secret tokens.
//!
//! Every entity id is `<kind prefix><body>`, e.g. `ord_01kaq2x9d8c3f7g1h5j6k0m2n4`: the prefix
//! names the kind at a glance (logs, URLs, stream ids), the body is opaque. Generated bodies
//! are 26 lowercase Crockford base32 characters (ULID layout: 48-bit millisecond time, then 80
//! random bits), so ids sort by creation time. Ids are made outside the deciders by an
//! injected [`IdGen`] and passed in commands, so decisions stay deterministic.
//!
//! Invariant: every id accepted by [`is_valid_id`] matches `^[a-z]{3}_[a-z0-9_]{1,64}$` with
//! the right prefix, so it is safe inside stream ids (`order-ord_…`, ≤ 128 bytes), URLs and
//! file names. Stable hand-made ids such as the public template `tpl_standard_manual` qualify.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rand::{Rng, RngCore};

use crate::clock::Clock;

/// Longest id body (after the prefix) that [`is_valid_id`] accepts.
pub const ID_BODY_BYTES_MAX: usize = 64;
/// Characters of a generated id body: 130 bits of base32, 128 of them used.
pub const GENERATED_ID_BODY_CHARS: usize = 26;
/// Prefix of bearer tokens, so leaked tokens are recognisable by secret scanners.
pub const SECRET_TOKEN_PREFIX: &str = "mlt_";
/// Random bytes in a bearer token (256 bits; SPEC §1 asks for at least 128).
pub const SECRET_TOKEN_RANDOM_BYTES: usize = 32;

/// Crockford's base32 alphabet, lowercase: no `i l o u`, so ids survive being read aloud.
const CROCKFORD_ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
/// Bits of randomness below the time in a generated id.
const RANDOM_BITS: u32 = 80;
const RANDOM_MASK: u128 = (1u128 << RANDOM_BITS) - 1;
/// Largest millisecond time a generated id can carry (48 bits, until the year 10889).
const TIME_MS_MAX: u64 = (1u64 << 48) - 1;

/// What an id identifies; each kind has its own three-letter prefix.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum IdKind {
    /// An order.
    Order,
    /// A product.
    Product,
    /// A product spec (规格).
    Spec,
    /// An organisation (ISV; seller and provider).
    Org,
    /// A principal that is not a customer (platform, ISV admin or staff, auditor, analyst).
    Principal,
    /// A customer principal.
    Customer,
    /// A promotion.
    Promotion,
    /// A coupon campaign.
    Campaign,
    /// A granted coupon.
    Coupon,
    /// A refund.
    Refund,
    /// An instance (业务).
    Instance,
    /// An invoice.
    Invoice,
    /// A review.
    Review,
    /// A delivery flow template.
    Template,
    /// A delivery project.
    Delivery,
    /// A staff member of an org.
    Staff,
    /// An uploaded file.
    File,
    /// A project message or note.
    Message,
    /// A bearer token's public handle (for listing and revoking, never the secret).
    Token,
    /// An HTTP request.
    Request,
    /// A correlation id tying together the events one command caused.
    Correlation,
    /// An event (used as a causation id).
    Event,
    /// A batch of product page views.
    PageViews,
}

impl IdKind {
    /// Every kind, for iteration.
    pub const ALL: [IdKind; 23] = [
        IdKind::Order,
        IdKind::Product,
        IdKind::Spec,
        IdKind::Org,
        IdKind::Principal,
        IdKind::Customer,
        IdKind::Promotion,
        IdKind::Campaign,
        IdKind::Coupon,
        IdKind::Refund,
        IdKind::Instance,
        IdKind::Invoice,
        IdKind::Review,
        IdKind::Template,
        IdKind::Delivery,
        IdKind::Staff,
        IdKind::File,
        IdKind::Message,
        IdKind::Token,
        IdKind::Request,
        IdKind::Correlation,
        IdKind::Event,
        IdKind::PageViews,
    ];

    /// The id prefix, including its underscore.
    pub const fn prefix(self) -> &'static str {
        match self {
            IdKind::Order => "ord_",
            IdKind::Product => "prd_",
            IdKind::Spec => "spc_",
            IdKind::Org => "org_",
            IdKind::Principal => "prn_",
            IdKind::Customer => "cus_",
            IdKind::Promotion => "prm_",
            IdKind::Campaign => "cpc_",
            IdKind::Coupon => "cpn_",
            IdKind::Refund => "rfd_",
            IdKind::Instance => "ins_",
            IdKind::Invoice => "inv_",
            IdKind::Review => "rev_",
            IdKind::Template => "tpl_",
            IdKind::Delivery => "dlv_",
            IdKind::Staff => "stf_",
            IdKind::File => "fil_",
            IdKind::Message => "msg_",
            IdKind::Token => "tok_",
            IdKind::Request => "req_",
            IdKind::Correlation => "cor_",
            IdKind::Event => "evt_",
            IdKind::PageViews => "pgv_",
        }
    }

    /// The kind of a valid id, from its prefix.
    pub fn of(id: &str) -> Option<IdKind> {
        IdKind::ALL.into_iter().find(|kind| is_valid_id(*kind, id))
    }
}

/// Whether `id` is a well-formed id of `kind`: its prefix, then 1..=[`ID_BODY_BYTES_MAX`]
/// characters of `[a-z0-9_]`.
pub fn is_valid_id(kind: IdKind, id: &str) -> bool {
    let Some(body) = id.strip_prefix(kind.prefix()) else {
        return false;
    };
    !body.is_empty()
        && body.len() <= ID_BODY_BYTES_MAX
        && body
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_')
}

/// A source of new ids.
pub trait IdGen: Send + Sync + 'static {
    /// A new id of `kind`, never handed out before by this generator.
    fn new_id(&self, kind: IdKind) -> String;
}

/// Production ids: ULID-style, time-ordered, 80 random bits.
///
/// Within one millisecond (or if the clock steps back) the previous id's random part is
/// incremented instead of redrawn, so ids from one generator are strictly increasing — list
/// order equals creation order even under bursts.
pub struct RandomIdGen {
    clock: Arc<dyn Clock>,
    last: Mutex<u128>,
}

impl RandomIdGen {
    /// A generator reading the time from `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> RandomIdGen {
        RandomIdGen {
            clock,
            last: Mutex::new(0),
        }
    }

    fn next_value(&self) -> u128 {
        let micros = self.clock.now().as_micros();
        let ms = u64::try_from(micros / 1000).unwrap_or(0).min(TIME_MS_MAX);
        let fresh = (u128::from(ms) << RANDOM_BITS) | (rand::rng().random::<u128>() & RANDOM_MASK);
        // A poisoned lock only means another thread panicked mid-update of a plain integer;
        // the value is still usable.
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let value = if fresh > *last {
            fresh
        } else {
            // Same millisecond or a clock step back: stay above the last id. Wrapping past
            // 2^128 would take 2^80 ids in one millisecond.
            last.wrapping_add(1)
        };
        *last = value;
        value
    }
}

impl std::fmt::Debug for RandomIdGen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RandomIdGen").finish_non_exhaustive()
    }
}

impl IdGen for RandomIdGen {
    fn new_id(&self, kind: IdKind) -> String {
        let value = self.next_value();
        let mut id = String::with_capacity(kind.prefix().len() + GENERATED_ID_BODY_CHARS);
        id.push_str(kind.prefix());
        for index in (0..GENERATED_ID_BODY_CHARS).rev() {
            let digit = (value >> (5 * index)) & 31;
            id.push(char::from(CROCKFORD_ALPHABET[digit as usize]));
        }
        id
    }
}

/// Deterministic ids for tests and golden files: `<prefix>` + a counter zero-padded to 26
/// digits (`ord_00000000000000000000000001`), shared across kinds, starting at 1. Same shape
/// and ordering as generated ids.
#[derive(Debug, Default)]
pub struct SequentialIdGen {
    counter: AtomicU64,
}

impl SequentialIdGen {
    /// A generator whose first id ends in `…01`.
    pub fn new() -> SequentialIdGen {
        SequentialIdGen::default()
    }
}

impl IdGen for SequentialIdGen {
    fn new_id(&self, kind: IdKind) -> String {
        let next = self.counter.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
        format!(
            "{}{next:0width$}",
            kind.prefix(),
            width = GENERATED_ID_BODY_CHARS
        )
    }
}

/// A new bearer token: [`SECRET_TOKEN_PREFIX`] + 64 lowercase hex digits (256 bits from the
/// thread-local CSPRNG, which is seeded from the OS). Shown once; only its hash is stored
/// (hashing lives outside this crate, which has no hash dependency).
pub fn new_secret_token() -> String {
    let mut random = [0u8; SECRET_TOKEN_RANDOM_BYTES];
    rand::rng().fill_bytes(&mut random);
    let mut token = String::with_capacity(SECRET_TOKEN_PREFIX.len() + 2 * random.len());
    token.push_str(SECRET_TOKEN_PREFIX);
    for byte in random {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        token.push(char::from(HEX[usize::from(byte >> 4)]));
        token.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    token
}

/// Whether `token` has the shape [`new_secret_token`] produces; lets auth reject garbage
/// before hashing and looking it up.
pub fn is_well_formed_secret_token(token: &str) -> bool {
    token.strip_prefix(SECRET_TOKEN_PREFIX).is_some_and(|hex| {
        hex.len() == 2 * SECRET_TOKEN_RANDOM_BYTES
            && hex
                .bytes()
                .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SimulatedClock;
    use crate::time::Timestamp;
    use std::collections::BTreeSet;

    fn clock_at(text: &str) -> Arc<SimulatedClock> {
        Arc::new(SimulatedClock::new(Timestamp::parse_rfc3339(text).unwrap()))
    }

    #[test]
    fn prefixes_are_unique_and_three_letters_with_underscore() {
        let prefixes: BTreeSet<&str> = IdKind::ALL.iter().map(|kind| kind.prefix()).collect();
        assert_eq!(prefixes.len(), IdKind::ALL.len());
        for prefix in prefixes {
            assert_eq!(prefix.len(), 4, "{prefix}");
            assert!(
                prefix[..3].bytes().all(|b| b.is_ascii_lowercase()),
                "{prefix}"
            );
            assert!(prefix.ends_with('_'), "{prefix}");
        }
    }

    #[test]
    fn prefixes_match_the_agreed_table() {
        let table = [
            (IdKind::Order, "ord_"),
            (IdKind::Product, "prd_"),
            (IdKind::Org, "org_"),
            (IdKind::Principal, "prn_"),
            (IdKind::Customer, "cus_"),
            (IdKind::Promotion, "prm_"),
            (IdKind::Campaign, "cpc_"),
            (IdKind::Coupon, "cpn_"),
            (IdKind::Refund, "rfd_"),
            (IdKind::Instance, "ins_"),
            (IdKind::Invoice, "inv_"),
            (IdKind::Review, "rev_"),
            (IdKind::Template, "tpl_"),
            (IdKind::Delivery, "dlv_"),
            (IdKind::Staff, "stf_"),
            (IdKind::File, "fil_"),
            (IdKind::Request, "req_"),
            (IdKind::Correlation, "cor_"),
        ];
        for (kind, prefix) in table {
            assert_eq!(kind.prefix(), prefix, "{kind:?}");
        }
    }

    #[test]
    fn random_ids_have_prefix_and_26_crockford_chars() {
        let generator = RandomIdGen::new(clock_at("2026-11-22T08:00:00+08:00"));
        for kind in IdKind::ALL {
            let id = generator.new_id(kind);
            let body = id.strip_prefix(kind.prefix()).unwrap();
            assert_eq!(body.len(), GENERATED_ID_BODY_CHARS, "{id}");
            assert!(
                body.bytes().all(|b| CROCKFORD_ALPHABET.contains(&b)),
                "{id}"
            );
            assert!(is_valid_id(kind, &id), "{id}");
            assert_eq!(IdKind::of(&id), Some(kind));
        }
    }

    #[test]
    fn random_ids_encode_the_creation_millisecond_first() {
        let clock = clock_at("2026-11-22T00:00:00Z");
        let generator = RandomIdGen::new(clock.clone());
        let id = generator.new_id(IdKind::Order);
        let body = &id[4..];
        let mut value: u128 = 0;
        for byte in body.bytes() {
            let digit = CROCKFORD_ALPHABET.iter().position(|c| *c == byte).unwrap();
            value = (value << 5) | digit as u128;
        }
        let ms = (value >> RANDOM_BITS) as i64;
        assert_eq!(ms, clock.now().as_micros() / 1000);
    }

    #[test]
    fn random_ids_sort_by_creation_time() {
        let clock = clock_at("2026-11-22T08:00:00+08:00");
        let generator = RandomIdGen::new(clock.clone());
        let mut ids = Vec::new();
        for _ in 0..50 {
            // Several ids within one millisecond, then a step forward.
            for _ in 0..20 {
                ids.push(generator.new_id(IdKind::Order));
            }
            clock.advance(1);
        }
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, ids);
    }

    #[test]
    fn random_ids_keep_increasing_when_the_clock_steps_back() {
        let late = RandomIdGen::new(clock_at("2030-01-01T00:00:00Z"));
        let first = late.new_id(IdKind::Order);
        // Same generator state, but a clock that now reads earlier.
        let early_clock: Arc<dyn Clock> = clock_at("2020-01-01T00:00:00Z");
        let stepped_back = RandomIdGen {
            clock: early_clock,
            last: Mutex::new(*late.last.lock().unwrap()),
        };
        assert!(stepped_back.new_id(IdKind::Order) > first);
    }

    #[test]
    fn sequential_ids_are_deterministic_and_padded() {
        let generator = SequentialIdGen::new();
        assert_eq!(
            generator.new_id(IdKind::Order),
            "ord_00000000000000000000000001"
        );
        assert_eq!(
            generator.new_id(IdKind::Customer),
            "cus_00000000000000000000000002"
        );
        let again = SequentialIdGen::new();
        assert_eq!(
            again.new_id(IdKind::Order),
            "ord_00000000000000000000000001"
        );
        assert!(is_valid_id(IdKind::Order, "ord_00000000000000000000000001"));
    }

    #[test]
    fn valid_ids_need_the_right_prefix_and_a_safe_body() {
        let cases = [
            (IdKind::Order, "ord_01kaq2x9d8c3f7g1h5j6k0m2n4", true),
            (IdKind::Template, "tpl_standard_manual", true),
            (IdKind::Order, "prd_01kaq2x9d8c3f7g1h5j6k0m2n4", false),
            (IdKind::Order, "ord_", false),
            (IdKind::Order, "ord", false),
            (IdKind::Order, "ORD_abc", false),
            (IdKind::Order, "ord_ABC", false),
            (IdKind::Order, "ord_a-b", false),
            (IdKind::Order, "ord_a/b", false),
            (IdKind::Order, "ord_é", false),
            (IdKind::Order, "", false),
        ];
        for (kind, id, expected) in cases {
            assert_eq!(is_valid_id(kind, id), expected, "{kind:?} {id:?}");
        }
        let longest = format!("ord_{}", "a".repeat(ID_BODY_BYTES_MAX));
        let too_long = format!("ord_{}", "a".repeat(ID_BODY_BYTES_MAX + 1));
        assert!(is_valid_id(IdKind::Order, &longest));
        assert!(!is_valid_id(IdKind::Order, &too_long));
    }

    #[test]
    fn kind_of_rejects_unknown_prefixes() {
        assert_eq!(IdKind::of("xyz_abc"), None);
        assert_eq!(IdKind::of("tpl_basic"), Some(IdKind::Template));
    }

    #[test]
    fn secret_tokens_are_prefixed_256_bit_hex_and_distinct() {
        let first = new_secret_token();
        let second = new_secret_token();
        assert_eq!(first.len(), 4 + 64);
        assert!(is_well_formed_secret_token(&first), "{first}");
        assert_ne!(first, second);
    }

    #[test]
    fn malformed_secret_tokens_are_recognised() {
        let good = format!("mlt_{}", "0a".repeat(32));
        assert!(is_well_formed_secret_token(&good));
        for bad in [
            String::new(),
            "mlt_".to_owned(),
            format!("mlt_{}", "0A".repeat(32)),
            format!("mlt_{}", "0a".repeat(31)),
            format!("xyz_{}", "0a".repeat(32)),
            format!("mlt_{}g", "0".repeat(63)),
        ] {
            assert!(!is_well_formed_secret_token(&bad), "{bad}");
        }
    }
}
