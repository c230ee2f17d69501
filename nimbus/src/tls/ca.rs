//! Nimbus's own cluster CA: an ECDSA P-256 key (`ca.key`, PKCS#8 PEM, mode 0600, created
//! with that mode) and its self-signed certificate (`ca.pem`), minted at first start in
//! `DATA/tls/` and loaded afterwards. The key is never logged; a `ca.key` others can read
//! is refused, as ssh refuses such a key.

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use squall_runtime::cluster::auth::pin::CaPin;
use squall_runtime::cluster::auth::tls::provider;

use super::{TlsSetupError, read_capped};

/// The CA key's file name in the TLS directory.
pub const KEY_FILE: &str = "ca.key";
/// The CA certificate's file name in the TLS directory.
pub const CERT_FILE: &str = "ca.pem";
/// The CA certificate's common name.
const CA_NAME: &str = "Squall cluster CA";

/// Nimbus's CA: its key and certificate.
pub struct Ca {
    key: KeyPair,
    cert: CertificateDer<'static>,
    cert_path: PathBuf,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca")
            .field("key", &"<redacted>")
            .field("pin", &self.pin())
            .finish()
    }
}

/// The CA certificate's parameters; the issuer of every server certificate is built
/// from the same ones (subject name, key identifier method, key usages).
fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, CA_NAME);
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

impl Ca {
    /// Load the CA of `dir` (`DATA/tls`), or mint one there when it has none (or only
    /// half of one: a start that died while minting, before any client saw the pin).
    pub fn load_or_mint(dir: &Path) -> Result<Ca, TlsSetupError> {
        let (key_path, cert_path) = (dir.join(KEY_FILE), dir.join(CERT_FILE));
        if key_path.exists() && cert_path.exists() {
            return Ca::load(&key_path, &cert_path);
        }
        Ca::mint(dir, &key_path, &cert_path)
    }

    fn load(key_path: &Path, cert_path: &Path) -> Result<Ca, TlsSetupError> {
        let bad = |path: &Path, why: String| TlsSetupError::File {
            path: path.into(),
            why,
        };
        let mode = std::fs::metadata(key_path)
            .map_err(|source| TlsSetupError::Io {
                path: key_path.into(),
                source,
            })?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(bad(
                key_path,
                format!(
                    "the CA key is readable by others (mode {:o}); make it 0600 (chmod 600)",
                    mode & 0o777
                ),
            ));
        }
        let pem = String::from_utf8(read_capped(key_path)?)
            .map_err(|_| bad(key_path, "not a PEM key".into()))?;
        // The key's text is never shown, not even in an error.
        let key =
            KeyPair::from_pem(&pem).map_err(|_| bad(key_path, "not a PEM PKCS#8 key".into()))?;
        let cert = CertificateDer::from_pem_slice(&read_capped(cert_path)?)
            .map_err(|e| bad(cert_path, format!("not a PEM certificate: {e}")))?;
        let ca = Ca {
            key,
            cert,
            cert_path: cert_path.into(),
        };
        ca.self_check().map_err(|e| {
            bad(
                cert_path,
                format!("does not go with {}: {e}", key_path.display()),
            )
        })?;
        tracing::info!(ca = %cert_path.display(), "loaded nimbus's CA");
        Ok(ca)
    }

    fn mint(dir: &Path, key_path: &Path, cert_path: &Path) -> Result<Ca, TlsSetupError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| TlsSetupError::Io { path, source }
        };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io(dir))?;
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let cert = ca_params().self_signed(&key)?;
        write_new(key_path, key.serialize_pem().as_bytes(), 0o600)?;
        write_new(cert_path, cert.pem().as_bytes(), 0o644)?;
        let ca = Ca {
            key,
            cert: cert.der().clone(),
            cert_path: cert_path.into(),
        };
        tracing::info!(ca = %cert_path.display(), ca_pin = %ca.pin(), "minted nimbus's CA");
        Ok(ca)
    }

    /// The pin of the CA: SHA-256 of its certificate's DER.
    pub fn pin(&self) -> CaPin {
        CaPin::of_der(self.cert.as_ref())
    }

    /// The CA certificate (DER).
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert
    }

    /// Where the CA certificate is (what `--ca-file` may name).
    pub fn cert_path(&self) -> &Path {
        &self.cert_path
    }

    /// A fresh server certificate for `names` (DNS names or IP addresses) signed by this
    /// CA, with its new ECDSA P-256 key (kept in memory only).
    pub fn server_cert(
        &self,
        names: &[String],
    ) -> Result<(CertificateDer<'static>, PrivateKeyDer<'static>), TlsSetupError> {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let mut params = CertificateParams::new(names.to_vec())?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "Squall nimbus");
        params.distinguished_name = dn;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let issuer = Issuer::new(ca_params(), &self.key);
        let cert = params.signed_by(&key, &issuer)?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        Ok((cert.der().clone(), key))
    }

    /// Check that the key signs certificates the CA certificate verifies (a `ca.pem`
    /// from another CA, say, is caught at start rather than by every client).
    fn self_check(&self) -> Result<(), String> {
        let (leaf, _) = self
            .server_cert(&["localhost".to_string()])
            .map_err(|e| e.to_string())?;
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.cert.clone()).map_err(|e| e.to_string())?;
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            provider(),
        )
        .build()
        .map_err(|e| e.to_string())?;
        let name = ServerName::try_from("localhost").map_err(|e| e.to_string())?;
        rustls::client::danger::ServerCertVerifier::verify_server_cert(
            verifier.as_ref(),
            &leaf,
            &[],
            &name,
            &[],
            UnixTime::now(),
        )
        .map(|_| ())
        .map_err(|e| e.to_string())
    }
}

/// Write a new file created with `mode` (never widened, never chmod'ed after): to a
/// temporary name, synced, then renamed into place.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), TlsSetupError> {
    squall_runtime::cluster::private_file::replace(path, bytes, mode).map_err(|source| {
        TlsSetupError::Io {
            path: path.into(),
            source,
        }
    })
}
