//! How the store reaches PostgreSQL: the URL's `sslmode` and `sslrootcert` read as libpq reads
//! them, TLS through rustls, and the timeouts every session of the store runs under.
//!
//! The `postgres` client knows `sslmode` `disable`, `prefer` and `require` only, and verifies
//! nothing itself; the verifying modes and the root certificates are taken out of the URL here
//! and become the rustls configuration:
//!
//! | `sslmode`          | encrypted                     | server's certificate                   |
//! |--------------------|-------------------------------|----------------------------------------|
//! | `disable`          | never                         | –                                      |
//! | `prefer` (default) | when the server offers it     | checked against `sslrootcert` if given |
//! | `require`          | always                        | checked against `sslrootcert` if given |
//! | `verify-ca`        | always                        | signed by `sslrootcert`                |
//! | `verify-full`      | always                        | signed by `sslrootcert`, for the host  |
//!
//! `sslrootcert` is a PEM file of certificate authorities, or `system` for the Web PKI's roots.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use postgres::Client;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::Error;

/// A statement running longer than this is cancelled (a store call that slow is a bug, and it
/// would hold a connection and maybe the change log's lock).
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(60);
/// A write waits at most this long for a lock (writers queue on the change log's counter row).
const LOCK_TIMEOUT: Duration = Duration::from_secs(10);
/// A transaction left open and idle this long (a stuck server) is ended, releasing its locks.
const IDLE_IN_TRANSACTION_TIMEOUT: Duration = Duration::from_secs(60);

/// `sslmode`, as libpq names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Result<Self, Error> {
        Ok(match value {
            "disable" => Self::Disable,
            // libpq's `allow` tries plaintext first; nobody wants that over TLS first.
            "allow" | "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            other => {
                return Err(Error::Url(format!(
                    "sslmode={other} is not one of disable, prefer, require, verify-ca, verify-full"
                )));
            }
        })
    }

    /// What the `postgres` client itself is told: whether to ask for TLS and insist on it.
    fn for_client(self) -> postgres::config::SslMode {
        match self {
            Self::Disable => postgres::config::SslMode::Disable,
            Self::Prefer => postgres::config::SslMode::Prefer,
            Self::Require | Self::VerifyCa | Self::VerifyFull => postgres::config::SslMode::Require,
        }
    }
}

/// Where the store connects and how: the parsed URL, its TLS, and the session's timeouts.
#[derive(Clone)]
pub struct Target {
    config: postgres::Config,
    tls: Option<MakeRustlsConnect>,
    mode: SslMode,
    /// Whether the server's certificate is checked against trusted roots.
    verified: bool,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("hosts", &self.config.get_hosts())
            .field("mode", &self.mode)
            .field("verified", &self.verified)
            .finish_non_exhaustive()
    }
}

impl Target {
    /// Reads a `postgres://` URL, taking `sslmode` and `sslrootcert` out of it.
    pub fn parse(url: &str) -> Result<Self, Error> {
        let mut parsed = url::Url::parse(url).map_err(|e| Error::Url(e.to_string()))?;
        let mut mode = SslMode::Prefer;
        let mut root: Option<String> = None;
        // The other parameters stay as written (re-encoding would turn `%20` into `+`, which
        // the client does not read as a space).
        let mut rest = Vec::new();
        for part in parsed.query().unwrap_or_default().split('&') {
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            let decoded = || {
                url::form_urlencoded::parse(format!("v={value}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            match key {
                "sslmode" => mode = SslMode::parse(&decoded())?,
                "sslrootcert" => root = Some(decoded()),
                "" => {}
                _ => rest.push(part.to_owned()),
            }
        }
        let rest = rest.join("&");
        parsed.set_query((!rest.is_empty()).then_some(rest.as_str()));
        let mut config: postgres::Config = parsed
            .as_str()
            .parse()
            .map_err(|e: postgres::Error| Error::Url(e.to_string()))?;
        config.ssl_mode(mode.for_client());
        // Ours first: an `options` the URL gives itself comes later and wins.
        let options = format!(
            "-c statement_timeout={} -c lock_timeout={} -c idle_in_transaction_session_timeout={} {}",
            STATEMENT_TIMEOUT.as_millis(),
            LOCK_TIMEOUT.as_millis(),
            IDLE_IN_TRANSACTION_TIMEOUT.as_millis(),
            config.get_options().unwrap_or_default(),
        );
        config.options(options.trim_end());
        let roots = root.as_deref().map(roots).transpose()?;
        if matches!(mode, SslMode::VerifyCa | SslMode::VerifyFull) && roots.is_none() {
            return Err(Error::Url(
                "sslmode=verify-ca and verify-full need sslrootcert: a PEM file of the \
                 certificate authorities that signed the server's certificate, or `system`"
                    .into(),
            ));
        }
        let verified = roots.is_some() && mode != SslMode::Disable;
        let tls = match mode {
            SslMode::Disable => None,
            _ => Some(MakeRustlsConnect::new(client_config(mode, roots)?)),
        };
        Ok(Self {
            config,
            tls,
            mode,
            verified,
        })
    }

    /// One new connection.
    pub fn connect(&self) -> Result<Client, postgres::Error> {
        match &self.tls {
            Some(tls) => self.config.connect(tls.clone()),
            None => self.config.connect(postgres::NoTls),
        }
    }

    /// The parsed URL (hosts, user, database), for what the store reports.
    pub fn config(&self) -> &postgres::Config {
        &self.config
    }

    /// The `sslmode` the URL asked for.
    pub fn mode(&self) -> SslMode {
        self.mode
    }

    /// Whether the server's certificate is checked against trusted roots.
    pub fn verified(&self) -> bool {
        self.verified
    }

    /// Whether every host is this machine (a Unix socket or a loopback address), where
    /// plaintext crosses no network.
    pub fn is_local(&self) -> bool {
        use postgres::config::Host;
        let hosts = self.config.get_hosts();
        !hosts.is_empty()
            && hosts.iter().all(|host| match host {
                Host::Unix(_) => true,
                Host::Tcp(name) => {
                    name == "localhost"
                        || name
                            .trim_matches(['[', ']'])
                            .parse::<std::net::IpAddr>()
                            .is_ok_and(|ip| ip.is_loopback())
                }
            })
    }

    /// The first host's name, for messages.
    pub fn host(&self) -> String {
        use postgres::config::Host;
        match self.config.get_hosts().first() {
            Some(Host::Tcp(name)) => name.clone(),
            Some(Host::Unix(path)) => path.display().to_string(),
            None => "localhost".into(),
        }
    }
}

/// How a connection of the store is protected, for the server's warning at start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transport {
    /// The database's host (first of the URL's).
    pub host: String,
    /// The host is this machine: nothing crosses a network.
    pub local: bool,
    /// The connection is encrypted (as PostgreSQL itself reports, `pg_stat_ssl`).
    pub tls: bool,
    /// The server's certificate was checked against trusted roots.
    pub verified: bool,
}

impl Transport {
    /// What an operator should hear about it, if anything.
    pub fn warning(&self) -> Option<String> {
        if self.local {
            None
        } else if !self.tls {
            Some(format!(
                "PostgreSQL at {} is reached without TLS: passwords, password hashes and \
                 readers' addresses cross the network in clear. Enable ssl on the database and \
                 add ?sslmode=verify-full&sslrootcert=/path/to/ca.pem to the database URL",
                self.host
            ))
        } else if !self.verified {
            Some(format!(
                "PostgreSQL at {} is reached over TLS without checking its certificate, so \
                 anyone on the path could pose as it: add sslmode=verify-full and \
                 sslrootcert=/path/to/ca.pem to the database URL",
                self.host
            ))
        } else {
            None
        }
    }
}

/// Whether `client`'s own connection is encrypted, as the server sees it.
pub(crate) fn encrypted(client: &mut Client) -> Result<bool, postgres::Error> {
    Ok(client
        .query_opt(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )?
        .is_some_and(|row| row.get::<_, bool>(0)))
}

/// The certificate authorities `sslrootcert` names.
fn roots(value: &str) -> Result<rustls::RootCertStore, Error> {
    let mut store = rustls::RootCertStore::empty();
    if value == "system" {
        store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        return Ok(store);
    }
    let path = PathBuf::from(value);
    let unreadable = |why: String| Error::Url(format!("sslrootcert {}: {why}", path.display()));
    let certificates = CertificateDer::pem_file_iter(Path::new(&path))
        .map_err(|e| unreadable(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| unreadable(e.to_string()))?;
    let (added, _ignored) = store.add_parsable_certificates(certificates);
    if added == 0 {
        return Err(unreadable("holds no certificate in PEM".into()));
    }
    Ok(store)
}

fn client_config(
    mode: SslMode,
    roots: Option<rustls::RootCertStore>,
) -> Result<rustls::ClientConfig, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Url(e.to_string()))?;
    let verifier: Arc<dyn ServerCertVerifier> = match roots {
        Some(roots) => {
            let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .map_err(|e| Error::Url(e.to_string()))?;
            if mode == SslMode::VerifyFull {
                webpki
            } else {
                Arc::new(AnyName(webpki))
            }
        }
        None => Arc::new(AnyCertificate(provider)),
    };
    Ok(builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

/// `verify-ca` (and `require` with roots): the chain must lead to a trusted root, the name on
/// the certificate is not compared with the host.
#[derive(Debug)]
struct AnyName(Arc<rustls::client::WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            // The chain was checked before the name: only the name is wrong.
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `prefer` and `require` without roots, as libpq does them: encrypted against a passive
/// listener, the certificate taken as it comes (the handshake's signatures are still checked).
/// The server warns at start when such a connection crosses a network.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libpq_modes_are_read_and_taken_out_of_the_url() {
        let cases = [
            ("postgres://u@db.example/tb", SslMode::Prefer, false, false),
            (
                "postgres://u@db.example/tb?sslmode=disable",
                SslMode::Disable,
                false,
                false,
            ),
            (
                "postgres://u@127.0.0.1:5432/tb?sslmode=require",
                SslMode::Require,
                false,
                true,
            ),
            (
                "postgres://u@localhost/tb?sslmode=verify-full&sslrootcert=system",
                SslMode::VerifyFull,
                true,
                true,
            ),
            (
                "postgres://u@[::1]/tb?sslmode=verify-ca&sslrootcert=system&application_name=tb",
                SslMode::VerifyCa,
                true,
                true,
            ),
        ];
        for (url, mode, verified, local) in cases {
            let target = Target::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!(target.mode(), mode, "{url}");
            assert_eq!(target.verified(), verified, "{url}");
            assert_eq!(target.is_local(), local, "{url}");
        }
    }

    #[test]
    fn a_verifying_mode_without_roots_or_an_unknown_mode_is_refused_with_the_reason() {
        let cases = [
            (
                "postgres://u@db.example/tb?sslmode=verify-full",
                "need sslrootcert",
            ),
            (
                "postgres://u@db.example/tb?sslmode=secure",
                "sslmode=secure is not one of",
            ),
            (
                "postgres://u@db.example/tb?sslmode=require&sslrootcert=/nonexistent/ca.pem",
                "sslrootcert /nonexistent/ca.pem",
            ),
        ];
        for (url, words) in cases {
            let error = Target::parse(url).expect_err(url).to_string();
            assert!(error.contains(words), "{url}: {error}");
        }
    }

    #[test]
    fn sessions_get_timeouts_and_the_urls_own_options_win() {
        let target = Target::parse("postgres://u@h/tb?options=-c%20lock_timeout%3D1s").unwrap();
        let options = target.config().get_options().unwrap();
        assert!(
            options.starts_with("-c statement_timeout=60000"),
            "{options}"
        );
        assert!(options.ends_with("-c lock_timeout=1s"), "{options}");
    }

    #[test]
    fn only_a_network_connection_without_verified_tls_is_warned_about() {
        let transport = |local, tls, verified| Transport {
            host: "db.example".into(),
            local,
            tls,
            verified,
        };
        assert_eq!(transport(true, false, false).warning(), None);
        assert!(
            transport(false, false, false)
                .warning()
                .unwrap()
                .contains("without TLS")
        );
        assert!(
            transport(false, true, false)
                .warning()
                .unwrap()
                .contains("without checking")
        );
        assert_eq!(transport(false, true, true).warning(), None);
    }
}
