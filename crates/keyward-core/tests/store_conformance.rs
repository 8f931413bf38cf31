//! One conformance suite for every key store: the same cases against the memory store, SQLite (a
//! temporary file) and PostgreSQL (a fresh schema on the server at `KEYWARD_TEST_POSTGRES_URL`;
//! start it with `scripts/test-servers start` and `eval "$(scripts/test-servers env)"`), then
//! what only the SQL stores promise: durability, limits across pools, cross-process
//! notifications and outages.

mod conformance;

/// Runs every case of [`conformance::cases`] against the backend `$backend`, one test each.
macro_rules! suite {
    ($backend:ident) => {
        suite!(@cases $backend:
            lifecycle,
            hash_lookup,
            grace_rotation,
            immediate_rotation,
            two_step_rotation,
            rotation_refusals,
            expiry,
            max_active_keys_under_concurrency,
            rotate_and_revoke_race,
            lineage_is_shared_by_successors,
            last_used_batches_fold,
            audit_log_order_and_tenant_filter,
            audit_log_filters,
            audit_large_batch,
            audit_prune,
            audit_prune_in_batches,
            tenant_isolation,
            duplicate_lookup,
            change_feed,
        );
    };
    (@cases $backend:ident: $($case:ident),* $(,)?) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let harness = crate::conformance::harness::Harness::$backend().await;
                    crate::conformance::cases::$case(&harness).await;
                    harness.finish().await;
                }
            )*

            mod credits {
                credit_cases!($backend:
                    credits_spend_and_refuse,
                    credits_refill,
                    credits_updates,
                    credits_under_concurrency,
                );
            }

            mod keyspaces {
                keyspace_cases!($backend:
                    declaring_a_keyspace,
                    opening_a_keyspace,
                    keys_live_in_their_keyspace,
                    policy_changes_reach_declared_managers,
                );
            }
        }
    };
}

/// Runs the cases of [`conformance::keyspaces`] against `$backend`.
macro_rules! keyspace_cases {
    ($backend:ident: $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let harness = crate::conformance::harness::Harness::$backend().await;
                crate::conformance::keyspaces::$case(&harness).await;
                harness.finish().await;
            }
        )*
    };
}

/// Runs the cases of [`conformance::credits`] against `$backend`.
macro_rules! credit_cases {
    ($backend:ident: $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let harness = crate::conformance::harness::Harness::$backend().await;
                crate::conformance::credits::$case(&harness).await;
                harness.finish().await;
            }
        )*
    };
}

suite!(memory);
#[cfg(feature = "sqlite")]
suite!(sqlite);
#[cfg(feature = "postgres")]
suite!(postgres);
