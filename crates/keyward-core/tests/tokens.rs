//! Token formats: the seed formats built as their docs describe, mint/parse round trips, strict
//! parsing that never panics, entropy, scan patterns and uniqueness.

mod seeds;

use std::collections::HashSet;
use std::ops::Range;
use std::sync::LazyLock;

use keyward_core::token::{Alphabet, FormatError, TokenError, TokenFormat};
use keyward_core::{Environment, KeyKind};
use proptest::prelude::*;
use seeds::{ENVIRONMENTS, KINDS, Seed};

static SEEDS: LazyLock<Vec<Seed>> = LazyLock::new(seeds::all);

fn seed(name: &str) -> &'static Seed {
    SEEDS
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no seed {name}"))
}

/// `token` with the bytes in `range` replaced by `with`.
fn replaced(token: &str, range: Range<usize>, with: &str) -> String {
    let mut out = token.to_owned();
    out.replace_range(range, with);
    out
}

fn is_base62(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

fn is_lower_alnum(b: u8) -> bool {
    b.is_ascii_digit() || b.is_ascii_lowercase()
}

fn is_lower_hex(b: u8) -> bool {
    b.is_ascii_digit() || (b'a'..=b'f').contains(&b)
}

/// What a seed's docs say its tokens look like, checked character by character.
struct Shape {
    seed: &'static str,
    /// The head of a live secret key and of a test publishable key.
    heads: [&'static str; 2],
    prefix: usize,
    secret: usize,
    charset: fn(u8) -> bool,
    checksum: usize,
}

const SHAPES: &[Shape] = &[
    Shape {
        seed: "adtarget",
        heads: ["atk_live_", "atk_test_"],
        prefix: 8,
        secret: 32,
        charset: is_lower_alnum,
        checksum: 0,
    },
    Shape {
        seed: "atribu",
        heads: ["atb_live_", "atb_test_"],
        prefix: 8,
        secret: 32,
        charset: is_base62,
        checksum: 0,
    },
    Shape {
        seed: "tolinku",
        heads: ["tolk_sec_", "tolk_pub_"],
        prefix: 0,
        secret: 32,
        charset: is_base62,
        checksum: 0,
    },
    Shape {
        seed: "toksta",
        heads: ["tk_live_", "tk_test_"],
        prefix: 0,
        secret: 48,
        charset: is_lower_hex,
        checksum: 0,
    },
    Shape {
        seed: "trcker",
        heads: ["tk_", "tk_"],
        prefix: 0,
        secret: 40,
        charset: is_base62,
        checksum: 0,
    },
    Shape {
        seed: "keyward",
        heads: ["kw_live_", "kw_test_"],
        prefix: 8,
        secret: 32,
        charset: is_base62,
        checksum: 6,
    },
];

#[test]
fn seed_formats_mint_the_documented_shape() {
    assert_eq!(SHAPES.len(), SEEDS.len(), "every seed has a shape");
    for shape in SHAPES {
        let format = &seed(shape.seed).format;
        let minted = [
            format.mint(Environment::Live, KeyKind::Secret),
            format.mint(Environment::Test, KeyKind::Publishable),
        ];
        for (token, head) in minted.iter().zip(shape.heads) {
            let text = token.expose();
            let name = shape.seed;
            let rest = text
                .strip_prefix(head)
                .unwrap_or_else(|| panic!("{name}: {head} starts the token"))
                .as_bytes();
            let separator = usize::from(shape.prefix > 0);
            assert_eq!(
                rest.len(),
                shape.prefix + separator + shape.secret + shape.checksum,
                "{name}: length"
            );
            let (prefix, rest) = rest.split_at(shape.prefix);
            assert!(
                prefix.iter().all(|&b| (shape.charset)(b)),
                "{name}: prefix charset"
            );
            let rest = if separator == 1 {
                rest.strip_prefix(b"_")
                    .unwrap_or_else(|| panic!("{name}: `_` after the prefix"))
            } else {
                rest
            };
            let (secret, checksum) = rest.split_at(shape.secret);
            assert!(
                secret.iter().all(|&b| (shape.charset)(b)),
                "{name}: secret charset"
            );
            assert!(checksum.iter().all(|&b| is_base62(b)), "{name}: checksum charset");
            assert_eq!(
                token.redacted().len(),
                head.len() + shape.prefix + separator,
                "{name}: head"
            );
            assert_eq!(format.has_prefix(), shape.prefix > 0, "{name}: has_prefix");
            assert_eq!(format.has_checksum(), shape.checksum > 0, "{name}: has_checksum");
        }
    }
}

proptest! {
    #[test]
    fn minted_tokens_parse_back(
        index in 0..SEEDS.len(),
        environment in prop::sample::select(ENVIRONMENTS.to_vec()),
        kind in prop::sample::select(KINDS.to_vec()),
    ) {
        let Seed { name, format, environment: has_environment, .. } = &SEEDS[index];
        let token = format.mint(environment, kind);
        let parsed = format
            .parse(token.expose())
            .map_err(|e| TestCaseError::fail(format!("{name}: a minted token is refused: {e}")))?;
        prop_assert_eq!(parsed.as_secret_str(), token.expose());
        prop_assert_eq!(token.expose().len(), format.max_len());
        prop_assert_eq!(parsed.environment(), has_environment.then_some(environment));
        prop_assert_eq!(parsed.kind(), format.has_kind_segment().then_some(kind));
        match parsed.prefix() {
            Some(prefix) => {
                prop_assert!(format.has_prefix());
                prop_assert_eq!(prefix.len(), 8);
                let segment = format!("_{prefix}_");
                prop_assert!(token.redacted().ends_with(&segment));
            }
            None => prop_assert!(!format.has_prefix()),
        }
    }

    #[test]
    fn parse_never_panics_on_arbitrary_strings(text in any::<String>()) {
        for Seed { format, .. } in SEEDS.iter() {
            if let Ok(parsed) = format.parse(&text) {
                prop_assert_eq!(parsed.as_secret_str(), text.as_str());
            }
        }
    }

    #[test]
    fn parse_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..128)) {
        let text = String::from_utf8_lossy(&bytes);
        for Seed { format, .. } in SEEDS.iter() {
            if let Ok(parsed) = format.parse(&text) {
                prop_assert_eq!(parsed.as_secret_str(), &*text);
            }
        }
    }

    /// Damage close to a valid token reaches the deeper checks (segments, separator, checksum),
    /// where slicing mistakes would hide; multi-byte characters are spliced in on purpose.
    #[test]
    fn parse_never_panics_on_damaged_tokens(
        index in 0..SEEDS.len(),
        at in any::<prop::sample::Index>(),
        removed in 0usize..4,
        inserted in ".{0,3}",
    ) {
        let Seed { format, .. } = &SEEDS[index];
        let token = format.mint(Environment::Test, KeyKind::Publishable);
        let text = token.expose();
        let start = at.index(text.len() + 1);
        let end = (start + removed).min(text.len());
        let damaged = replaced(text, start..end, &inserted);
        if let Ok(parsed) = format.parse(&damaged) {
            prop_assert_eq!(parsed.as_secret_str(), damaged.as_str());
            prop_assert_eq!(damaged.len(), format.max_len());
        }
    }

    /// keyward's default layout: `kw_live_` (0..8), prefix (8..16), `_` (16), secret (17..49),
    /// checksum (49..55).
    #[test]
    fn one_changed_character_breaks_the_checksum(
        environment in prop::sample::select(ENVIRONMENTS.to_vec()),
        at in prop::sample::select((8..16).chain(17..55).collect::<Vec<usize>>()),
        replacement in 0u8..128,
    ) {
        let format = TokenFormat::default();
        let token = format.mint(environment, KeyKind::Secret);
        let text = token.expose();
        prop_assume!(text.as_bytes()[at] != replacement);
        let changed = replaced(text, at..at + 1, &char::from(replacement).to_string());
        let result = format.parse(&changed);
        if at >= 49 || replacement.is_ascii_alphanumeric() {
            prop_assert_eq!(result, Err(TokenError::Checksum), "at {}", at);
        } else {
            prop_assert_eq!(result, Err(TokenError::Charset), "at {}", at);
        }
    }
}

#[test]
fn the_checksum_is_a_base62_crc32_of_everything_before_it() {
    for environment in ENVIRONMENTS {
        let token = TokenFormat::default().mint(environment, KeyKind::Secret);
        let text = token.expose();
        assert_eq!(seeds::with_checksum(&text[..text.len() - 6]), text);
    }
}

/// The parts of an arbitrary valid format.
#[derive(Clone, Debug)]
struct Parts {
    namespace: String,
    environment: bool,
    kind_labels: Option<(String, String)>,
    prefix: usize,
    secret: usize,
    alphabet: Alphabet,
    checksum: bool,
}

impl Parts {
    fn build(&self) -> Result<TokenFormat, FormatError> {
        let mut builder = TokenFormat::builder(&self.namespace)
            .public_prefix(self.prefix)
            .secret(self.secret, self.alphabet);
        if self.environment {
            builder = builder.environment();
        }
        if let Some((publishable, secret)) = &self.kind_labels {
            builder = builder.kind_segment(publishable, secret);
        }
        if self.checksum {
            builder = builder.checksum();
        }
        builder.build()
    }
}

fn any_parts() -> impl Strategy<Value = Parts> {
    let label = "[a-z0-9]{1,6}".prop_filter("not an environment", |l| l != "live" && l != "test");
    let labels = (label.clone(), label).prop_filter("distinct", |(p, s)| p != s);
    let alphabet = prop::sample::select(vec![
        Alphabet::Base62,
        Alphabet::LowerAlphanumeric,
        Alphabet::LowerHex,
    ]);
    (
        "[a-z0-9]{1,16}",
        any::<bool>(),
        prop::option::of(labels),
        0usize..=32,
        32usize..=128,
        alphabet,
        any::<bool>(),
    )
        .prop_map(
            |(namespace, environment, kind_labels, prefix, secret, alphabet, checksum)| Parts {
                namespace,
                environment,
                kind_labels,
                prefix,
                secret,
                alphabet,
                checksum,
            },
        )
}

proptest! {
    /// Beyond the seeds: any valid combination of parts mints tokens that parse back, that its
    /// scan pattern finds, and whose damaged copies never make the parser panic.
    #[test]
    fn any_valid_format_round_trips(
        parts in any_parts(),
        at in any::<prop::sample::Index>(),
        inserted in ".{0,2}",
    ) {
        let format = parts.build().map_err(|e| TestCaseError::fail(format!("{parts:?}: {e}")))?;
        prop_assert!(format.secret_bits() >= 128.0);
        let pattern = format.scan_pattern();
        for environment in ENVIRONMENTS {
            for kind in KINDS {
                let token = format.mint(environment, kind);
                let text = token.expose();
                prop_assert!(text.len() <= format.max_len());
                let parsed = format
                    .parse(text)
                    .map_err(|e| TestCaseError::fail(format!("{parts:?}: {text}: {e}")))?;
                prop_assert_eq!(parsed.environment(), parts.environment.then_some(environment));
                prop_assert_eq!(parsed.kind(), parts.kind_labels.is_some().then_some(kind));
                prop_assert_eq!(parsed.prefix().map_or(0, str::len), parts.prefix);
                prop_assert_eq!(find_all(&pattern, text), vec![0..text.len()]);
                let start = at.index(text.len());
                let damaged = replaced(text, start..start + 1, &inserted);
                if let Ok(parsed) = format.parse(&damaged) {
                    prop_assert_eq!(parsed.as_secret_str(), damaged.as_str());
                }
            }
        }
    }
}

/// One bad input and the error it must get.
struct Case {
    checks: &'static str,
    seed: &'static str,
    input: String,
    expected: TokenError,
}

fn bad_inputs() -> Vec<Case> {
    let mint = |name: &str| seed(name).format.mint(Environment::Live, KeyKind::Secret);
    // atk_ 0..4, live_ 4..9, prefix 9..17, `_` 17, secret 18..50.
    let atk = mint("adtarget");
    let atk = atk.expose();
    // tolk_ 0..5, sec_ 5..9, secret 9..41.
    let tolk = mint("tolinku");
    let tolk = tolk.expose();
    // tk_ 0..3, live_ 3..8, secret 8..56.
    let toksta = mint("toksta");
    let toksta = toksta.expose();
    // tk_ 0..3, secret 3..43.
    let trcker = mint("trcker");
    let trcker = trcker.expose();
    // kw_ 0..3, live_ 3..8, prefix 8..16, `_` 16, secret 17..49, checksum 49..55.
    let kw = mint("keyward");
    let kw = kw.expose();
    let other_kw = mint("keyward");
    let other_kw = other_kw.expose();
    let case = |checks, seed, input: String, expected| Case {
        checks,
        seed,
        input,
        expected,
    };
    use TokenError::{Charset, Checksum, Kind, Namespace, Separator, TooLong, WrongLength};
    vec![
        case("the empty string", "adtarget", String::new(), Namespace),
        case(
            "one character short",
            "adtarget",
            atk[..49].to_owned(),
            WrongLength,
        ),
        case("one character long", "adtarget", format!("{atk}a"), TooLong),
        case(
            "Adtarget's docs sample: its secret is 30 characters, not the stated 32",
            "adtarget",
            "atk_live_a1b2c3d4_xyzabc123def456ghi789jklmno000".to_owned(),
            WrongLength,
        ),
        case(
            "another seed's namespace",
            "adtarget",
            replaced(atk, 0..3, "atb"),
            Namespace,
        ),
        case(
            "uppercase namespace",
            "adtarget",
            replaced(atk, 0..3, "ATK"),
            Namespace,
        ),
        case(
            "namespace without its `_`",
            "adtarget",
            replaced(atk, 3..4, "-"),
            Namespace,
        ),
        case(
            "unknown environment",
            "adtarget",
            replaced(atk, 4..8, "prod"),
            TokenError::Environment,
        ),
        case(
            "uppercase environment",
            "adtarget",
            replaced(atk, 4..8, "LIVE"),
            TokenError::Environment,
        ),
        case(
            "environment without its `_`",
            "adtarget",
            replaced(atk, 8..9, "-"),
            TokenError::Environment,
        ),
        case(
            "no `_` between prefix and secret",
            "adtarget",
            replaced(atk, 17..18, "a"),
            Separator,
        ),
        case(
            "uppercase letter in the prefix",
            "adtarget",
            replaced(atk, 9..10, "A"),
            Charset,
        ),
        case(
            "uppercase letter in the secret",
            "adtarget",
            replaced(atk, 49..50, "Z"),
            Charset,
        ),
        case(
            "punctuation in the secret",
            "adtarget",
            replaced(atk, 30..31, "-"),
            Charset,
        ),
        case(
            "a two-byte character in place of two secret characters (same byte length)",
            "adtarget",
            replaced(atk, 48..50, "é"),
            Charset,
        ),
        case("unknown kind label", "tolinku", replaced(tolk, 5..8, "xyz"), Kind),
        case(
            "uppercase kind label",
            "tolinku",
            replaced(tolk, 5..8, "SEC"),
            Kind,
        ),
        case(
            "kind label without its `_`",
            "tolinku",
            replaced(tolk, 8..9, "-"),
            Kind,
        ),
        case(
            "an environment where the kind goes",
            "tolinku",
            format!("tolk_live_{}", &tolk[10..]),
            Kind,
        ),
        case(
            "secret one character short",
            "tolinku",
            tolk[..40].to_owned(),
            WrongLength,
        ),
        case("uppercase hex", "toksta", replaced(toksta, 8..9, "A"), Charset),
        case(
            "a letter past `f`",
            "toksta",
            replaced(toksta, 55..56, "g"),
            Charset,
        ),
        case(
            "a Trcker token (no environment) under Toksta's format",
            "toksta",
            trcker.to_owned(),
            TokenError::Environment,
        ),
        case(
            "a Toksta token under Trcker's format",
            "trcker",
            toksta.to_owned(),
            TooLong,
        ),
        case(
            "39-character secret",
            "trcker",
            trcker[..42].to_owned(),
            WrongLength,
        ),
        case(
            "`_` inside the secret",
            "trcker",
            replaced(trcker, 20..21, "_"),
            Charset,
        ),
        case(
            "another token's checksum",
            "keyward",
            format!("{}{}", &kw[..49], &other_kw[49..]),
            Checksum,
        ),
        case(
            "the environment flipped, checksum kept",
            "keyward",
            replaced(kw, 3..7, "test"),
            Checksum,
        ),
        case(
            "punctuation in the checksum",
            "keyward",
            replaced(kw, 54..55, "-"),
            Checksum,
        ),
        case("checksum missing", "keyward", kw[..49].to_owned(), WrongLength),
        case(
            "no `_` between prefix and secret",
            "keyward",
            replaced(kw, 16..17, "x"),
            Separator,
        ),
    ]
}

#[test]
fn bad_inputs_get_the_error_that_names_their_fault() {
    for Case {
        checks,
        seed: name,
        input,
        expected,
    } in bad_inputs()
    {
        let result = seed(name).format.parse(&input);
        assert_eq!(result.err(), Some(expected), "{name}: {checks}");
    }
}

#[test]
fn overlong_input_is_refused_before_any_scan() {
    // 16 MiB whose very first byte is wrong: a parser that scanned before checking the length
    // would answer `Namespace`.
    let huge = "!".repeat(16 << 20);
    for Seed { name, format, .. } in SEEDS.iter() {
        assert_eq!(format.parse(&huge).err(), Some(TokenError::TooLong), "{name}");
        let longest = "!".repeat(format.max_len());
        assert_eq!(
            format.parse(&longest).err(),
            Some(TokenError::Namespace),
            "{name}: at max_len"
        );
        let one_over = "!".repeat(format.max_len() + 1);
        assert_eq!(
            format.parse(&one_over).err(),
            Some(TokenError::TooLong),
            "{name}: max_len + 1"
        );
    }
}

#[test]
fn every_seed_has_at_least_128_bits_of_secret() {
    let expected = [
        ("adtarget", 165.44), // 32 × log2(36)
        ("atribu", 190.53),   // 32 × log2(62)
        ("tolinku", 190.53),  // 32 × log2(62)
        ("toksta", 192.0),    // 48 × 4
        ("trcker", 238.17),   // 40 × log2(62)
        ("keyward", 190.53),  // 32 × log2(62)
    ];
    assert_eq!(expected.len(), SEEDS.len());
    for (name, bits) in expected {
        let actual = seed(name).format.secret_bits();
        assert!(actual >= 128.0, "{name}: {actual} bits");
        assert!(
            (actual - bits).abs() < 0.01,
            "{name}: {actual} bits, expected {bits}"
        );
    }
}

#[test]
fn invalid_formats_fail_to_build() {
    let cases: Vec<(&str, Result<TokenFormat, FormatError>, FormatError)> = vec![
        (
            "16 base62 characters: 95 bits",
            TokenFormat::builder("x").secret(16, Alphabet::Base62).build(),
            FormatError::WeakSecret(95),
        ),
        (
            "31 hex characters: 124 bits, one short of the 128-bit floor",
            TokenFormat::builder("x").secret(31, Alphabet::LowerHex).build(),
            FormatError::WeakSecret(124),
        ),
        (
            "24 lowercase alphanumerics: 124 bits",
            TokenFormat::builder("x")
                .secret(24, Alphabet::LowerAlphanumeric)
                .build(),
            FormatError::WeakSecret(124),
        ),
        (
            "an empty secret",
            TokenFormat::builder("x").secret(0, Alphabet::Base62).build(),
            FormatError::WeakSecret(0),
        ),
        (
            "a secret over 128 characters",
            TokenFormat::builder("x").secret(129, Alphabet::Base62).build(),
            FormatError::SecretTooLong(129),
        ),
        (
            "a public prefix over 32 characters",
            TokenFormat::builder("x").public_prefix(33).build(),
            FormatError::PrefixTooLong(33),
        ),
        (
            "an empty namespace",
            TokenFormat::builder("").build(),
            FormatError::Label(String::new()),
        ),
        (
            "an uppercase namespace",
            TokenFormat::builder("ATK").build(),
            FormatError::Label("ATK".into()),
        ),
        (
            "a namespace with a separator in it",
            TokenFormat::builder("a_b").build(),
            FormatError::Label("a_b".into()),
        ),
        (
            "a 17-character namespace",
            TokenFormat::builder(&"a".repeat(17)).build(),
            FormatError::Label("a".repeat(17)),
        ),
        (
            "equal kind labels",
            TokenFormat::builder("x").kind_segment("pk", "pk").build(),
            FormatError::SameKindLabels,
        ),
        (
            "a kind label that reads as an environment",
            TokenFormat::builder("x").kind_segment("live", "sec").build(),
            FormatError::Label("live".into()),
        ),
    ];
    for (checks, result, expected) in cases {
        assert_eq!(result.err(), Some(expected), "{checks}");
    }
    let floor = TokenFormat::builder("x").secret(32, Alphabet::LowerHex).build();
    assert_eq!(
        floor.map(|f| f.secret_bits()),
        Ok(128.0),
        "32 hex characters: exactly 128 bits"
    );
}

/// One element of the small regular-expression language `scan_pattern` writes.
enum Piece {
    WordBoundary,
    Literal(u8),
    Either(Vec<String>),
    Repeat { class: Vec<(u8, u8)>, count: usize },
}

/// Compiles `\b`, literals, `(a|b)` and `[x-y…]{n}`; anything else is a test failure.
fn compile(pattern: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut rest = pattern.as_bytes();
    while let Some((&first, tail)) = rest.split_first() {
        rest = tail;
        match first {
            b'\\' => {
                assert_eq!(rest.first(), Some(&b'b'), "unsupported escape in {pattern}");
                rest = &rest[1..];
                pieces.push(Piece::WordBoundary);
            }
            b'(' => {
                let end = rest.iter().position(|&b| b == b')').expect("closed group");
                let group = std::str::from_utf8(&rest[..end]).expect("ASCII pattern");
                pieces.push(Piece::Either(group.split('|').map(str::to_owned).collect()));
                rest = &rest[end + 1..];
            }
            b'[' => {
                let end = rest.iter().position(|&b| b == b']').expect("closed class");
                let class = rest[..end]
                    .chunks(3)
                    .map(|range| match range {
                        [low, b'-', high] => (*low, *high),
                        _ => panic!("unsupported class in {pattern}"),
                    })
                    .collect();
                rest = rest[end + 1..].strip_prefix(b"{").expect("a class is repeated");
                let end = rest.iter().position(|&b| b == b'}').expect("closed count");
                let count = std::str::from_utf8(&rest[..end])
                    .ok()
                    .and_then(|n| n.parse().ok())
                    .expect("a numeric count");
                rest = &rest[end + 1..];
                pieces.push(Piece::Repeat { class, count });
            }
            b'.' | b'*' | b'+' | b'?' | b'|' | b')' | b']' | b'{' | b'}' | b'^' | b'$' => {
                panic!("unsupported `{}` in {pattern}", char::from(first))
            }
            literal => pieces.push(Piece::Literal(literal)),
        }
    }
    pieces
}

fn is_word(byte: Option<&u8>) -> bool {
    byte.is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

/// Where a match of `pieces` starting at `at` ends, trying each alternative in turn.
fn match_at(pieces: &[Piece], text: &[u8], at: usize) -> Option<usize> {
    let Some((piece, rest)) = pieces.split_first() else {
        return Some(at);
    };
    match piece {
        Piece::WordBoundary => {
            let before = at.checked_sub(1).and_then(|i| text.get(i));
            if is_word(before) == is_word(text.get(at)) {
                return None;
            }
            match_at(rest, text, at)
        }
        Piece::Literal(byte) => {
            if text.get(at) != Some(byte) {
                return None;
            }
            match_at(rest, text, at + 1)
        }
        Piece::Either(options) => options
            .iter()
            .filter(|option| text[at..].starts_with(option.as_bytes()))
            .find_map(|option| match_at(rest, text, at + option.len())),
        Piece::Repeat { class, count } => {
            let run = text.get(at..at + count)?;
            let in_class = |b: &u8| class.iter().any(|&(low, high)| (low..=high).contains(b));
            if !run.iter().all(in_class) {
                return None;
            }
            match_at(rest, text, at + count)
        }
    }
}

/// Every match of `pattern` in `text`, as byte ranges.
fn find_all(pattern: &str, text: &str) -> Vec<Range<usize>> {
    let pieces = compile(pattern);
    (0..=text.len())
        .filter_map(|start| match_at(&pieces, text.as_bytes(), start).map(|end| start..end))
        .collect()
}

#[test]
fn scan_patterns_find_minted_tokens() {
    assert_eq!(
        seed("adtarget").format.scan_pattern(),
        r"\batk_(live|test)_[0-9a-z]{8}_[0-9a-z]{32}\b"
    );
    assert_eq!(
        TokenFormat::default().scan_pattern(),
        r"\bkw_(live|test)_[0-9A-Za-z]{8}_[0-9A-Za-z]{32}[0-9A-Za-z]{6}\b"
    );
    for Seed { name, format, .. } in SEEDS.iter() {
        let pattern = format.scan_pattern();
        for environment in ENVIRONMENTS {
            for kind in KINDS {
                let token = format.mint(environment, kind);
                let token = token.expose();
                let leaked = format!("export API_KEY=\"{token}\"\n");
                let start = leaked.find(token).expect("the token is in the text");
                assert_eq!(
                    find_all(&pattern, &leaked),
                    vec![start..start + token.len()],
                    "{name}: {pattern} finds the token, and only it"
                );
                let broken = replaced(token, token.len() - 3..token.len() - 2, "-");
                assert!(find_all(&pattern, &broken).is_empty(), "{name}: a broken token");
                let glued = format!("x{token}");
                assert!(find_all(&pattern, &glued).is_empty(), "{name}: no word boundary");
            }
        }
        for Seed {
            name: other,
            format: other_format,
            ..
        } in SEEDS.iter()
        {
            let token = other_format.mint(Environment::Live, KeyKind::Secret);
            let found = !find_all(&pattern, token.expose()).is_empty();
            let parses = format.parse(token.expose()).is_ok();
            assert_eq!(found, parses, "{name}'s pattern on a {other} token");
        }
    }
}

#[test]
fn a_thousand_tokens_are_distinct_and_use_the_whole_alphabet() {
    for Seed {
        name,
        format,
        alphabet,
        ..
    } in SEEDS.iter()
    {
        let tokens: Vec<_> = (0..1000)
            .map(|_| format.mint(Environment::Live, KeyKind::Secret))
            .collect();
        let distinct: HashSet<&str> = tokens.iter().map(|t| t.expose()).collect();
        assert_eq!(distinct.len(), 1000, "{name}: tokens repeat");
        let secrets: HashSet<&str> = tokens.iter().map(seeds::secret_part).collect();
        assert_eq!(secrets.len(), 1000, "{name}: secrets repeat");
        // About 500 draws of each character: one never drawn means a skewed or truncated alphabet.
        let drawn: HashSet<u8> = secrets.iter().flat_map(|s| s.bytes()).collect();
        let expected: HashSet<u8> = alphabet.chars().iter().copied().collect();
        assert_eq!(
            drawn, expected,
            "{name}: the characters drawn are not the alphabet"
        );
    }
}
