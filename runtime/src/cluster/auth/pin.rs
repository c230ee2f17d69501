//! Pinning nimbus's CA: a join token carries the SHA-256 of the DER of the cluster CA's
//! certificate (`Token::pin`, 64 lowercase hex characters in its text), and a client
//! given it trusts exactly that CA ([`PinnedVerifier`]): nimbus's certificate chain must
//! verify to a CA certificate with that hash, for the name the client asked for.

use std::fmt;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, RootCertStore, SignatureScheme};
use sha2::{Digest, Sha256};

/// Length of a pin's text: 64 lowercase hex characters.
pub const PIN_HEX_LEN: usize = 64;

/// The SHA-256 of a CA certificate's DER: what a join token pins. `Display` is the
/// 64 lowercase hex characters of the token text.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CaPin(pub [u8; 32]);

impl CaPin {
    /// The pin of a certificate (its DER encoding).
    pub fn of_der(der: &[u8]) -> CaPin {
        CaPin(Sha256::digest(der).into())
    }

    /// Parse the 64 lowercase (or uppercase) hex characters of a pin. The error does not
    /// echo the text (it sits in a token).
    pub fn parse_hex(text: &str) -> Result<CaPin, PinError> {
        if text.len() != PIN_HEX_LEN {
            return Err(PinError::Length(text.len()));
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(text, &mut out).map_err(|_| PinError::NotHex)?;
        Ok(CaPin(out))
    }
}

impl fmt::Display for CaPin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for CaPin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CaPin({self})")
    }
}

/// A pin that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PinError {
    /// Not 64 characters.
    #[error("a CA pin is {PIN_HEX_LEN} hex characters, got {0}")]
    Length(usize),
    /// Not hex.
    #[error("a CA pin is {PIN_HEX_LEN} hex characters, got other characters")]
    NotHex,
}

/// The certificate nimbus presented is not from the pinned CA.
#[derive(Debug, thiserror::Error)]
#[error(
    "nimbus's certificate is not from the pinned cluster CA: expected CA pin {expected}, \
     nimbus presented {}; check the join token (or nimbus's address), or pass --ca-file",
    seen_text(.seen)
)]
pub struct PinMismatch {
    /// The pin the client was given.
    pub expected: CaPin,
    /// The pins of the certificates nimbus presented (its own first).
    pub seen: Vec<CaPin>,
}

fn seen_text(seen: &[CaPin]) -> String {
    if seen.is_empty() {
        return "no certificate".into();
    }
    let pins: Vec<String> = seen.iter().map(ToString::to_string).collect();
    format!("certificates with pins {}", pins.join(", "))
}

/// A rustls verifier that trusts exactly the CA whose certificate hashes to a pin: the
/// chain nimbus presents must hold that CA certificate, and nimbus's own certificate
/// must verify to it (signature, validity, server name) as with any trusted root.
#[derive(Debug)]
pub struct PinnedVerifier {
    pin: CaPin,
    provider: Arc<CryptoProvider>,
}

impl PinnedVerifier {
    /// A verifier for `pin`, checking signatures with `provider`.
    pub fn new(pin: CaPin, provider: Arc<CryptoProvider>) -> PinnedVerifier {
        PinnedVerifier { pin, provider }
    }
}

fn other(e: impl std::error::Error + Send + Sync + 'static) -> rustls::Error {
    rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(e))))
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(ca) = intermediates
            .iter()
            .find(|c| CaPin::of_der(c.as_ref()) == self.pin)
        else {
            let seen = std::iter::once(end_entity)
                .chain(intermediates)
                .map(|c| CaPin::of_der(c.as_ref()))
                .collect();
            return Err(other(PinMismatch {
                expected: self.pin,
                seen,
            }));
        };
        let mut roots = RootCertStore::empty();
        roots.add(ca.clone().into_owned())?;
        let webpki =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), self.provider.clone())
                .build()
                .map_err(other)?;
        let others: Vec<CertificateDer<'_>> = intermediates
            .iter()
            .filter(|c| c.as_ref() != ca.as_ref())
            .cloned()
            .collect();
        webpki.verify_server_cert(end_entity, &others, server_name, ocsp_response, now)
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
            &self.provider.signature_verification_algorithms,
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
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_pin_is_64_hex_characters_and_a_bad_one_is_not_echoed() {
        let pin = CaPin::of_der(b"ca");
        assert_eq!(pin.to_string().len(), PIN_HEX_LEN);
        assert_eq!(CaPin::parse_hex(&pin.to_string()).unwrap(), pin);
        let e = CaPin::parse_hex(&"g".repeat(64)).unwrap_err().to_string();
        assert!(!e.contains("gggg"), "{e}");
        assert!(CaPin::parse_hex("abc").is_err());
    }
}
