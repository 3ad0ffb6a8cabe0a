//! HTTP Basic authentication, as bitcoind checks it: `Authorization: Basic
//! base64(user:password)` compared without an early exit against each accepted pair and
//! each salted `[rpc] auth` entry.

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;

use std::sync::{Arc, RwLock};

use crate::rpcauth::RpcAuth;

/// The credentials the server accepts: the cookie's, the profile's user and password,
/// and the salted entries of `[rpc] auth`.
#[derive(Clone, Default)]
pub struct Auth {
    /// Accepted `user:password` strings, with their user.
    accepted: Vec<(String, Vec<u8>)>,
    /// Accepted users whose password is known by its salted hash only.
    salted: Vec<RpcAuth>,
    /// Header values known to be accepted, with their user: each pair's own
    /// `Basic base64(user:password)`, and the last few that passed a salted entry. A
    /// client sends the same header with every call; found here, it is accepted without
    /// decoding it or hashing its password (an HMAC per call for a salted entry).
    known: Arc<RwLock<KnownHeaders>>,
}

/// Accepted `Authorization` values, each with its user.
type KnownHeaders = Vec<(Vec<u8>, String)>;

/// Salted-entry headers remembered as accepted; past it the oldest goes.
const KNOWN_SALTED: usize = 16;

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a secret into a log.
        write!(
            f,
            "Auth({} credentials)",
            self.accepted.len() + self.salted.len()
        )
    }
}

impl Auth {
    /// Accepts nothing until [`Auth::allow`] adds a pair.
    pub fn new() -> Self {
        Auth::default()
    }

    /// Also accepts `user` with `password`.
    pub fn allow(mut self, user: &str, password: &str) -> Self {
        self.accepted
            .push((user.to_string(), format!("{user}:{password}").into_bytes()));
        let header = basic_authorization(user, password).into_bytes();
        // A list of this value's own: clones made before do not accept the new pair.
        let mut known = self.known_mut().clone();
        known.insert(0, (header, user.to_string()));
        self.known = Arc::new(RwLock::new(known));
        self
    }

    fn known_mut(&self) -> std::sync::RwLockWriteGuard<'_, KnownHeaders> {
        self.known.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Also accepts the user of a salted entry with the password it was made from.
    pub fn allow_salted(mut self, entry: RpcAuth) -> Self {
        self.salted.push(entry);
        self
    }

    /// The user an `Authorization` header value logs in as, when it carries accepted
    /// credentials. Every entry is compared, so the time taken does not tell which one
    /// came close (only the lengths may leak, as in bitcoind).
    pub fn check(&self, header: Option<&[u8]>) -> Option<String> {
        let header = header?;
        let mut found = None;
        for (known, user) in self.known.read().unwrap_or_else(|e| e.into_inner()).iter() {
            if timing_resistant_eq(known, header) {
                found.get_or_insert_with(|| user.clone());
            }
        }
        if found.is_some() {
            return found;
        }
        let encoded = header.strip_prefix(b"Basic ")?;
        let decoded = base64_decode(encoded.trim_ascii())?;
        let mut found = None;
        for (user, pair) in &self.accepted {
            if timing_resistant_eq(pair, &decoded) {
                found.get_or_insert_with(|| user.clone());
            }
        }
        // Core splits at the first ':'; a user name holds none.
        let colon = decoded.iter().position(|&b| b == b':')?;
        let (user, password) = (&decoded[..colon], &decoded[colon + 1..]);
        let mut salted = None;
        for entry in &self.salted {
            if timing_resistant_eq(entry.user.as_bytes(), user) & entry.verify(password) {
                salted.get_or_insert_with(|| entry.user.clone());
            }
        }
        if let (None, Some(user)) = (&found, &salted) {
            let mut known = self.known_mut();
            let plain = self.accepted.len();
            if known.len() >= plain + KNOWN_SALTED {
                known.remove(plain);
            }
            known.push((header.to_vec(), user.clone()));
        }
        found.or(salted)
    }
}

/// The `Authorization` header value for `user` and `password`.
pub fn basic_authorization(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64_encode(format!("{user}:{password}").as_bytes())
    )
}

/// Compares without returning at the first difference; only the length may leak, as in
/// bitcoind's `TimingResistantEqual`.
pub(crate) fn timing_resistant_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Standard base64 (RFC 4648 section 4), what HTTP Basic auth uses. Decoding takes the
/// value with or without its padding, as the clients we have met send both.
const BASIC: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

pub(crate) fn base64_encode(input: &[u8]) -> String {
    BASIC.encode(input)
}

fn base64_decode(input: &[u8]) -> Option<Vec<u8>> {
    BASIC.decode(input).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        let vectors = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in vectors {
            assert_eq!(base64_encode(plain.as_bytes()), encoded);
            assert_eq!(base64_decode(encoded.as_bytes()).unwrap(), plain.as_bytes());
        }
        assert_eq!(base64_decode(b"Zm8").unwrap(), b"fo");
        assert!(base64_decode(b"Zm9v!").is_none());
        assert!(base64_decode(b"Z").is_none());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]
        #[test]
        fn base64_round_trips(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            proptest::prop_assert_eq!(base64_decode(base64_encode(&bytes).as_bytes()).unwrap(), bytes);
        }
    }

    #[test]
    fn accepts_only_configured_pairs() {
        let auth = Auth::new()
            .allow("__cookie__", "abc")
            .allow("alice", "pw:with:colons");
        let ok = basic_authorization("__cookie__", "abc");
        assert_eq!(
            auth.check(Some(ok.as_bytes())).as_deref(),
            Some("__cookie__")
        );
        let ok = basic_authorization("alice", "pw:with:colons");
        assert_eq!(auth.check(Some(ok.as_bytes())).as_deref(), Some("alice"));
        let padded = format!("{ok}  ");
        assert!(auth.check(Some(padded.as_bytes())).is_some());
        let wrong = basic_authorization("alice", "pw");
        assert!(auth.check(Some(wrong.as_bytes())).is_none());
        assert!(auth.check(None).is_none());
        assert!(auth.check(Some(b"Bearer abc")).is_none());
        assert!(auth.check(Some(b"Basic !!!")).is_none());
        assert!(Auth::new()
            .check(Some(basic_authorization("", "").as_bytes()))
            .is_none());
    }

    #[test]
    fn salted_entries_accept_their_user_and_password() {
        let auth = Auth::new()
            .allow("__cookie__", "abc")
            .allow_salted(RpcAuth::new("monitor", "pw:x"))
            .allow_salted(RpcAuth::new("ops", "other"));
        let ok = basic_authorization("monitor", "pw:x");
        assert_eq!(auth.check(Some(ok.as_bytes())).as_deref(), Some("monitor"));
        let ok = basic_authorization("ops", "other");
        assert_eq!(auth.check(Some(ok.as_bytes())).as_deref(), Some("ops"));
        for (user, password) in [("monitor", "pw"), ("ops", "pw:x"), ("Monitor", "pw:x")] {
            let wrong = basic_authorization(user, password);
            assert!(auth.check(Some(wrong.as_bytes())).is_none(), "{user}");
        }
    }

    #[test]
    fn a_salted_header_once_verified_is_known_and_only_it() {
        let auth = Auth::new().allow_salted(RpcAuth::new("monitor", "pw"));
        let ok = basic_authorization("monitor", "pw");
        for _ in 0..3 {
            assert_eq!(auth.check(Some(ok.as_bytes())).as_deref(), Some("monitor"));
        }
        let wrong = basic_authorization("monitor", "pX");
        assert!(auth.check(Some(wrong.as_bytes())).is_none());
        // Past the bound, the oldest remembered header is verified again, still accepted.
        for i in 0..KNOWN_SALTED + 1 {
            let padded = format!("{ok}{}", " ".repeat(i + 1));
            assert!(auth.check(Some(padded.as_bytes())).is_some());
        }
        assert_eq!(auth.known.read().unwrap().len(), KNOWN_SALTED);
        assert_eq!(auth.check(Some(ok.as_bytes())).as_deref(), Some("monitor"));
    }

    #[test]
    fn debug_hides_secrets() {
        let auth = Auth::new().allow("u", "secret");
        assert!(!format!("{auth:?}").contains("secret"));
    }
}
