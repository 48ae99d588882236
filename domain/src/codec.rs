//! The event codec: how a domain event becomes stored bytes and back.
//!
//! A stored event is a triple (type name, schema version, payload bytes). The payload is the
//! bincode 2 serde encoding, with [`CODEC_CONFIG`], of the variant's payload struct *alone* —
//! not of the enum — so that the type name, not a variant index, says what the bytes are, and
//! reordering an enum never changes stored data. [`event_enum!`](crate::event_enum) generates
//! an event enum and its [`EventCodec`] from a list of variants, each with its current schema
//! version and the upcasters that bring older stored versions up to it.
//!
//! Invariants: stored bytes are never rewritten — a schema change bumps the variant's version
//! and registers an upcaster from the old one; decoding consumes every byte or fails; nothing
//! here panics or allocates beyond [`PAYLOAD_BYTES_MAX`] on corrupt input.
//!
//! Payload structs must be plain: bincode's serde path rejects `#[serde(flatten)]`,
//! internally tagged and untagged enums, `skip_serializing_if` and `serde_json::Value`
//! (EVENTLOG.md). Use plain structs, `Option`, `Vec`, `BTreeMap` and externally tagged enums,
//! and pin each type with a golden-bytes test.

use std::borrow::Cow;

use bincode::config::{Configuration, Limit, LittleEndian, Varint};
use serde::de::DeserializeOwned;
use serde::Serialize;

pub use serde_json::Value as JsonValue;

/// Largest payload the codec writes or reads (EVENTLOG.md limits).
pub const PAYLOAD_BYTES_MAX: usize = 64 * 1024;

/// The bincode configuration of [`CODEC_CONFIG`].
pub type CodecConfig = Configuration<LittleEndian, Varint, Limit<PAYLOAD_BYTES_MAX>>;

/// The pinned payload encoding: bincode 2 `standard()` (little-endian, varint integers). The
/// limit changes no byte; it makes decoding refuse a corrupt length prefix instead of
/// allocating it.
pub const CODEC_CONFIG: CodecConfig = bincode::config::standard().with_limit::<PAYLOAD_BYTES_MAX>();

/// Turns a payload stored at schema version N into the payload of version N + 1.
pub type Upcaster = fn(&[u8]) -> Result<Vec<u8>, CodecError>;

/// Why an event could not be encoded or decoded. Names the event type and version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// No variant has this type name.
    #[error("unknown event type {type_name:?}")]
    UnknownType {
        /// The stored type name.
        type_name: String,
    },
    /// A stored version is older than the current one and no upcaster leaves it.
    #[error("event type {type_name} has no upcaster from schema version {version}")]
    MissingUpcaster {
        /// The event type.
        type_name: String,
        /// The version without an upcaster.
        version: u16,
    },
    /// The stored version is newer than this build knows (written by a newer release).
    #[error(
        "event type {type_name} schema version {version} is newer than this build's {current}"
    )]
    FutureVersion {
        /// The event type.
        type_name: String,
        /// The stored version.
        version: u16,
        /// The version this build writes.
        current: u16,
    },
    /// The bytes are not a valid payload of that type and version.
    #[error("event type {type_name} v{version}: cannot decode payload: {reason}")]
    Decode {
        /// The event type.
        type_name: String,
        /// The version being decoded.
        version: u16,
        /// What bincode reported.
        reason: String,
    },
    /// The payload decoded but bytes were left over: the bytes belong to another shape.
    #[error("event type {type_name} v{version}: {count} trailing bytes after the payload")]
    TrailingBytes {
        /// The event type.
        type_name: String,
        /// The version being decoded.
        version: u16,
        /// Bytes left over.
        count: usize,
    },
    /// The payload could not be serialized (a serde shape bincode does not support).
    #[error("event type {type_name}: cannot encode payload: {reason}")]
    Encode {
        /// The event type.
        type_name: String,
        /// What bincode reported.
        reason: String,
    },
    /// The payload exceeds [`PAYLOAD_BYTES_MAX`].
    #[error("event type {type_name}: payload of {bytes} bytes exceeds the limit of {max}")]
    PayloadTooLarge {
        /// The event type.
        type_name: String,
        /// The payload's size.
        bytes: usize,
        /// [`PAYLOAD_BYTES_MAX`].
        max: usize,
    },
}

/// An event ready for the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodedEvent {
    /// The variant's stable type name.
    pub type_name: &'static str,
    /// The schema version the payload is written in (always the current one).
    pub schema_version: u16,
    /// The payload bytes.
    pub payload: Vec<u8>,
}

/// An event type that can be stored: implemented by [`event_enum!`](crate::event_enum).
pub trait EventCodec: Sized {
    /// Every type name this enum decodes, in declaration order.
    const TYPE_NAMES: &'static [&'static str];

    /// This event's type name.
    fn type_name(&self) -> &'static str;

    /// The schema version this build writes for this event's type.
    fn schema_version(&self) -> u16;

    /// The current schema version of `type_name`, if this enum knows the type.
    fn current_schema_version(type_name: &str) -> Option<u16>;

    /// The payload bytes (the variant's payload struct alone).
    fn encode_payload(&self) -> Result<Vec<u8>, CodecError>;

    /// The event stored as `type_name` at `schema_version`, upcast to the current version.
    fn decode_payload(
        type_name: &str,
        schema_version: u16,
        bytes: &[u8],
    ) -> Result<Self, CodecError>;

    /// The payload as JSON, for history views and exports (timestamps as RFC 3339).
    fn payload_json(&self) -> JsonValue;

    /// Type name, current version and payload bytes together.
    fn encode(&self) -> Result<EncodedEvent, CodecError> {
        Ok(EncodedEvent {
            type_name: self.type_name(),
            schema_version: self.schema_version(),
            payload: self.encode_payload()?,
        })
    }
}

/// Encodes one payload struct with [`CODEC_CONFIG`]. Upcasters use it to write the next
/// version.
pub fn to_payload_bytes<T: Serialize>(type_name: &str, payload: &T) -> Result<Vec<u8>, CodecError> {
    let bytes = bincode::serde::encode_to_vec(payload, CODEC_CONFIG).map_err(|error| {
        CodecError::Encode {
            type_name: type_name.to_owned(),
            reason: error.to_string(),
        }
    })?;
    if bytes.len() > PAYLOAD_BYTES_MAX {
        return Err(CodecError::PayloadTooLarge {
            type_name: type_name.to_owned(),
            bytes: bytes.len(),
            max: PAYLOAD_BYTES_MAX,
        });
    }
    Ok(bytes)
}

/// Decodes one payload struct with [`CODEC_CONFIG`], requiring every byte to be used.
/// Upcasters use it to read the old version.
pub fn from_payload_bytes<T: DeserializeOwned>(
    type_name: &str,
    version: u16,
    bytes: &[u8],
) -> Result<T, CodecError> {
    if bytes.len() > PAYLOAD_BYTES_MAX {
        return Err(CodecError::PayloadTooLarge {
            type_name: type_name.to_owned(),
            bytes: bytes.len(),
            max: PAYLOAD_BYTES_MAX,
        });
    }
    let (payload, read) =
        bincode::serde::decode_from_slice::<T, _>(bytes, CODEC_CONFIG).map_err(|error| {
            CodecError::Decode {
                type_name: type_name.to_owned(),
                version,
                reason: error.to_string(),
            }
        })?;
    if read != bytes.len() {
        return Err(CodecError::TrailingBytes {
            type_name: type_name.to_owned(),
            version,
            count: bytes.len().saturating_sub(read),
        });
    }
    Ok(payload)
}

/// Brings `bytes` stored at version `stored` up to `current` by applying the upcaster
/// registered for each version in turn (`(from_version, upcaster)` pairs, each producing
/// `from_version + 1`). Current bytes are returned as they are.
pub fn upcast_to_current<'a>(
    type_name: &str,
    stored: u16,
    current: u16,
    upcasters: &[(u16, Upcaster)],
    bytes: &'a [u8],
) -> Result<Cow<'a, [u8]>, CodecError> {
    if stored > current {
        return Err(CodecError::FutureVersion {
            type_name: type_name.to_owned(),
            version: stored,
            current,
        });
    }
    let mut payload = Cow::Borrowed(bytes);
    // Each step raises the version by one, so the loop runs at most u16::MAX times.
    for version in stored..current {
        let Some((_, upcaster)) = upcasters.iter().find(|(from, _)| *from == version) else {
            return Err(CodecError::MissingUpcaster {
                type_name: type_name.to_owned(),
                version,
            });
        };
        payload = Cow::Owned(upcaster(&payload)?);
    }
    Ok(payload)
}

/// A payload as JSON. Plain payload structs always convert; should one not (a map with
/// non-string keys), the result says so instead of failing a history view.
pub fn payload_to_json<T: Serialize>(payload: &T) -> JsonValue {
    serde_json::to_value(payload).unwrap_or_else(|error| {
        let mut object = serde_json::Map::new();
        object.insert(
            "payload_json_error".to_owned(),
            JsonValue::String(error.to_string()),
        );
        JsonValue::Object(object)
    })
}

/// Declares an event enum whose variants each wrap one payload struct, with `From<Payload>`
/// impls and an [`EventCodec`](crate::codec::EventCodec) impl. A variant's name is its stored
/// type name (so never rename one); `version N` is the schema version written today; the
/// optional `upcasters { M => f, … }` register one upcaster per older version M (to M + 1).
///
/// ```
/// use domain::codec::{from_payload_bytes, to_payload_bytes, CodecError, EventCodec};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
/// pub struct LampLit { pub lamp_id: String, pub lumens: u32 }
///
/// #[derive(Serialize, Deserialize)]
/// struct LampLitV1 { lamp_id: String }
///
/// fn lamp_lit_v1_to_v2(bytes: &[u8]) -> Result<Vec<u8>, CodecError> {
///     let old: LampLitV1 = from_payload_bytes("LampLit", 1, bytes)?;
///     to_payload_bytes("LampLit", &LampLit { lamp_id: old.lamp_id, lumens: 800 })
/// }
///
/// domain::event_enum! {
///     /// Events of a lamp.
///     #[derive(Clone, Debug, PartialEq)]
///     pub enum LampEvent {
///         /// The lamp was switched on.
///         LampLit(LampLit) version 2 upcasters { 1 => lamp_lit_v1_to_v2 },
///     }
/// }
///
/// let v1 = to_payload_bytes("LampLit", &LampLitV1 { lamp_id: "l1".into() }).unwrap();
/// let event = LampEvent::decode_payload("LampLit", 1, &v1).unwrap();
/// assert_eq!(event, LampEvent::LampLit(LampLit { lamp_id: "l1".into(), lumens: 800 }));
/// ```
#[macro_export]
macro_rules! event_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $(
                $(#[$variant_meta:meta])*
                $variant:ident($payload:ty) version $version:literal
                    $(upcasters { $($from:literal => $upcaster:path),+ $(,)? })?
            ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        // Variant names are stored type names, unique across the whole log, so they carry
        // their aggregate's name (`OrderPlaced`, `OrderPaid`) on purpose.
        // Event enums are short-lived values decoded one at a time; boxing big payloads would
        // only add allocations.
        #[allow(clippy::enum_variant_names, clippy::large_enum_variant)]
        $vis enum $name {
            $(
                $(#[$variant_meta])*
                $variant($payload),
            )+
        }

        $(
            impl ::std::convert::From<$payload> for $name {
                fn from(payload: $payload) -> Self {
                    $name::$variant(payload)
                }
            }

            const _: () = ::std::assert!(
                $version >= 1,
                ::std::concat!("schema versions start at 1: ", ::std::stringify!($variant))
            );
            $($(
                const _: () = ::std::assert!(
                    $from >= 1 && $from < $version,
                    ::std::concat!(
                        "upcasters must start from an older version: ",
                        ::std::stringify!($variant)
                    )
                );
            )+)?
        )+

        impl $crate::codec::EventCodec for $name {
            const TYPE_NAMES: &'static [&'static str] = &[$(::std::stringify!($variant)),+];

            fn type_name(&self) -> &'static str {
                match self {
                    $($name::$variant(_) => ::std::stringify!($variant),)+
                }
            }

            fn schema_version(&self) -> u16 {
                match self {
                    $($name::$variant(_) => $version,)+
                }
            }

            fn current_schema_version(type_name: &str) -> ::std::option::Option<u16> {
                match type_name {
                    $(::std::stringify!($variant) => ::std::option::Option::Some($version),)+
                    _ => ::std::option::Option::None,
                }
            }

            fn encode_payload(
                &self,
            ) -> ::std::result::Result<::std::vec::Vec<u8>, $crate::codec::CodecError> {
                match self {
                    $($name::$variant(payload) => $crate::codec::to_payload_bytes(
                        ::std::stringify!($variant),
                        payload,
                    ),)+
                }
            }

            fn decode_payload(
                type_name: &str,
                schema_version: u16,
                bytes: &[u8],
            ) -> ::std::result::Result<Self, $crate::codec::CodecError> {
                match type_name {
                    $(::std::stringify!($variant) => {
                        let upcasters: &[(u16, $crate::codec::Upcaster)] = &[
                            $($(($from, $upcaster as $crate::codec::Upcaster)),+)?
                        ];
                        let current = $crate::codec::upcast_to_current(
                            ::std::stringify!($variant),
                            schema_version,
                            $version,
                            upcasters,
                            bytes,
                        )?;
                        $crate::codec::from_payload_bytes::<$payload>(
                            ::std::stringify!($variant),
                            $version,
                            &current,
                        )
                        .map($name::$variant)
                    })+
                    _ => ::std::result::Result::Err($crate::codec::CodecError::UnknownType {
                        type_name: ::std::borrow::ToOwned::to_owned(type_name),
                    }),
                }
            }

            fn payload_json(&self) -> $crate::codec::JsonValue {
                match self {
                    $($name::$variant(payload) => $crate::codec::payload_to_json(payload),)+
                }
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Cents;
    use crate::time::Timestamp;
    use serde::Deserialize;

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum WidgetSize {
        Small,
        Custom { millimetres: u32 },
    }

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    pub struct WidgetCreated {
        pub widget_id: String,
        pub price: Cents,
        pub at: Timestamp,
        pub tags: Vec<String>,
        pub size: WidgetSize,
        pub note: Option<String>,
    }

    /// Version 2 added `reason`; version-1 events read as an empty reason.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    pub struct WidgetRenamed {
        pub widget_id: String,
        pub name: String,
        pub reason: String,
    }

    #[derive(Serialize, Deserialize)]
    struct WidgetRenamedV1 {
        widget_id: String,
        name: String,
    }

    fn widget_renamed_v1_to_v2(bytes: &[u8]) -> Result<Vec<u8>, CodecError> {
        let old: WidgetRenamedV1 = from_payload_bytes("WidgetRenamed", 1, bytes)?;
        to_payload_bytes(
            "WidgetRenamed",
            &WidgetRenamed {
                widget_id: old.widget_id,
                name: old.name,
                reason: String::new(),
            },
        )
    }

    /// Version 2 added `by`, version 3 added `at`: a chain of two upcasters.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    pub struct WidgetDeleted {
        pub widget_id: String,
        pub by: String,
        pub at: Timestamp,
    }

    #[derive(Serialize, Deserialize)]
    struct WidgetDeletedV1 {
        widget_id: String,
    }

    #[derive(Serialize, Deserialize)]
    struct WidgetDeletedV2 {
        widget_id: String,
        by: String,
    }

    fn widget_deleted_v1_to_v2(bytes: &[u8]) -> Result<Vec<u8>, CodecError> {
        let old: WidgetDeletedV1 = from_payload_bytes("WidgetDeleted", 1, bytes)?;
        to_payload_bytes(
            "WidgetDeleted",
            &WidgetDeletedV2 {
                widget_id: old.widget_id,
                by: "system".to_owned(),
            },
        )
    }

    fn widget_deleted_v2_to_v3(bytes: &[u8]) -> Result<Vec<u8>, CodecError> {
        let old: WidgetDeletedV2 = from_payload_bytes("WidgetDeleted", 2, bytes)?;
        to_payload_bytes(
            "WidgetDeleted",
            &WidgetDeleted {
                widget_id: old.widget_id,
                by: old.by,
                at: Timestamp::UNIX_EPOCH,
            },
        )
    }

    /// At version 2 with no upcaster: version-1 data cannot be read.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    pub struct WidgetArchived {
        pub widget_id: String,
    }

    crate::event_enum! {
        /// Events of the test widget stream.
        #[derive(Clone, Debug, PartialEq)]
        pub enum WidgetEvent {
            /// A widget was created.
            WidgetCreated(WidgetCreated) version 1,
            WidgetRenamed(WidgetRenamed) version 2 upcasters { 1 => widget_renamed_v1_to_v2 },
            WidgetDeleted(WidgetDeleted) version 3 upcasters {
                1 => widget_deleted_v1_to_v2,
                2 => widget_deleted_v2_to_v3,
            },
            WidgetArchived(WidgetArchived) version 2,
        }
    }

    fn created() -> WidgetCreated {
        WidgetCreated {
            widget_id: "wdg_1".to_owned(),
            price: Cents(1234),
            at: Timestamp::parse_rfc3339("2026-11-22T08:00:00+08:00").unwrap(),
            tags: vec!["a".to_owned(), "bc".to_owned()],
            size: WidgetSize::Custom { millimetres: 300 },
            note: None,
        }
    }

    fn renamed() -> WidgetRenamed {
        WidgetRenamed {
            widget_id: "wdg_1".to_owned(),
            name: "Gear".to_owned(),
            reason: "typo".to_owned(),
        }
    }

    /// `WidgetCreated` v1 as stored. Field by field: widget_id (len 05, "wdg_1"), price
    /// (zigzag 2468: fb a4 09), at (zigzag 2·1795305600000000: fd + u64 le), tags (02, 01 "a",
    /// 02 "bc"), size (variant 01, millimetres fb 2c 01), note (00 = None).
    const WIDGET_CREATED_V1_HEX: &str =
        "057764675f31fba409fd00401a51a4c10c0002016102626301fb2c0100";

    /// `WidgetRenamed` v2 as stored: widget_id, name "Gear", reason "typo".
    const WIDGET_RENAMED_V2_HEX: &str = "057764675f310447656172047479706f";

    /// `WidgetRenamed` v1 as stored before `reason` existed: widget_id, name "Gear".
    const WIDGET_RENAMED_V1_HEX: &str = "057764675f310447656172";

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|byte| format!("{byte:02x}")).collect()
    }

    fn unhex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|index| u8::from_str_radix(&text[index..index + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn widget_created_encoding_is_pinned_by_golden_bytes() {
        let event = WidgetEvent::from(created());
        assert_eq!(hex(&event.encode_payload().unwrap()), WIDGET_CREATED_V1_HEX);
    }

    #[test]
    fn widget_renamed_encoding_is_pinned_by_golden_bytes() {
        let event = WidgetEvent::from(renamed());
        assert_eq!(hex(&event.encode_payload().unwrap()), WIDGET_RENAMED_V2_HEX);
    }

    #[test]
    fn golden_bytes_decode_to_the_event() {
        let decoded =
            WidgetEvent::decode_payload("WidgetCreated", 1, &unhex(WIDGET_CREATED_V1_HEX)).unwrap();
        assert_eq!(decoded, WidgetEvent::WidgetCreated(created()));
    }

    #[test]
    fn payload_is_the_struct_alone_not_the_enum() {
        let event = WidgetEvent::from(renamed());
        let alone = bincode::serde::encode_to_vec(renamed(), bincode::config::standard()).unwrap();
        assert_eq!(event.encode_payload().unwrap(), alone);
    }

    #[test]
    fn codec_config_writes_the_same_bytes_as_bincode_standard() {
        let standard = bincode::serde::encode_to_vec(created(), bincode::config::standard());
        assert_eq!(
            to_payload_bytes("WidgetCreated", &created()).unwrap(),
            standard.unwrap()
        );
    }

    #[test]
    fn every_variant_round_trips_at_its_current_version() {
        let events = [
            WidgetEvent::from(created()),
            WidgetEvent::from(WidgetCreated {
                size: WidgetSize::Small,
                note: Some("第一批".to_owned()),
                tags: vec![],
                ..created()
            }),
            WidgetEvent::from(renamed()),
            WidgetEvent::from(WidgetDeleted {
                widget_id: "wdg_2".to_owned(),
                by: "prn_1:platform".to_owned(),
                at: Timestamp::from_micros(-1),
            }),
            WidgetEvent::from(WidgetArchived {
                widget_id: "wdg_3".to_owned(),
            }),
        ];
        for event in events {
            let encoded = event.encode().unwrap();
            assert_eq!(encoded.type_name, event.type_name());
            assert_eq!(
                Some(encoded.schema_version),
                WidgetEvent::current_schema_version(encoded.type_name)
            );
            let decoded = WidgetEvent::decode_payload(
                encoded.type_name,
                encoded.schema_version,
                &encoded.payload,
            )
            .unwrap();
            assert_eq!(decoded, event);
        }
    }

    #[test]
    fn type_names_and_versions_come_from_the_declaration() {
        assert_eq!(
            WidgetEvent::TYPE_NAMES,
            &[
                "WidgetCreated",
                "WidgetRenamed",
                "WidgetDeleted",
                "WidgetArchived"
            ]
        );
        assert_eq!(WidgetEvent::from(created()).schema_version(), 1);
        assert_eq!(WidgetEvent::from(renamed()).schema_version(), 2);
        assert_eq!(
            WidgetEvent::current_schema_version("WidgetDeleted"),
            Some(3)
        );
        assert_eq!(WidgetEvent::current_schema_version("widget_deleted"), None);
    }

    #[test]
    fn version_1_widget_renamed_is_upcast_with_an_empty_reason() {
        let stored = unhex(WIDGET_RENAMED_V1_HEX);
        // The pinned v1 bytes really are the v1 shape.
        let v1 = WidgetRenamedV1 {
            widget_id: "wdg_1".to_owned(),
            name: "Gear".to_owned(),
        };
        assert_eq!(to_payload_bytes("WidgetRenamed", &v1).unwrap(), stored);
        let decoded = WidgetEvent::decode_payload("WidgetRenamed", 1, &stored).unwrap();
        assert_eq!(
            decoded,
            WidgetEvent::WidgetRenamed(WidgetRenamed {
                reason: String::new(),
                ..renamed()
            })
        );
        // Read as the current version, v1 bytes are too short.
        assert!(WidgetEvent::decode_payload("WidgetRenamed", 2, &stored).is_err());
    }

    #[test]
    fn upcasters_chain_from_any_older_version_to_the_current_one() {
        let v1 = to_payload_bytes(
            "WidgetDeleted",
            &WidgetDeletedV1 {
                widget_id: "wdg_9".to_owned(),
            },
        )
        .unwrap();
        let v2 = to_payload_bytes(
            "WidgetDeleted",
            &WidgetDeletedV2 {
                widget_id: "wdg_9".to_owned(),
                by: "prn_1:platform".to_owned(),
            },
        )
        .unwrap();
        assert_eq!(
            WidgetEvent::decode_payload("WidgetDeleted", 1, &v1).unwrap(),
            WidgetEvent::WidgetDeleted(WidgetDeleted {
                widget_id: "wdg_9".to_owned(),
                by: "system".to_owned(),
                at: Timestamp::UNIX_EPOCH,
            })
        );
        assert_eq!(
            WidgetEvent::decode_payload("WidgetDeleted", 2, &v2).unwrap(),
            WidgetEvent::WidgetDeleted(WidgetDeleted {
                widget_id: "wdg_9".to_owned(),
                by: "prn_1:platform".to_owned(),
                at: Timestamp::UNIX_EPOCH,
            })
        );
    }

    #[test]
    fn an_old_version_without_an_upcaster_is_refused_by_name_and_version() {
        let bytes = to_payload_bytes(
            "WidgetArchived",
            &WidgetArchived {
                widget_id: "wdg_3".to_owned(),
            },
        )
        .unwrap();
        let error = WidgetEvent::decode_payload("WidgetArchived", 1, &bytes).unwrap_err();
        assert_eq!(
            error,
            CodecError::MissingUpcaster {
                type_name: "WidgetArchived".to_owned(),
                version: 1
            }
        );
        assert_eq!(
            error.to_string(),
            "event type WidgetArchived has no upcaster from schema version 1"
        );
        // Version 0 never existed.
        assert!(matches!(
            WidgetEvent::decode_payload("WidgetRenamed", 0, &bytes),
            Err(CodecError::MissingUpcaster { version: 0, .. })
        ));
    }

    #[test]
    fn a_version_newer_than_this_build_is_refused() {
        let bytes = unhex(WIDGET_CREATED_V1_HEX);
        assert_eq!(
            WidgetEvent::decode_payload("WidgetCreated", 2, &bytes),
            Err(CodecError::FutureVersion {
                type_name: "WidgetCreated".to_owned(),
                version: 2,
                current: 1
            })
        );
    }

    #[test]
    fn an_unknown_type_is_refused() {
        let bytes = unhex(WIDGET_CREATED_V1_HEX);
        assert_eq!(
            WidgetEvent::decode_payload("GadgetCreated", 1, &bytes),
            Err(CodecError::UnknownType {
                type_name: "GadgetCreated".to_owned()
            })
        );
    }

    #[test]
    fn truncated_bytes_are_refused() {
        let bytes = unhex(WIDGET_CREATED_V1_HEX);
        for cut in 0..bytes.len() {
            let result = WidgetEvent::decode_payload("WidgetCreated", 1, &bytes[..cut]);
            assert!(
                matches!(result, Err(CodecError::Decode { version: 1, .. })),
                "cut at {cut}: {result:?}"
            );
        }
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let mut bytes = unhex(WIDGET_CREATED_V1_HEX);
        bytes.push(0);
        assert_eq!(
            WidgetEvent::decode_payload("WidgetCreated", 1, &bytes),
            Err(CodecError::TrailingBytes {
                type_name: "WidgetCreated".to_owned(),
                version: 1,
                count: 1
            })
        );
    }

    #[test]
    fn a_corrupt_length_prefix_is_refused_without_allocating_it() {
        // widget_id claims 2^62 bytes: fd + u64 little-endian.
        let mut bytes = vec![0xfd];
        bytes.extend_from_slice(&(1u64 << 62).to_le_bytes());
        bytes.extend_from_slice(b"wdg_1");
        let result = WidgetEvent::decode_payload("WidgetCreated", 1, &bytes);
        assert!(
            matches!(result, Err(CodecError::Decode { .. })),
            "{result:?}"
        );
    }

    #[test]
    fn payloads_over_the_limit_are_refused_both_ways() {
        let huge = WidgetArchived {
            widget_id: "w".repeat(PAYLOAD_BYTES_MAX),
        };
        assert!(matches!(
            WidgetEvent::from(huge).encode_payload(),
            Err(CodecError::PayloadTooLarge {
                max: PAYLOAD_BYTES_MAX,
                ..
            })
        ));
        let too_long = vec![0u8; PAYLOAD_BYTES_MAX + 1];
        assert!(matches!(
            WidgetEvent::decode_payload("WidgetArchived", 2, &too_long),
            Err(CodecError::PayloadTooLarge { .. })
        ));
    }

    #[test]
    fn payload_json_is_human_readable() {
        let json = WidgetEvent::from(created()).payload_json();
        assert_eq!(
            json,
            serde_json::json!({
                "widget_id": "wdg_1",
                "price": 1234,
                "at": "2026-11-22T00:00:00Z",
                "tags": ["a", "bc"],
                "size": {"custom": {"millimetres": 300}},
                "note": null,
            })
        );
    }

    #[test]
    fn payload_json_reports_unrepresentable_payloads_instead_of_failing() {
        let mut map = std::collections::BTreeMap::new();
        map.insert((1u8, 2u8), "tuple keys are not json object keys");
        let json = payload_to_json(&map);
        assert!(json.get("payload_json_error").is_some(), "{json}");
    }

    #[test]
    fn unsupported_serde_shapes_fail_to_encode_with_the_type_name() {
        // bincode's serde path cannot serialize a sequence of unknown length, which is what
        // serde_json::Value-like shapes and flattened structs need; `collect_seq` on an
        // iterator without an exact size hint is the smallest such shape.
        struct UnsizedSeq;
        impl Serialize for UnsizedSeq {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_seq((0..3u8).filter(|n| *n > 0))
            }
        }
        let result = to_payload_bytes("Unsized", &UnsizedSeq);
        assert!(
            matches!(&result, Err(CodecError::Encode { type_name, .. }) if type_name == "Unsized"),
            "{result:?}"
        );
    }
}
