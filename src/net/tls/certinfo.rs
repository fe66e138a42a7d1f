//! The fields of a certificate that ncrab prints or reasons about: the
//! one-line Subject and Issuer (`/C=../O=../CN=..`, as OpenSSL's
//! `X509_NAME_oneline` writes them), the validity, the subjectAltNames,
//! OpenBSD's `SHA256:` hash over the DER, and the properties rustls
//! refuses (X.509 v1, a CA used as an end entity, names only in the CN).

use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate, X509Name};

/// What `-v`, `-vv` scans and the failure reasons show of a certificate.
#[derive(Clone, Debug, Default)]
pub struct CertInfo {
    pub subject: String,
    pub issuer: String,
    /// Seconds since the epoch.
    pub not_before: i64,
    pub not_after: i64,
    /// DNS names and IP addresses of the subjectAltName extension.
    pub sans: Vec<String>,
    /// The subjectAltName extension is present (even if empty).
    pub has_san: bool,
    /// The Common Names of the subject.
    pub common_names: Vec<String>,
    /// X.509 version as printed (1 or 3).
    pub version: u32,
    /// basicConstraints says CA:TRUE.
    pub is_ca: bool,
    pub self_signed: bool,
}

/// OpenBSD's certificate hash: `SHA256:` and the lowercase hex of the
/// SHA-256 digest of the DER bytes.
pub fn hash(der: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, der);
    let mut s = String::with_capacity(7 + 64);
    s.push_str("SHA256:");
    for b in d.as_ref() {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// OpenSSL's one-line form of a name: `/C=US/O=Org/CN=name`.
fn oneline(name: &X509Name<'_>) -> String {
    let reg = x509_parser::objects::oid_registry();
    let mut s = String::new();
    for rdn in name.iter() {
        for atv in rdn.iter() {
            let oid = atv.attr_type();
            let key = match x509_parser::objects::oid2abbrev(oid, reg) {
                Ok(k) => k.to_string(),
                Err(_) => oid.to_id_string(),
            };
            let val = atv
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|_| String::from_utf8_lossy(atv.attr_value().data).into_owned());
            s.push('/');
            s.push_str(&key);
            s.push('=');
            s.push_str(&val);
        }
    }
    s
}

/// Parses a DER certificate; `None` when it is not one.
pub fn parse(der: &[u8]) -> Option<CertInfo> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let mut info = CertInfo {
        subject: oneline(cert.subject()),
        issuer: oneline(cert.issuer()),
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        version: cert.version().0 + 1,
        self_signed: cert.subject().as_raw() == cert.issuer().as_raw(),
        ..CertInfo::default()
    };
    if let Ok(Some(bc)) = cert.basic_constraints() {
        info.is_ca = bc.value.ca;
    }
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        info.has_san = true;
        for n in &san.value.general_names {
            match n {
                GeneralName::DNSName(d) => info.sans.push(d.to_string()),
                GeneralName::IPAddress(b) => {
                    if let Ok(a) = <[u8; 4]>::try_from(*b) {
                        info.sans.push(std::net::Ipv4Addr::from(a).to_string());
                    } else if let Ok(a) = <[u8; 16]>::try_from(*b) {
                        info.sans.push(std::net::Ipv6Addr::from(a).to_string());
                    }
                }
                _ => {}
            }
        }
    }
    for cn in cert.subject().iter_common_name() {
        if let Ok(s) = cn.as_str() {
            info.common_names.push(s.to_string());
        }
    }
    Some(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_of_empty_input() {
        assert_eq!(
            hash(b""),
            "SHA256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn self_signed_fields() {
        let ck = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
            .unwrap();
        let info = parse(ck.cert.der()).unwrap();
        assert_eq!(info.sans, ["localhost", "127.0.0.1"]);
        assert_eq!(info.version, 3);
        assert!(info.self_signed);
        assert!(info.subject.starts_with('/'), "{}", info.subject);
    }
}
