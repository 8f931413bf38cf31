//! `TokenFormat::parse` on arbitrary text, for several formats: it never panics, and what it
//! accepts round-trips: the parts it reports are the token's own, in their places, of the right
//! lengths and alphabet, with the right checksum, and parsing the token again gives the same
//! answer. Half of the inputs are assembled into a format's shape with a correct checksum, so
//! that the fuzzer gets past the checksum; a checksummed token then stops parsing when any one of
//! its characters is changed.
//!
//! Input: the first byte picks the mode (bit 0), the format (bits 1–3), the environment (bit 4)
//! and the kind (bit 5); the rest is the text (raw mode) or the characters to assemble.

#![no_main]

use std::sync::LazyLock;

use keyward_core::token::{Alphabet, ParsedToken, TokenFormat};
use keyward_core::{Environment, KeyKind};
use libfuzzer_sys::fuzz_target;

const CHECKSUM_LEN: usize = 6;

/// A format and what the fuzzer needs to know of its layout.
struct Shape {
    format: TokenFormat,
    environment: bool,
    kinds: Option<(&'static str, &'static str)>,
    prefix: usize,
    secret: usize,
    alphabet: Alphabet,
    checksum: bool,
}

impl Shape {
    fn new(
        namespace: &str,
        environment: bool,
        kinds: Option<(&'static str, &'static str)>,
        prefix: usize,
        secret: (usize, Alphabet),
        checksum: bool,
    ) -> Self {
        let mut builder = TokenFormat::builder(namespace).secret(secret.0, secret.1);
        if environment {
            builder = builder.environment();
        }
        if let Some((publishable, secret)) = kinds {
            builder = builder.kind_segment(publishable, secret);
        }
        if prefix > 0 {
            builder = builder.public_prefix(prefix);
        }
        if checksum {
            builder = builder.checksum();
        }
        Self {
            format: builder.build().expect("a valid format"),
            environment,
            kinds,
            prefix,
            secret: secret.0,
            alphabet: secret.1,
            checksum,
        }
    }

    fn kind_label(&self, kind: KeyKind) -> Option<&'static str> {
        self.kinds.map(|(publishable, secret)| match kind {
            KeyKind::Publishable => publishable,
            KeyKind::Secret => secret,
        })
    }

    /// `namespace_[environment_][kind_]`.
    fn head(&self, environment: Option<Environment>, kind: Option<KeyKind>) -> String {
        let mut head = format!("{}_", self.format.namespace());
        if let Some(environment) = environment {
            head.push_str(environment.as_str());
            head.push('_');
        }
        if let Some(label) = kind.and_then(|kind| self.kind_label(kind)) {
            head.push_str(label);
            head.push('_');
        }
        head
    }
}

static SHAPES: LazyLock<Vec<Shape>> = LazyLock::new(|| {
    use Alphabet::{Base62, LowerAlphanumeric, LowerHex};
    vec![
        // keyward's default: kw_live_<8>_<32 base62><checksum>.
        Shape::new("kw", true, None, 8, (32, Base62), true),
        // Adtarget: atk_live_<8>_<32 lower alphanumeric>.
        Shape::new("atk", true, None, 8, (32, LowerAlphanumeric), false),
        // Tolinku: tolk_pub_<32 base62>.
        Shape::new("tolk", false, Some(("pub", "sec")), 0, (32, Base62), false),
        // Toksta: tk_live_<48 hex>.
        Shape::new("tk", true, None, 0, (48, LowerHex), false),
        // Every segment, one-letter-apart kind labels, a checksum.
        Shape::new("kw", true, Some(("pk", "sk")), 8, (32, Base62), true),
        // No segment but the secret, checksummed.
        Shape::new("t", false, None, 0, (24, Base62), true),
    ]
});

/// The checksum keyward's formats end with: the CRC32 of everything before it, six base62
/// characters, most significant first (written out here as the format documents it).
fn checksum(body: &str) -> String {
    let chars = Alphabet::Base62.chars();
    let mut crc = crc32fast::hash(body.as_bytes());
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = chars[(crc % 62) as usize];
        crc /= 62;
    }
    String::from_utf8(out.to_vec()).expect("base62 is ASCII")
}

/// What every accepted token must satisfy.
fn check_accepted(shape: &Shape, text: &str, parsed: &ParsedToken<'_>) {
    assert_eq!(parsed.as_secret_str(), text);
    assert_eq!(
        shape.format.parse(text).as_ref(),
        Ok(parsed),
        "parsing is deterministic"
    );
    assert!(text.len() <= shape.format.max_len());
    assert_eq!(parsed.environment().is_some(), shape.environment);
    assert_eq!(parsed.kind().is_some(), shape.kinds.is_some());
    let head = shape.head(parsed.environment(), parsed.kind());
    let rest = text
        .strip_prefix(&head)
        .expect("the token starts with the parts it reports");
    let chars = shape.alphabet.chars();
    let secret = match parsed.prefix() {
        Some(prefix) => {
            assert_eq!(prefix.len(), shape.prefix);
            assert!(prefix.bytes().all(|b| chars.contains(&b)), "prefix {prefix:?}");
            rest.strip_prefix(prefix)
                .and_then(|r| r.strip_prefix('_'))
                .expect("the prefix is in its place")
        }
        None => {
            assert_eq!(shape.prefix, 0);
            rest
        }
    };
    let sum_len = if shape.checksum { CHECKSUM_LEN } else { 0 };
    assert_eq!(secret.len(), shape.secret + sum_len);
    let (secret, sum) = secret.split_at(shape.secret);
    assert!(secret.bytes().all(|b| chars.contains(&b)), "secret of {text:?}");
    if shape.checksum {
        assert_eq!(
            sum,
            checksum(&text[..text.len() - CHECKSUM_LEN]),
            "checksum of {text:?}"
        );
        for at in 0..text.len() {
            let mut changed = text.as_bytes().to_vec();
            changed[at] = if changed[at] == b'A' { b'B' } else { b'A' };
            let changed = std::str::from_utf8(&changed).expect("ASCII stays UTF-8");
            assert!(
                shape.format.parse(changed).is_err(),
                "{changed:?} (byte {at} of {text:?} changed) still parses"
            );
        }
    }
}

/// Parses `text` with `shape`'s format; checks what it accepts.
fn parse(shape: &Shape, text: &str) -> bool {
    match shape.format.parse(text) {
        Ok(parsed) => {
            check_accepted(shape, text, &parsed);
            true
        }
        Err(_) => false,
    }
}

/// Characters that are no token's, to mix into assembled tokens.
const STRAY: [char; 6] = ['_', '-', ' ', 'é', '\0', '\u{200b}'];

/// A token of `shape` from `bytes`: each byte a character of the alphabet (or, for the highest
/// byte values, a stray one), the prefix separator in its place, and a correct checksum.
fn assemble(shape: &Shape, control: u8, bytes: &[u8]) -> String {
    let environment = shape.environment.then_some(if control & 0x10 == 0 {
        Environment::Live
    } else {
        Environment::Test
    });
    let kind = if control & 0x20 == 0 {
        KeyKind::Secret
    } else {
        KeyKind::Publishable
    };
    let mut token = shape.head(environment, Some(kind));
    let chars = shape.alphabet.chars();
    for (i, &b) in bytes.iter().enumerate() {
        if shape.prefix > 0 && i == shape.prefix {
            token.push('_');
        }
        match b.checked_sub(0xfa) {
            Some(stray) => token.push(STRAY[usize::from(stray)]),
            None => token.push(char::from(chars[usize::from(b) % chars.len()])),
        }
    }
    if shape.checksum {
        let sum = checksum(&token);
        token.push_str(&sum);
    }
    token
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    if control & 1 == 0 {
        let text = String::from_utf8_lossy(rest);
        for shape in SHAPES.iter() {
            parse(shape, &text);
        }
    } else {
        let shape = &SHAPES[usize::from(control >> 1 & 0x7) % SHAPES.len()];
        let token = assemble(shape, control, rest);
        let accepted = parse(shape, &token);
        // Of the right length and alphabet, it is the format's.
        let expected_len = shape.prefix + shape.secret;
        let clean = rest.iter().all(|&b| b < 0xfa);
        if clean && rest.len() == expected_len {
            assert!(accepted, "{token:?} is well formed and refused");
        }
    }
});
