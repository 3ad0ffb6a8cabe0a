//! HTTP Basic authentication, as bitcoind checks it: `Authorization: Basic
//! base64(user:password)` compared without an early exit against each accepted pair.

/// The credentials the server accepts: the cookie's, and the profile's user and password.
#[derive(Clone, Default)]
pub struct Auth {
    /// Accepted `user:password` strings.
    accepted: Vec<Vec<u8>>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a secret into a log.
        write!(f, "Auth({} credentials)", self.accepted.len())
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
            .push(format!("{user}:{password}").into_bytes());
        self
    }

    /// Whether an `Authorization` header value carries an accepted pair.
    pub fn check(&self, header: Option<&[u8]>) -> bool {
        let Some(header) = header else {
            return false;
        };
        let Some(encoded) = header.strip_prefix(b"Basic ") else {
            return false;
        };
        let Some(decoded) = base64_decode(encoded.trim_ascii()) else {
            return false;
        };
        // Every pair is compared, so the time taken does not tell which one came close.
        self.accepted.iter().fold(false, |found, pair| {
            timing_resistant_eq(pair, &decoded) | found
        })
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
fn timing_resistant_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (RFC 4648 section 4), what HTTP Basic auth uses.
fn base64_encode(input: &[u8]) -> String {
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes standard base64; padding is optional, anything else invalid gives `None`.
fn base64_decode(input: &[u8]) -> Option<Vec<u8>> {
    let trimmed = match input {
        [rest @ .., b'=', b'='] => rest,
        [rest @ .., b'='] => rest,
        all => all,
    };
    if trimmed.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(trimmed.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &c in trimmed {
        let v = ALPHABET.iter().position(|&a| a == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
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
        assert!(auth.check(Some(ok.as_bytes())));
        let ok = basic_authorization("alice", "pw:with:colons");
        assert!(auth.check(Some(ok.as_bytes())));
        let padded = format!("{ok}  ");
        assert!(auth.check(Some(padded.as_bytes())));
        let wrong = basic_authorization("alice", "pw");
        assert!(!auth.check(Some(wrong.as_bytes())));
        assert!(!auth.check(None));
        assert!(!auth.check(Some(b"Bearer abc")));
        assert!(!auth.check(Some(b"Basic !!!")));
        assert!(!Auth::new().check(Some(basic_authorization("", "").as_bytes())));
    }

    #[test]
    fn debug_hides_secrets() {
        let auth = Auth::new().allow("u", "secret");
        assert!(!format!("{auth:?}").contains("secret"));
    }
}
