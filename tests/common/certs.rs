//! Test certificates, made with openssl by the tests that need them
//! (tests/tls.rs, tests/serve_tls.rs): a test CA ("Test CA") and another
//! one; a server certificate for localhost and 127.0.0.1 (`srv`); an
//! expired one; one for another name; one from the other CA; an X.509 v1
//! one; one with names only in the Common Name; and a client certificate
//! (`client`, client.example); on demand, an RSA server certificate
//! ([`Certs::add_rsa_server`]). `certs()` is None (a printed skip, a
//! failure under CI=true) without openssl.

use std::path::Path;
use std::process::Command;

use super::{TempDir, ms, sha256_bytes, tool};

/// The certificates of one test.
pub struct Certs {
    pub dir: TempDir,
}

impl Certs {
    pub fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    /// The SHA256: hash of a PEM certificate, as OpenBSD prints it.
    pub fn hash(&self, name: &str) -> String {
        let out = Command::new("openssl")
            .args(["x509", "-in", &self.path(name), "-outform", "DER"])
            .output()
            .expect("openssl x509");
        format!("SHA256:{}", sha256_bytes(&out.stdout))
    }

    /// Adds `NAME.key` (RSA 2048) and `NAME.pem`, a server certificate for
    /// localhost and 127.0.0.1 from the test CA, like `srv` but RSA: for
    /// the TLS 1.2 ECDHE-RSA suites (the others are all P-256).
    pub fn add_rsa_server(&self, name: &str) {
        let d = self.dir.path();
        let (k, r, c) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
        );
        openssl(
            d,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &k,
                "-out",
                &r,
                "-subj",
                "/O=Test/CN=localhost",
            ],
        );
        openssl(
            d,
            &[
                "x509", "-req", "-in", &r, "-CA", "ca.pem", "-CAkey", "ca.key", "-out", &c,
                "-days", "10", "-extfile", "san.ext",
            ],
        );
    }
}

pub fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Makes the test certificates; None (skipped) without openssl.
/// `openssl req`'s arguments for a new unencrypted P-256 key, as every
/// test certificate has.
pub const NEW_EC_KEY: [&str; 5] = [
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
];

pub fn certs() -> Option<Certs> {
    tool("openssl", "openssl")?;
    let dir = TempDir::new("tls-certs");
    let d = dir.path();
    let ec = NEW_EC_KEY;
    let ca = |name: &str, cn: &str| {
        let mut a = vec!["req", "-x509"];
        a.extend(ec);
        let (k, c, s) = (
            format!("{name}.key"),
            format!("{name}.pem"),
            format!("/C=US/O=Test/CN={cn}"),
        );
        a.extend(["-keyout", &k, "-out", &c, "-days", "30", "-subj", &s]);
        openssl(d, &a);
    };
    ca("ca", "Test CA");
    ca("other", "Other CA");
    std::fs::write(
        d.join("san.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\n",
    )
    .unwrap();
    std::fs::write(
        d.join("wrong.ext"),
        "subjectAltName=DNS:wrong.example\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    std::fs::write(d.join("cn.ext"), "basicConstraints=CA:FALSE\n").unwrap();
    std::fs::write(
        d.join("client.ext"),
        "subjectAltName=DNS:client.example\nbasicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n",
    )
    .unwrap();
    let leaf = |name: &str, cn: &str, ca: &str, ext: Option<&str>, days: &str| {
        let mut a = vec!["req"];
        a.extend(ec);
        let (k, r, s) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("/O=Test/CN={cn}"),
        );
        a.extend(["-keyout", &k, "-out", &r, "-subj", &s]);
        openssl(d, &a);
        let (cp, ck, c) = (
            format!("{ca}.pem"),
            format!("{ca}.key"),
            format!("{name}.pem"),
        );
        let mut a = vec![
            "x509",
            "-req",
            "-in",
            &r,
            "-CA",
            &cp,
            "-CAkey",
            &ck,
            "-CAcreateserial",
            "-out",
            &c,
            "-days",
            days,
        ];
        if let Some(e) = ext {
            a.extend(["-extfile", e]);
        }
        openssl(d, &a);
    };
    leaf("srv", "localhost", "ca", Some("san.ext"), "10");
    leaf("expired", "localhost", "ca", Some("san.ext"), "0");
    leaf("wrong", "wrong.example", "ca", Some("wrong.ext"), "10");
    leaf("stranger", "localhost", "other", Some("san.ext"), "10");
    leaf("v1", "localhost", "ca", None, "10");
    leaf("cnonly", "localhost", "ca", Some("cn.ext"), "10");
    leaf("client", "client.example", "ca", Some("client.ext"), "10");
    // `-days 0` ends now: one second later it has expired.
    std::thread::sleep(ms(1100));
    Some(Certs { dir })
}
