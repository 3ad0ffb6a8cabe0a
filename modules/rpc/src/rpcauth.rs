//! Salted credentials in Bitcoin Core's `rpcauth` format: `USER:SALT$HASH`, where HASH is
//! the hex HMAC-SHA256 of the password keyed by the salt's text, as Core's
//! `share/rpcauth/rpcauth.py` writes them and `httprpc.cpp` checks them. The profile then
//! holds no password: `[rpc] auth = ["alice:SALT$HASH"]`, and `node rpcauth alice` prints
//! a line and its password.

use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

/// One `[rpc] auth` entry.
#[derive(Clone)]
pub struct RpcAuth {
    /// The user name it accepts.
    pub user: String,
    salt: String,
    hash: [u8; 32],
}

impl std::fmt::Debug for RpcAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The hash is not the password, but a log has no use for it.
        write!(f, "RpcAuth({})", self.user)
    }
}

impl RpcAuth {
    /// Reads `USER:SALT$HASH`; the error says what is wrong without repeating the hash.
    pub fn parse(line: &str) -> Result<RpcAuth, String> {
        let expected = "expected USER:SALT$HASH, as `node rpcauth USER` prints";
        let (user, rest) = line
            .split_once(':')
            .ok_or_else(|| format!("no ':' after the user name; {expected}"))?;
        let (salt, hash) = rest
            .split_once('$')
            .ok_or_else(|| format!("no '$' between salt and hash for user {user:?}; {expected}"))?;
        if user.is_empty() || salt.is_empty() {
            return Err(format!("empty user name or salt; {expected}"));
        }
        let hash: [u8; 32] = hex::decode(hash)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| {
                format!("the hash of user {user:?} is not 64 hex digits (HMAC-SHA256); {expected}")
            })?;
        Ok(RpcAuth {
            user: user.to_string(),
            salt: salt.to_string(),
            hash,
        })
    }

    /// An entry for `user` with `password`, under a fresh 16-byte salt written in hex, as
    /// rpcauth.py makes them.
    pub fn new(user: &str, password: &str) -> RpcAuth {
        let mut salt = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut salt);
        let salt = hex::encode(salt);
        let hash = hmac(&salt).chain_update(password.as_bytes()).finalize();
        RpcAuth {
            user: user.to_string(),
            salt,
            hash: hash.into_bytes().into(),
        }
    }

    /// The entry as the profile holds it.
    pub fn line(&self) -> String {
        format!("{}:{}${}", self.user, self.salt, hex::encode(self.hash))
    }

    /// Whether `password` is this entry's; the hashes are compared in constant time
    /// (`hmac`'s `verify_slice`).
    pub fn verify(&self, password: &[u8]) -> bool {
        hmac(&self.salt)
            .chain_update(password)
            .verify_slice(&self.hash)
            .is_ok()
    }
}

/// HMAC-SHA256 keyed by the salt's text (not its bytes), as Core.
fn hmac(salt: &str) -> Hmac<Sha256> {
    Hmac::<Sha256>::new_from_slice(salt.as_bytes()).expect("HMAC takes a key of any length")
}

/// A password as rpcauth.py makes one: 32 random bytes in URL-safe base64.
pub fn generate_password() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_made_here_accepts_its_password_only() {
        let entry = RpcAuth::new("alice", "secret");
        let parsed = RpcAuth::parse(&entry.line()).unwrap();
        assert_eq!(parsed.user, "alice");
        assert!(parsed.verify(b"secret"));
        assert!(!parsed.verify(b"secreT"));
        assert!(!parsed.verify(b""));
        assert!(!format!("{parsed:?}").contains(&entry.salt));
    }

    #[test]
    fn the_hash_is_hmac_sha256_keyed_by_the_salt_text() {
        // Python: hmac.new(b"salt", b"password", "SHA256").hexdigest()
        let entry = RpcAuth::parse(
            "u:salt$84ec44c7d6fc41917953a1dafca3c7d7856f7a9d0328b991b76f0d36be1224b9",
        )
        .unwrap();
        assert!(entry.verify(b"password"));
    }

    #[test]
    fn bad_lines_say_what_is_wrong() {
        for (line, fragment) in [
            ("alice", "no ':'"),
            ("alice:salt", "no '$'"),
            (":salt$00", "empty"),
            ("alice:salt$xyz", "64 hex digits"),
        ] {
            let err = RpcAuth::parse(line).unwrap_err();
            assert!(err.contains(fragment), "{line}: {err}");
        }
    }

    #[test]
    fn generated_passwords_are_url_safe_base64_of_32_bytes() {
        let password = generate_password();
        assert_eq!(password.len(), 44);
        assert!(password.ends_with('='));
        assert!(!password.contains('+') && !password.contains('/'));
    }
}
