//! The token formats of the seed APIs, built as their docs describe, shared by the test binaries.
#![allow(dead_code)] // Each test binary uses a different part of this module.

use keyward_core::token::{Alphabet, PlaintextToken, TokenFormat};
use keyward_core::{Environment, KeyKind};

/// Both environments and both kinds, for tests that go through every combination.
pub const ENVIRONMENTS: [Environment; 2] = [Environment::Live, Environment::Test];
/// Both key kinds.
pub const KINDS: [KeyKind; 2] = [KeyKind::Publishable, KeyKind::Secret];

/// A named token format, with what its docs say about it.
pub struct Seed {
    pub name: &'static str,
    pub format: TokenFormat,
    /// Whether tokens carry a `live`/`test` segment.
    pub environment: bool,
    /// What the prefix and secret are drawn from.
    pub alphabet: Alphabet,
}

/// Adtarget: `atk_live_<8-char prefix>_<32-char secret>`, lowercase letters and digits.
pub fn adtarget() -> TokenFormat {
    TokenFormat::builder("atk")
        .environment()
        .public_prefix(8)
        .secret(32, Alphabet::LowerAlphanumeric)
        .build()
        .expect("Adtarget's format is valid")
}

/// Atribu: `atb_live_<8>_<32>`, base62.
pub fn atribu() -> TokenFormat {
    TokenFormat::builder("atb")
        .environment()
        .public_prefix(8)
        .secret(32, Alphabet::Base62)
        .build()
        .expect("Atribu's format is valid")
}

/// Tolinku: `tolk_pub_…` / `tolk_sec_…`, 32 base62, no prefix.
pub fn tolinku() -> TokenFormat {
    TokenFormat::builder("tolk")
        .kind_segment("pub", "sec")
        .secret(32, Alphabet::Base62)
        .build()
        .expect("Tolinku's format is valid")
}

/// Toksta: `tk_live_` and 48 lowercase hex, no prefix.
pub fn toksta() -> TokenFormat {
    TokenFormat::builder("tk")
        .environment()
        .secret(48, Alphabet::LowerHex)
        .build()
        .expect("Toksta's format is valid")
}

/// Trcker: `tk_` and 40 base62, no prefix.
pub fn trcker() -> TokenFormat {
    TokenFormat::builder("tk")
        .secret(40, Alphabet::Base62)
        .build()
        .expect("Trcker's format is valid")
}

/// Every seed format and keyward's default.
pub fn all() -> Vec<Seed> {
    vec![
        Seed {
            name: "adtarget",
            format: adtarget(),
            environment: true,
            alphabet: Alphabet::LowerAlphanumeric,
        },
        Seed {
            name: "atribu",
            format: atribu(),
            environment: true,
            alphabet: Alphabet::Base62,
        },
        Seed {
            name: "tolinku",
            format: tolinku(),
            environment: false,
            alphabet: Alphabet::Base62,
        },
        Seed {
            name: "toksta",
            format: toksta(),
            environment: true,
            alphabet: Alphabet::LowerHex,
        },
        Seed {
            name: "trcker",
            format: trcker(),
            environment: false,
            alphabet: Alphabet::Base62,
        },
        Seed {
            name: "keyward",
            format: TokenFormat::default(),
            environment: true,
            alphabet: Alphabet::Base62,
        },
    ]
}

/// The secret part of a minted token: everything after its non-secret head.
pub fn secret_part(token: &PlaintextToken) -> &str {
    &token.expose()[token.redacted().len()..]
}

/// `body` followed by its checksum as keyward's formats write it: the CRC32 of `body` in six
/// base62 characters, most significant first.
pub fn with_checksum(body: &str) -> String {
    const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut crc = crc32fast::hash(body.as_bytes());
    let mut digits = [0u8; 6];
    for digit in digits.iter_mut().rev() {
        *digit = BASE62[(crc % 62) as usize];
        crc /= 62;
    }
    format!("{body}{}", String::from_utf8_lossy(&digits))
}
