//! The TLS side of the server (`ssl://` in Electrum's terms): the certificate chain and
//! key read from PEM files at build time, so a missing file, a file without a
//! certificate or key, or a key that is not the certificate's stops the node before it
//! starts, naming the key of `[electrum]` and the file.
//!
//! rustls with its `ring` provider, passed explicitly: a build that also compiles rustls's
//! other provider (the tests', through electrum-client) has no process-wide default, and
//! the listener must not depend on one. ring offers TLS 1.3 and 1.2 with X25519 and the
//! NIST curves, not the post-quantum X25519MLKEM768 key exchange (aws-lc-rs's).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use node_api::ConfigError;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::TlsAcceptor;

/// What a TLS connection is accepted with.
#[derive(Clone)]
pub(crate) struct Tls {
    pub(crate) acceptor: TlsAcceptor,
    /// How long a client has from its connection to the end of its handshake.
    pub(crate) handshake_timeout: Duration,
}

/// A key's file: relative paths start from the data directory, as `[wallet] file`'s.
pub(crate) fn resolve(datadir: &Path, file: &str) -> PathBuf {
    datadir.join(file)
}

/// Reads the certificate chain and its key and makes the server's TLS settings.
pub(crate) fn load(
    cert_file: &Path,
    key_file: &Path,
    handshake_timeout: Duration,
) -> Result<Tls, ConfigError> {
    let chain = read_chain(cert_file)?;
    let key = read_key(key_file)?;
    #[expect(
        deprecated,
        reason = "rustls deprecates ring's provider for lacking post-quantum key exchange; \
                  aws-lc-rs, the one with it, compiles a large C library into the node \
                  (see the workspace manifest's tokio-rustls entry)"
    )]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid("tls_cert", format!("no TLS version to serve: {e}")))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => invalid(
                "tls_key",
                format!(
                    "{} is not the private key of the certificate in {} (the first one, the server's)",
                    key_file.display(),
                    cert_file.display()
                ),
            ),
            e => invalid(
                "tls_key",
                format!(
                    "{} with the certificate in {}: {e}",
                    key_file.display(),
                    cert_file.display()
                ),
            ),
        })?;
    Ok(Tls {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        handshake_timeout,
    })
}

fn invalid(key: &str, reason: String) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        reason,
    }
}

fn read(key: &str, file: &Path) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(file).map_err(|e| invalid(key, format!("cannot read {}: {e}", file.display())))
}

/// Every certificate of a PEM file, the server's first.
fn read_chain(file: &Path) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let bytes = read("tls_cert", file)?;
    let chain = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid("tls_cert", format!("{}: {e}", file.display())))?;
    if chain.is_empty() {
        return Err(invalid(
            "tls_cert",
            format!(
                "{} holds no certificate (a PEM \"BEGIN CERTIFICATE\" block)",
                file.display()
            ),
        ));
    }
    Ok(chain)
}

/// The first private key of a PEM file: PKCS#8, PKCS#1 (RSA) or SEC1 (EC), what openssl
/// and certbot write.
fn read_key(file: &Path) -> Result<PrivateKeyDer<'static>, ConfigError> {
    let bytes = read("tls_key", file)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => invalid(
            "tls_key",
            format!(
                "{} holds no private key (a PEM \"BEGIN PRIVATE KEY\", \"BEGIN RSA PRIVATE KEY\" or \"BEGIN EC PRIVATE KEY\" block)",
                file.display()
            ),
        ),
        e => invalid("tls_key", format!("{}: {e}", file.display())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(10);

    fn pair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let cert = dir.join(format!("{name}.crt"));
        let key = dir.join(format!("{name}.key"));
        std::fs::write(&cert, made.cert.pem()).unwrap();
        std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
        (cert, key)
    }

    fn error(result: Result<Tls, ConfigError>) -> (String, String) {
        match result {
            Ok(_) => panic!("loaded"),
            Err(e) => (e.key().unwrap_or_default(), e.to_string()),
        }
    }

    #[test]
    fn a_certificate_and_its_key_load() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = pair(dir.path(), "server");
        let tls = load(&cert, &key, TIMEOUT).unwrap();
        assert_eq!(tls.handshake_timeout, TIMEOUT);
    }

    #[test]
    fn each_bad_file_names_its_key_and_path() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = pair(dir.path(), "one");
        let (_, other_key) = pair(dir.path(), "two");
        let missing = dir.path().join("missing.pem");

        let (k, text) = error(load(&missing, &key, TIMEOUT));
        assert_eq!(k, "tls_cert");
        assert!(
            text.contains("cannot read") && text.contains("missing.pem"),
            "{text}"
        );
        let (k, text) = error(load(&cert, &missing, TIMEOUT));
        assert_eq!(k, "tls_key");
        assert!(text.contains("missing.pem"), "{text}");

        // A key where the certificate belongs, and the other way round.
        let (k, text) = error(load(&key, &key, TIMEOUT));
        assert_eq!(k, "tls_cert");
        assert!(text.contains("holds no certificate"), "{text}");
        let (k, text) = error(load(&cert, &cert, TIMEOUT));
        assert_eq!(k, "tls_key");
        assert!(text.contains("holds no private key"), "{text}");

        // Another certificate's key.
        let (k, text) = error(load(&cert, &other_key, TIMEOUT));
        assert_eq!(k, "tls_key");
        assert!(
            text.contains("two.key is not the private key of the certificate in")
                && text.contains("one.crt"),
            "{text}"
        );
    }

    #[test]
    fn relative_files_start_from_the_data_directory() {
        let datadir = Path::new("/var/lib/node");
        assert_eq!(
            resolve(datadir, "tls/server.crt"),
            Path::new("/var/lib/node/tls/server.crt")
        );
        assert_eq!(
            resolve(datadir, "/etc/ssl/server.crt"),
            Path::new("/etc/ssl/server.crt")
        );
    }
}
