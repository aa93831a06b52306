//! Self-contained session ids: everything a replica needs to continue a
//! session, sealed with XChaCha20-Poly1305 under the fleet's session key,
//! so any replica holding the key can pick a session up without a shared
//! store.
//!
//! An id is base64url (no padding) of
//!
//! ```text
//! format (1) | nonce (24, random) | sealed claims | tag (16)
//! ```
//!
//! with the format byte authenticated as associated data. The claims are
//!
//! ```text
//! upstream kind (1) | client protocol (3) | upstream protocol (3)
//! | created, Unix seconds (8) | random (8)
//! | server (1 + n) | grant (1 + n) | upstream session id (1 [+ 1 + n])
//! ```
//!
//! Protocol revisions are stored as their date (years since 2000, month,
//! day), not as an index, so replicas of different builds agree on them.
//! A tampered id, one sealed under another key, or garbage does not open:
//! the caller answers it like an unknown session.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use toolgate_mcp::ProtocolVersion;

/// The format this code writes and reads.
const FORMAT: u8 = 1;
const NONCE: usize = 24;
const TAG: usize = 16;
/// Longest id handed out: it travels in a header on every request.
pub(crate) const MAX_ID_LEN: usize = 199;
/// Longest id accepted (a bound on the work garbage can cause).
const MAX_ACCEPTED_LEN: usize = 512;

/// What the session's upstream is, which decides where it can continue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Upstream {
    /// A Streamable HTTP upstream session of its own (its id, if the server
    /// gave one): any replica re-attaches to it.
    Http(Option<String>),
    /// A Streamable HTTP session whose upstream id is too long to carry:
    /// it stays with this replica.
    HttpUncarried,
    /// A child process of this replica.
    Stdio,
    /// A legacy HTTP+SSE stream this replica holds open.
    LegacySse,
    /// The server's shared connection (`instances: shared`): the upstream
    /// session, its subscriptions and its answers are this replica's.
    Shared,
    /// A stateless upstream bridged by this replica (the log level and
    /// subscriptions the session set live here).
    Stateless,
}

impl Upstream {
    fn tag(&self) -> u8 {
        match self {
            Upstream::Http(_) => 1,
            Upstream::HttpUncarried => 2,
            Upstream::Stdio => 3,
            Upstream::LegacySse => 4,
            Upstream::Shared => 5,
            Upstream::Stateless => 6,
        }
    }

    /// True when another replica may continue the session.
    pub(crate) fn portable(&self) -> bool {
        matches!(self, Upstream::Http(_))
    }
}

/// What a session id says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Claims {
    /// The upstream and how to reach it again.
    pub(crate) upstream: Upstream,
    /// The revision negotiated with the client.
    pub(crate) client_protocol: ProtocolVersion,
    /// The revision the upstream connection speaks (sent as
    /// `MCP-Protocol-Version`).
    pub(crate) upstream_protocol: ProtocolVersion,
    /// When the session started (Unix seconds).
    pub(crate) created: u64,
    /// Random: no two sessions share an id, whatever else they share.
    pub(crate) random: [u8; 8],
    /// The server (the URL path segment).
    pub(crate) server: String,
    /// The grant that started the session.
    pub(crate) grant: String,
}

impl Claims {
    /// Unix seconds of `at` (0 before the epoch).
    pub(crate) fn unix_seconds(at: SystemTime) -> u64 {
        at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
    }
}

/// Seals and opens session ids under one key.
pub(crate) struct SessionIds {
    cipher: XChaCha20Poly1305,
    shared: bool,
}

impl SessionIds {
    /// Ids under `key`; `None` makes a random key for this process (its
    /// sessions then stay with it).
    pub(crate) fn new(key: Option<[u8; 32]>) -> SessionIds {
        let shared = key.is_some();
        let key = key.unwrap_or_else(rand::random);
        SessionIds {
            cipher: XChaCha20Poly1305::new(&Key::from(key)),
            shared,
        }
    }

    /// True when the key was configured, so other replicas can open ids.
    pub(crate) fn shared(&self) -> bool {
        self.shared
    }

    /// A fresh id for `claims`. A Streamable HTTP upstream id too long to
    /// fit [`MAX_ID_LEN`] is left out and the session stays here.
    pub(crate) fn seal(&self, claims: &Claims) -> (String, Upstream) {
        if let Some(id) = self.try_seal(claims).filter(|id| id.len() <= MAX_ID_LEN) {
            return (id, claims.upstream.clone());
        }
        let pinned = Claims {
            upstream: match claims.upstream {
                Upstream::Http(_) => Upstream::HttpUncarried,
                ref other => other.clone(),
            },
            ..claims.clone()
        };
        if pinned.upstream != claims.upstream {
            tracing::warn!(server = %claims.server, grant = %claims.grant,
                "the upstream session id is too long to carry in a session id; this session stays on this replica");
        }
        // Names are bounded by the config; an id that is still long works,
        // it is only longer.
        let id = self.try_seal(&pinned).unwrap_or_else(|| random_id(&pinned));
        (id, pinned.upstream)
    }

    fn try_seal(&self, claims: &Claims) -> Option<String> {
        let plain = encode(claims)?;
        let nonce: [u8; NONCE] = rand::random();
        let nonce = XNonce::from(nonce);
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: &plain,
                    aad: &[FORMAT],
                },
            )
            .ok()?;
        let mut raw = Vec::with_capacity(1 + NONCE + sealed.len());
        raw.push(FORMAT);
        raw.extend_from_slice(&nonce);
        raw.extend_from_slice(&sealed);
        Some(URL_SAFE_NO_PAD.encode(raw))
    }

    /// The claims of `id`, or `None` when it was not sealed under this key
    /// (tampered, another key, another format, garbage).
    pub(crate) fn open(&self, id: &str) -> Option<Claims> {
        if id.len() > MAX_ACCEPTED_LEN {
            return None;
        }
        let raw = URL_SAFE_NO_PAD.decode(id).ok()?;
        let (&format, rest) = raw.split_first()?;
        if format != FORMAT || rest.len() < NONCE + TAG {
            return None;
        }
        let (nonce, sealed) = rest.split_at(NONCE);
        let nonce = XNonce::try_from(nonce).ok()?;
        let plain = self
            .cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: sealed,
                    aad: &[FORMAT],
                },
            )
            .ok()?;
        decode(&plain)
    }
}

/// The fallback when even a pinned id cannot be sealed (it cannot fail
/// with this cipher; the branch keeps the code free of panics): random
/// bytes that open nowhere, so the session is this replica's alone.
fn random_id(claims: &Claims) -> String {
    tracing::warn!(server = %claims.server, "could not seal a session id; using a random one");
    let bytes: [u8; 24] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

fn encode(c: &Claims) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(64);
    out.push(c.upstream.tag());
    out.extend_from_slice(&encode_protocol(c.client_protocol));
    out.extend_from_slice(&encode_protocol(c.upstream_protocol));
    out.extend_from_slice(&c.created.to_be_bytes());
    out.extend_from_slice(&c.random);
    push_short(&mut out, c.server.as_bytes())?;
    push_short(&mut out, c.grant.as_bytes())?;
    match &c.upstream {
        Upstream::Http(Some(sid)) => encode_upstream_id(&mut out, sid)?,
        _ => out.push(SID_NONE),
    }
    Some(out)
}

fn decode(mut b: &[u8]) -> Option<Claims> {
    let tag = take(&mut b, 1)?[0];
    let client_protocol = decode_protocol(take(&mut b, 3)?)?;
    let upstream_protocol = decode_protocol(take(&mut b, 3)?)?;
    let created = u64::from_be_bytes(take(&mut b, 8)?.try_into().ok()?);
    let random: [u8; 8] = take(&mut b, 8)?.try_into().ok()?;
    let server = take_string(&mut b)?;
    let grant = take_string(&mut b)?;
    let sid = decode_upstream_id(&mut b)?;
    if !b.is_empty() {
        return None;
    }
    let upstream = match (tag, sid) {
        (1, sid) => Upstream::Http(sid),
        (2, None) => Upstream::HttpUncarried,
        (3, None) => Upstream::Stdio,
        (4, None) => Upstream::LegacySse,
        (5, None) => Upstream::Shared,
        (6, None) => Upstream::Stateless,
        _ => return None,
    };
    Some(Claims {
        upstream,
        client_protocol,
        upstream_protocol,
        created,
        random,
        server,
        grant,
    })
}

fn encode_protocol(v: ProtocolVersion) -> [u8; 3] {
    // "YYYY-MM-DD"; every revision is a date of this century.
    let s = v.as_str();
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|t| t.parse::<u16>().ok());
    let year = num(0..4).unwrap_or(2000).saturating_sub(2000);
    let month = num(5..7).unwrap_or(0);
    let day = num(8..10).unwrap_or(0);
    [year as u8, month as u8, day as u8]
}

fn decode_protocol(b: &[u8]) -> Option<ProtocolVersion> {
    let [y, m, d] = *b else { return None };
    ProtocolVersion::parse(&format!("{:04}-{m:02}-{d:02}", 2000 + u16::from(y)))
}

/// No upstream session id.
const SID_NONE: u8 = 0;
/// The id as it is (visible ASCII).
const SID_TEXT: u8 = 1;
/// Lowercase hex of even length, stored as its bytes.
const SID_HEX: u8 = 2;
/// A lowercase hyphenated UUID, stored as its 16 bytes.
const SID_UUID: u8 = 3;

/// Upstream ids are often hex or UUIDs: storing their bytes keeps the
/// downstream id short.
fn encode_upstream_id(out: &mut Vec<u8>, sid: &str) -> Option<()> {
    let is_lower_hex = |s: &str| s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let uuid_groups: Vec<&str> = sid.split('-').collect();
    let is_uuid = sid.len() == 36
        && uuid_groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && uuid_groups.iter().all(|g| is_lower_hex(g));
    if is_uuid {
        out.push(SID_UUID);
        out.extend(hex::decode(uuid_groups.concat()).ok()?);
    } else if !sid.is_empty() && sid.len().is_multiple_of(2) && is_lower_hex(sid) {
        out.push(SID_HEX);
        push_short(out, &hex::decode(sid).ok()?)?;
    } else {
        out.push(SID_TEXT);
        push_short(out, sid.as_bytes())?;
    }
    Some(())
}

fn decode_upstream_id(b: &mut &[u8]) -> Option<Option<String>> {
    let sid = match take(b, 1)?[0] {
        SID_NONE => return Some(None),
        SID_TEXT => take_string(b)?,
        SID_HEX => {
            let len = usize::from(take(b, 1)?[0]);
            hex::encode(take(b, len)?)
        }
        SID_UUID => {
            let h = hex::encode(take(b, 16)?);
            format!(
                "{}-{}-{}-{}-{}",
                &h[..8],
                &h[8..12],
                &h[12..16],
                &h[16..20],
                &h[20..]
            )
        }
        _ => return None,
    };
    // It goes back upstream in a header.
    let visible = !sid.is_empty() && sid.bytes().all(|c| (0x21..=0x7e).contains(&c));
    visible.then_some(Some(sid))
}

fn push_short(out: &mut Vec<u8>, bytes: &[u8]) -> Option<()> {
    out.push(u8::try_from(bytes.len()).ok()?);
    out.extend_from_slice(bytes);
    Some(())
}

fn take<'a>(b: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if b.len() < n {
        return None;
    }
    let (head, rest) = b.split_at(n);
    *b = rest;
    Some(head)
}

fn take_string(b: &mut &[u8]) -> Option<String> {
    let len = usize::from(take(b, 1)?[0]);
    String::from_utf8(take(b, len)?.to_vec()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(upstream: Upstream) -> Claims {
        Claims {
            upstream,
            client_protocol: ProtocolVersion::V2025_06_18,
            upstream_protocol: ProtocolVersion::V2025_11_25,
            created: 1_780_000_000,
            random: [7; 8],
            server: "crm".into(),
            grant: "alice-laptop".into(),
        }
    }

    #[test]
    fn ids_round_trip_for_every_kind_of_upstream() {
        let ids = SessionIds::new(Some([1; 32]));
        let uuid = "0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9";
        let cases = [
            Upstream::Http(None),
            Upstream::Http(Some(uuid.into())),
            Upstream::Http(Some("0123456789abcdef0123456789abcdef".into())),
            Upstream::Http(Some("Opaque_Session.ID~42".into())),
            Upstream::Http(Some("ABCDEF".into())),
            Upstream::HttpUncarried,
            Upstream::Stdio,
            Upstream::LegacySse,
            Upstream::Shared,
            Upstream::Stateless,
        ];
        for upstream in cases {
            let c = claims(upstream);
            let (id, kept) = ids.seal(&c);
            assert_eq!(kept, c.upstream);
            assert!(id.len() <= MAX_ID_LEN, "{} chars: {id}", id.len());
            assert!(
                id.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                "{id}"
            );
            assert_eq!(ids.open(&id), Some(c));
        }
    }

    #[test]
    fn a_uuid_upstream_id_makes_a_short_downstream_id() {
        let ids = SessionIds::new(None);
        let c = claims(Upstream::Http(Some(
            "0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9".into(),
        )));
        let (id, _) = ids.seal(&c);
        // 1 + 24 + 16 bytes of frame, 23 fixed, 4 + 13 for the names and
        // 17 for the UUID (36 as text): 98 bytes, 131 characters.
        assert_eq!(id.len(), 131, "{id}");
        let (again, _) = ids.seal(&c);
        assert_ne!(id, again, "a fresh nonce every time");
    }

    #[test]
    fn tampered_foreign_and_garbage_ids_do_not_open() {
        let ids = SessionIds::new(Some([1; 32]));
        let (id, _) = ids.seal(&claims(Upstream::Http(Some("abc".into()))));
        let mut raw = URL_SAFE_NO_PAD.decode(&id).unwrap();
        for i in [0, 1, 30, raw.len() - 1] {
            raw[i] ^= 1;
            assert_eq!(ids.open(&URL_SAFE_NO_PAD.encode(&raw)), None, "byte {i}");
            raw[i] ^= 1;
        }
        assert!(ids.open(&URL_SAFE_NO_PAD.encode(&raw)).is_some());
        let other = SessionIds::new(Some([2; 32]));
        assert_eq!(other.open(&id), None);
        let truncated = &id[..id.len() - 4];
        for garbage in ["", "0", &"0".repeat(32), truncated, "!!!", &"A".repeat(600)] {
            assert_eq!(ids.open(garbage), None, "{garbage}");
        }
    }

    #[test]
    fn an_upstream_id_too_long_to_carry_pins_the_session_here() {
        let ids = SessionIds::new(Some([1; 32]));
        let c = claims(Upstream::Http(Some("x".repeat(120))));
        let (id, kept) = ids.seal(&c);
        assert_eq!(kept, Upstream::HttpUncarried);
        assert!(id.len() <= MAX_ID_LEN);
        assert_eq!(
            ids.open(&id).map(|c| c.upstream),
            Some(Upstream::HttpUncarried)
        );
        assert!(!kept.portable());
    }

    #[test]
    fn protocol_revisions_are_stored_as_dates() {
        for v in ProtocolVersion::ALL {
            assert_eq!(decode_protocol(&encode_protocol(v)), Some(v), "{v}");
        }
        assert_eq!(decode_protocol(&[24, 1, 1]), None, "an unknown revision");
    }
}
