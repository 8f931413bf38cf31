//! [`TestKeys`]: a key manager over a memory store on a manual clock.

use std::sync::Arc;

use keyward_core::manager::KeyManagerBuilder;
use keyward_core::time::{ManualClock, Timestamp};
use keyward_core::{CreatedKey, KeyManager, KeyStore, MemoryStore, NewKey, TenantId};
use keyward_tower::ApiKeyLayer;

/// Keys for tests: a [`KeyManager`] over a [`MemoryStore`], on a [`ManualClock`] that starts at
/// [`TestKeys::START`] and moves only when the test moves it.
///
/// Cheap to clone; clones share the store and the clock.
#[derive(Clone, Debug)]
pub struct TestKeys {
    manager: KeyManager,
    clock: ManualClock,
}

impl Default for TestKeys {
    fn default() -> Self {
        Self::new()
    }
}

impl TestKeys {
    /// Where the clock starts: 2026-01-01T00:00:00Z.
    pub const START: Timestamp = Timestamp::from_millis(1_767_225_600_000);

    /// Keys with keyward's default format and policy.
    pub fn new() -> Self {
        Self::with(|builder| builder)
    }

    /// Keys with the format and policy `configure` sets on the builder (the app's own: the same
    /// `format`, `default_scopes`, `max_active_keys`, `rotation` it declares), on the test clock.
    ///
    /// # Panics
    ///
    /// When the configuration is invalid, as [`KeyManagerBuilder::build`] says.
    pub fn with(configure: impl FnOnce(KeyManagerBuilder) -> KeyManagerBuilder) -> Self {
        let clock = ManualClock::new(Self::START);
        let store: Arc<dyn KeyStore> = Arc::new(MemoryStore::new());
        let manager = configure(KeyManager::builder_shared(store))
            .clock(clock.clone())
            .build()
            .expect("a valid key manager configuration");
        Self { manager, clock }
    }

    /// The manager: create, rotate, revoke and list keys as the app's dashboard would.
    pub fn manager(&self) -> &KeyManager {
        &self.manager
    }

    /// The clock every key time is read from: [`ManualClock::advance`] moves it.
    pub fn clock(&self) -> &ManualClock {
        &self.clock
    }

    /// A default layer over the manager, to put in front of the routes under test. For another
    /// configuration, use `ApiKeyLayer::builder(keys.manager().clone())`.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime (the layer's usage and audit writer is spawned on it).
    pub fn layer(&self) -> ApiKeyLayer {
        ApiKeyLayer::new(self.manager.clone())
    }

    /// A new key of `tenant` with the policy's defaults; its token.
    ///
    /// # Panics
    ///
    /// When `tenant` is not a valid tenant id or the manager refuses the key (a key limit).
    pub async fn mint(&self, tenant: &str) -> String {
        let tenant = TenantId::new(tenant).expect("a valid tenant id");
        self.mint_with(NewKey::new(tenant))
            .await
            .token
            .expose()
            .to_owned()
    }

    /// A new key as `new` describes it (scopes, kind, tier, expiry), with its record and token.
    ///
    /// # Panics
    ///
    /// When the manager refuses the key.
    pub async fn mint_with(&self, new: NewKey) -> CreatedKey {
        self.manager.create(new).await.expect("the key is created")
    }
}
