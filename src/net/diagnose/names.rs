//! Name lookups that failed, told apart: the name does not exist, no name
//! server answered, the name has no address of the family asked for (and
//! does have one of the other), a service name unknown to /etc/services.
//!
//! When `-4` or `-6` was given and the lookup failed, the name is looked
//! up once more without the family (only for `-vv` / `--json`), to say
//! whether the other family would do.

use std::ffi::OsStr;

use super::{Code, Diagnosis, NameFacts};
use crate::net::Family;
use crate::net::resolve::{self, Hints};
use crate::sys::errno::GaiError;

/// glibc's EAI_ADDRFAMILY and EAI_NODATA (GNU extensions the libc crate
/// does not name for this target).
const EAI_ADDRFAMILY: i32 = -9;
const EAI_NODATA: i32 = -5;

/// Explains a failed lookup of `host` for a client.
pub fn lookup_failed(host: &OsStr, port: u16, e: GaiError, hints: Hints) -> Diagnosis {
    let asked = match hints.family {
        Family::Inet => Some(4),
        Family::Inet6 => Some(6),
        _ => None,
    };
    let mut facts = NameFacts {
        host: host.to_string_lossy().into_owned(),
        asked,
        ..NameFacts::default()
    };
    let code = match e.code {
        libc::EAI_NONAME if hints.numeric => Code::DnsNumericOnly,
        libc::EAI_AGAIN => Code::DnsNoAnswer,
        libc::EAI_SERVICE => Code::UnknownService,
        libc::EAI_NONAME | EAI_ADDRFAMILY | EAI_NODATA | libc::EAI_FAMILY => {
            match asked.and_then(|_| other_family(host, hints)) {
                Some(ip) => {
                    facts.other = Some(ip);
                    Code::DnsNoAddressFamily
                }
                None if e.code == libc::EAI_NONAME => Code::DnsNxdomain,
                None if asked.is_some() => Code::DnsNoAddressFamily,
                None => Code::DnsNxdomain,
            }
        }
        _ => Code::DnsFailure,
    };
    let mut d = Diagnosis::new(code, None, port, hints.proto.name());
    d.name = Some(facts);
    d
}

/// The name's first address of any family, looked up without `-4`/`-6`.
fn other_family(host: &OsStr, hints: Hints) -> Option<String> {
    let any = Hints {
        family: Family::Any,
        ..hints
    };
    let addrs = resolve::lookup(Some(host), None, any).ok()?;
    addrs.first().map(|a| resolve::numeric_host(&a.addr))
}

/// A port of the list that is neither a number nor a known service.
pub fn unknown_service(spec: &[u8], proto: &'static str) -> Diagnosis {
    let mut d = Diagnosis::new(Code::UnknownService, None, 0, proto);
    d.name = Some(NameFacts {
        service: Some(String::from_utf8_lossy(spec).into_owned()),
        ..NameFacts::default()
    });
    d
}
