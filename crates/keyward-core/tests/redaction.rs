//! No secret leaves through `Debug`, `Display`, an error message or a log line: for a token of
//! every format, neither the secret part (nor any 12-character piece of it) nor the stored hex hash
//! (nor any 16-character piece of it) may appear.

mod secrets;
mod seeds;

use std::fmt::{self, Write as _};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use keyward_core::hash::Hasher;
use keyward_core::time::{ManualClock, Timestamp};
use keyward_core::token::{PlaintextToken, TokenFormat};
use keyward_core::{
    Environment, Expiry, KeyKind, KeyManager, MemoryStore, NewKey, Rotation, TenantId, VerifyError,
};
use secrets::Secrets;
use tracing::field::{Field, Visit};
use tracing::{Event, Metadata, Subscriber, span};

#[test]
#[should_panic(expected = "shows part of the secret")]
fn the_check_catches_a_piece_of_the_secret() {
    let token = TokenFormat::default().mint(Environment::Live, KeyKind::Secret);
    let secrets = Secrets::of(&token, &Hasher::sha256());
    let piece = &seeds::secret_part(&token)[5..17];
    secrets.assert_hidden_in("a leaky message", &format!("token ends …{piece}…"));
}

#[test]
#[should_panic(expected = "shows part of the hash")]
fn the_check_catches_a_piece_of_the_hash() {
    let token = TokenFormat::default().mint(Environment::Live, KeyKind::Secret);
    let secrets = Secrets::of(&token, &Hasher::sha256());
    let piece = &secrets.hash_hex()[40..56];
    secrets.assert_hidden_in("a leaky message", &format!("hash {piece}"));
}

fn manager(format: TokenFormat, clock: &ManualClock, hasher: Hasher) -> KeyManager {
    KeyManager::builder(MemoryStore::new())
        .format(format)
        .hasher(hasher)
        .clock(clock.clone())
        .rotation(Rotation::Grace(Duration::from_secs(60)))
        .build()
        .expect("a valid configuration")
}

#[test]
fn plaintext_and_parsed_tokens_show_only_their_head() {
    for seeds::Seed { name, format, .. } in seeds::all() {
        for environment in seeds::ENVIRONMENTS {
            for kind in seeds::KINDS {
                let token = format.mint(environment, kind);
                let secrets = Secrets::of(&token, &Hasher::sha256());
                let debug = format!("{token:?}");
                let display = token.to_string();
                secrets.assert_hidden_in(&format!("{name}: PlaintextToken Debug"), &debug);
                secrets.assert_hidden_in(&format!("{name}: PlaintextToken Display"), &display);
                assert_eq!(
                    display,
                    format!("{}…", token.redacted()),
                    "{name}: Display is the head"
                );
                assert!(
                    debug.contains(token.redacted()),
                    "{name}: Debug names the head: {debug}"
                );

                let parsed = format.parse(token.expose()).expect("a minted token parses");
                secrets.assert_hidden_in(&format!("{name}: ParsedToken Debug"), &format!("{parsed:?}"));
            }
        }
    }
}

#[test]
fn secret_hash_debug_is_the_fingerprint() {
    for hasher in [Hasher::sha256(), Hasher::hmac_sha256(b"pepper".to_vec())] {
        let token = TokenFormat::default().mint(Environment::Live, KeyKind::Secret);
        let hash = hasher.hash(token.expose());
        let debug = format!("{hash:?}");
        Secrets::of(&token, &hasher).assert_hidden_in("SecretHash Debug", &debug);
        assert_eq!(debug, format!("SecretHash({})", hash.fingerprint()));
    }
}

#[tokio::test]
async fn records_and_created_keys_show_no_secret() {
    for seeds::Seed { name, format, .. } in seeds::all() {
        let clock = ManualClock::new(Timestamp::from_millis(0));
        let hasher = Hasher::sha256();
        let manager = manager(format, &clock, hasher.clone());
        let created = manager
            .create(NewKey::new(TenantId::new("t").expect("valid")).kind(KeyKind::Publishable))
            .await
            .expect("created");
        let secrets = Secrets::of(&created.token, &hasher);
        secrets.assert_hidden_in(&format!("{name}: CreatedKey Debug"), &format!("{created:?}"));
        secrets.assert_hidden_in(&format!("{name}: ApiKey Debug"), &format!("{:?}", created.key));
        let verified = manager.verify(created.token.expose()).await.expect("verifies");
        secrets.assert_hidden_in(
            &format!("{name}: verified ApiKey Debug"),
            &format!("{verified:?}"),
        );
        let presented = manager.present(created.token.expose()).expect("well formed");
        secrets.assert_hidden_in(&format!("{name}: Presented Debug"), &format!("{presented:?}"));
        secrets.assert_hidden_in(
            &format!("{name}: LookupKey Debug"),
            &format!("{:?}", created.key.lookup),
        );
    }
}

/// Bad variants of `token` for the rules a parser checks, each carrying most of the secret.
fn damaged(token: &PlaintextToken, format: &TokenFormat) -> Vec<String> {
    let text = token.expose();
    let last = text.len() - 1;
    // The two characters after the namespace: the environment or kind segment, or the secret.
    let segment = format.namespace().len() + 1;
    let mut damaged = vec![
        format!("{text}x"),
        text[..last].to_owned(),
        format!("X{}", &text[1..]),
        format!("{}-", &text[..last]),
        format!("{}--{}", &text[..segment], &text[segment + 2..]),
    ];
    if format.has_prefix() {
        let separator = token.redacted().len() - 1;
        damaged.push(format!("{}x{}", &text[..separator], &text[separator + 1..]));
    }
    damaged
}

#[tokio::test]
async fn verify_and_token_errors_show_no_secret() {
    for seeds::Seed { name, format, .. } in seeds::all() {
        let clock = ManualClock::new(Timestamp::from_millis(0));
        let hasher = Hasher::sha256();
        let manager = manager(format.clone(), &clock, hasher.clone());
        let t = TenantId::new("t").expect("valid");
        let create = |expiry| manager.create(NewKey::new(t.clone()).expires(expiry));

        let never_issued = format.mint(Environment::Live, KeyKind::Secret);
        let unknown = manager.verify(never_issued.expose()).await;
        let secrets = Secrets::of(&never_issued, &hasher);
        let error = unknown.expect_err("never issued");
        secrets.assert_hidden_in_error(&format!("{name}: {}", error.reason()), &error);

        for input in damaged(&never_issued, &format) {
            let token_error = format.parse(&input).expect_err("damaged");
            secrets.assert_hidden_in_error(&format!("{name}: TokenError {token_error:?}"), &token_error);
            let error = manager.verify(&input).await.expect_err("damaged");
            assert!(matches!(error, VerifyError::Malformed(_)), "{name}: {error:?}");
            secrets.assert_hidden_in_error(&format!("{name}: {error:?}"), &error);
        }

        let revoked = create(Expiry::Never).await.expect("created");
        manager.revoke(&t, &revoked.key.id).await.expect("revoked");
        let expired = create(Expiry::In(Duration::from_secs(60)))
            .await
            .expect("created");
        let rotated = create(Expiry::Never).await.expect("created");
        manager.rotate(&t, &rotated.key.id).await.expect("rotated");
        clock.advance(Duration::from_secs(60));
        for (created, reason) in [
            (&revoked, "revoked"),
            (&expired, "expired"),
            (&rotated, "grace_over"),
        ] {
            let error = manager.verify(created.token.expose()).await.expect_err("refused");
            assert_eq!(error.reason(), reason, "{name}");
            Secrets::of(&created.token, &hasher).assert_hidden_in_error(&format!("{name}: {reason}"), &error);
        }
    }
}

#[test]
fn a_peppered_manager_does_not_show_its_pepper() {
    let pepper = "pepper-do-not-print-7f3a";
    let manager = manager(
        TokenFormat::default(),
        &ManualClock::new(Timestamp::from_millis(0)),
        Hasher::hmac_sha256(pepper.as_bytes().to_vec()),
    );
    let debug = format!("{manager:?}");
    assert!(!debug.contains(pepper), "{debug}");
    assert!(debug.contains("hmac-sha256"), "the algorithm is named: {debug}");
}

/// Records every field of every event and span into one string.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<String>>);

impl Recorder {
    fn text(&self) -> String {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn append(&self, target: &str, record: impl FnOnce(&mut dyn Visit)) {
        let mut log = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = write!(log, "{target}:");
        record(&mut Fields(&mut log));
        log.push('\n');
    }
}

struct Fields<'a>(&'a mut String);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let _ = write!(self.0, " {}={value:?}", field.name());
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &span::Attributes<'_>) -> span::Id {
        self.append(span.metadata().target(), |visit| span.record(visit));
        span::Id::from_u64(1)
    }

    fn record(&self, _: &span::Id, values: &span::Record<'_>) {
        self.append("span", |visit| values.record(visit));
    }

    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}

    fn event(&self, event: &Event<'_>) {
        self.append(event.metadata().target(), |visit| event.record(visit));
    }

    fn enter(&self, _: &span::Id) {}

    fn exit(&self, _: &span::Id) {}
}

#[tokio::test]
async fn lifecycle_logs_name_keys_by_fingerprint_only() {
    let recorder = Recorder::default();
    let _guard = tracing::subscriber::set_default(recorder.clone());
    for seeds::Seed { name, format, .. } in seeds::all() {
        let hasher = Hasher::sha256();
        let manager = manager(
            format,
            &ManualClock::new(Timestamp::from_millis(0)),
            hasher.clone(),
        );
        let t = TenantId::new("t").expect("valid");
        let first = manager.create(NewKey::new(t.clone())).await.expect("created");
        let second = manager.rotate(&t, &first.key.id).await.expect("rotated");
        manager.verify(second.token.expose()).await.expect("verifies");
        manager.revoke(&t, &second.key.id).await.expect("revoked");
        let _ = manager.verify(second.token.expose()).await;

        let log = recorder.text();
        assert!(
            log.contains(&first.key.fingerprint().to_string()),
            "{name}: the log names the key: {log}"
        );
        for created in [&first, &second] {
            Secrets::of(&created.token, &hasher).assert_hidden_in(&format!("{name}: the log"), &log);
        }
    }
}
