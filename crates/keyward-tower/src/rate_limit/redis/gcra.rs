//! The atomic GCRA script: the budgets' keys, one call for a batch of checks, and its replies
//! read as [`RateDecision`]s.
//!
//! The numbers follow [`InProcessLimiter`](crate::rate_limit::InProcessLimiter) (governor's GCRA):
//! a whole budget is `limit` units, one unit comes back every `period / limit`.

use std::fmt;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use keyward_core::KeyId;
use redis::aio::ConnectionManager;
use redis::{ErrorKind, RedisResult, RedisWrite, Script, ServerErrorKind, ToRedisArgs};

use crate::rate_limit::{Quota, RateDecision, RateKey};

/// Bytes a check adds to the command, about: its key and a number.
const BYTES_PER_CHECK: usize = 80;
/// Most distinct quotas one batch can carry: a check's quota is its packed number modulo this
/// (see `gcra.lua`).
pub(super) const QUOTA_SLOTS: u64 = 1024;

/// The script, run with EVALSHA (and loaded again when Redis answers NOSCRIPT).
pub(super) struct Gcra {
    script: Script,
}

impl Gcra {
    pub(super) fn new() -> Self {
        Self {
            script: Script::new(include_str!("gcra.lua")),
        }
    }

    /// Loads the script, so that the first check is a single EVALSHA.
    pub(super) async fn load(&self, conn: &mut ConnectionManager) -> RedisResult<()> {
        self.script.prepare_invoke().load_async(conn).await.map(drop)
    }

    /// Decides `checks` in one EVALSHA, in their order: each spends its cost from the budget at
    /// its key, or is refused without spending. A cost is at most its quota's limit (see
    /// [`over_budget`]). When Redis has lost the script (a restart, `SCRIPT FLUSH`), it is
    /// loaded again and the batch sent once more.
    pub(super) async fn spend(
        &self,
        conn: &mut ConnectionManager,
        checks: &[Spend],
    ) -> RedisResult<Vec<Decided>> {
        let (evalsha, leases) = self.evalsha(checks);
        let replies: Vec<i64> = match evalsha.query_async(conn).await {
            Err(error) if error.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                self.load(conn).await?;
                evalsha.query_async(conn).await?
            }
            replies => replies?,
        };
        if replies.len() != checks.len() {
            return Err(redis::RedisError::from((
                redis::ErrorKind::UnexpectedReturnType,
                "the rate-limit script answered a different number of checks",
            )));
        }
        Ok(checks
            .iter()
            .zip(leases)
            .zip(replies)
            .map(|((check, lease), reply)| Decided::of(check, lease, Reply::read(reply)))
            .collect())
    }

    /// `EVALSHA sha n key… Q (interval limit lease)… packed…`: the batch's distinct quotas once
    /// each, then each check's cost, whether it asks for its quota's lease, and its quota in one
    /// number (see `gcra.lua`). Every argument is written into the command's one buffer (a
    /// script invocation would allocate each on its own, then copy them). With it, the lease
    /// each asking check takes when granted: its quota's, the largest its checks ask for (limiter
    /// clones may take leases of different shares).
    fn evalsha(&self, checks: &[Spend]) -> (redis::Cmd, Vec<u32>) {
        // (quota, its lease: the units its checks that ask for one ask for)
        let mut quotas: Vec<(Quota, u32)> = Vec::with_capacity(1);
        let packed: Vec<u64> = checks
            .iter()
            .map(|check| {
                let slot = match quotas.iter().position(|&(quota, _)| quota == check.quota) {
                    Some(slot) => slot,
                    None => {
                        quotas.push((check.quota, 0));
                        quotas.len() - 1
                    }
                };
                quotas[slot].1 = quotas[slot].1.max(check.lease);
                let asks = u64::from(check.lease > 0);
                (u64::from(check.cost.get()) * 2 + asks) * QUOTA_SLOTS + slot as u64
            })
            .collect();
        let mut evalsha = redis::Cmd::with_capacity(
            4 + 3 * quotas.len() + 2 * checks.len(),
            64 + BYTES_PER_CHECK * checks.len(),
        );
        evalsha
            .arg("EVALSHA")
            .arg(self.script.get_hash())
            .arg(checks.len());
        for check in checks {
            evalsha.arg(check);
        }
        evalsha.arg(quotas.len());
        for (quota, lease) in &quotas {
            evalsha.arg(interval_micros(*quota)).arg(quota.limit()).arg(lease);
        }
        for packed in packed {
            evalsha.arg(packed);
        }
        let leases = checks
            .iter()
            .map(|check| match check.lease {
                0 => 0,
                _ => quotas
                    .iter()
                    .find(|(quota, _)| *quota == check.quota)
                    .map_or(check.lease, |&(_, lease)| lease),
            })
            .collect();
        (evalsha, leases)
    }
}

/// One check of a batch: whose budget, under which quota, the units to spend, and the units it
/// asks to take beyond them as a lease (none: 0). Written as a command argument, it is the
/// budget's Redis key: `keyward:rl:{lineage}:{limit}:{period_ms}`, and for a client's budget
/// `keyward:rl:{lineage}/{client}:{limit}:{period_ms}` (a lineage id has no `/`).
pub(super) struct Spend {
    lineage: KeyId,
    client: Option<IpAddr>,
    quota: Quota,
    cost: NonZeroU32,
    lease: u32,
}

impl Spend {
    /// A check spending `cost`; with a `lease` (units, 0 for none, `cost + lease` at most the
    /// quota's limit), it also takes the lease when the budget has both.
    pub(super) fn new(key: RateKey<'_>, quota: Quota, cost: NonZeroU32, lease: u32) -> Self {
        debug_assert!(lease == 0 || u64::from(cost.get()) + u64::from(lease) <= u64::from(quota.limit()));
        Self {
            lineage: key.lineage().clone(),
            client: key.client(),
            quota,
            cost,
            lease,
        }
    }
}

/// Redis's answer to one check: the decision, and the lease taken with it (units, 0 for none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Decided {
    pub(super) decision: RateDecision,
    pub(super) leased: u32,
}

impl Decided {
    /// The reply to `check`, which took `lease` units when its lease was granted.
    fn of(check: &Spend, lease: u32, reply: Reply) -> Self {
        let leased = match reply {
            Reply::Allowed { leased: true, .. } => lease,
            _ => 0,
        };
        Self {
            decision: decision(check.quota, reply),
            leased,
        }
    }
}

impl fmt::Display for Spend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (limit, period) = (self.quota.limit(), self.quota.period().as_millis());
        match self.client {
            None => write!(f, "keyward:rl:{}:{limit}:{period}", self.lineage),
            Some(client) => write!(f, "keyward:rl:{}/{client}:{limit}:{period}", self.lineage),
        }
    }
}

impl ToRedisArgs for &Spend {
    fn write_redis_args<W>(&self, out: &mut W)
    where
        W: ?Sized + RedisWrite,
    {
        out.write_arg_fmt(self);
    }
}

/// The decision for a cost above the whole budget: it can never pass, so Redis is not asked.
pub(super) fn over_budget(quota: Quota) -> RateDecision {
    RateDecision::refused(quota, quota.period())
}

/// The emission interval in whole microseconds (at least one), as the script counts.
fn interval_micros(quota: Quota) -> u64 {
    u64::try_from(quota.interval().as_micros())
        .unwrap_or(u64::MAX)
        .max(1)
}

/// What the script answered for one check, in microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reply {
    /// Spent: the time until the budget is whole again, and whether the check's lease was spent
    /// too.
    Allowed { until_whole: u64, leased: bool },
    /// Refused, nothing spent: the time until the cost is available.
    Refused { retry_after: u64 },
}

impl Reply {
    /// The script's number: positive when allowed (twice the time, plus one with the lease),
    /// negative when refused (never zero).
    fn read(reply: i64) -> Self {
        if reply >= 0 {
            Self::Allowed {
                until_whole: reply.unsigned_abs() / 2,
                leased: reply & 1 == 1,
            }
        } else {
            Self::Refused {
                retry_after: reply.unsigned_abs(),
            }
        }
    }
}

/// The script's reply as the numbers [`InProcessLimiter`](crate::rate_limit::InProcessLimiter)
/// gives for the same state.
fn decision(quota: Quota, reply: Reply) -> RateDecision {
    let until_whole = match reply {
        Reply::Allowed { until_whole, .. } => until_whole,
        Reply::Refused { retry_after } => {
            return RateDecision::refused(quota, Duration::from_micros(retry_after));
        }
    };
    let limit = quota.limit();
    let interval = interval_micros(quota);
    let whole = interval.saturating_mul(u64::from(limit));
    let remaining = u32::try_from(whole.saturating_sub(until_whole) / interval).unwrap_or(limit);
    RateDecision::allowed(quota, remaining)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);
    const SECOND_US: u64 = 1_000_000;

    /// The script's number for an allowed check, without a lease.
    fn allowed(until_whole: u64) -> i64 {
        i64::try_from(until_whole * 2).expect("a small time")
    }

    #[test]
    fn replies_read_as_the_in_process_numbers() {
        let quota = Quota::per_minute(60);
        // (what the case checks, reply, remaining, reset, retry_after)
        let cases = [
            (
                "first unit of a whole budget",
                allowed(SECOND_US),
                59,
                Duration::from_secs(1),
                Duration::ZERO,
            ),
            (
                "three units at once",
                allowed(3 * SECOND_US),
                57,
                Duration::from_secs(3),
                Duration::ZERO,
            ),
            (
                "part of a unit came back: not a whole unit yet",
                allowed(3 * SECOND_US - 1),
                57,
                Duration::from_secs(3),
                Duration::ZERO,
            ),
            (
                "the last unit",
                allowed(60 * SECOND_US),
                0,
                MINUTE,
                Duration::ZERO,
            ),
            (
                "refused: nothing left until the cost is back",
                -400_000,
                0,
                MINUTE,
                Duration::from_millis(400),
            ),
        ];
        for (case, reply, remaining, reset, retry_after) in cases {
            let decision = decision(quota, Reply::read(reply));
            assert_eq!(decision.allowed, reply > 0, "{case}");
            assert_eq!(decision.limit, 60, "{case}");
            assert_eq!(decision.remaining, remaining, "{case}");
            assert_eq!(decision.reset, reset, "{case}");
            assert_eq!(decision.retry_after, retry_after, "{case}");
            assert_eq!(decision.window, MINUTE, "{case}");
        }
    }

    #[test]
    fn a_reply_tells_whether_the_lease_was_taken() {
        let quota = Quota::per_minute(60);
        let lineage: KeyId = "key_abc123".parse().unwrap();
        let asking = Spend::new(RateKey::per_key(&lineage), quota, NonZeroU32::MIN, 5);
        // One unit and the lease of five spent from a whole budget: six seconds until whole.
        let taken = Decided::of(&asking, 5, Reply::read(allowed(6 * SECOND_US) + 1));
        assert_eq!(taken.leased, 5);
        assert_eq!(taken.decision.remaining, 54, "the lease is spent in Redis");
        // The budget had the unit but not the lease too: the unit alone was spent.
        let alone = Decided::of(&asking, 5, Reply::read(allowed(60 * SECOND_US)));
        assert_eq!(
            (alone.leased, alone.decision.allowed, alone.decision.remaining),
            (0, true, 0)
        );
        let refused = Decided::of(&asking, 5, Reply::read(-1_000_000));
        assert_eq!((refused.leased, refused.decision.allowed), (0, false));
    }

    #[test]
    fn a_cost_above_the_budget_waits_a_whole_period() {
        let decision = over_budget(Quota::per_minute(2));
        assert!(!decision.allowed);
        assert_eq!(decision.remaining, 0);
        assert_eq!(decision.retry_after, MINUTE);
        assert_eq!(decision.reset, MINUTE);
    }

    #[test]
    fn keys_name_lineage_client_limit_and_period() {
        let lineage: keyward_core::KeyId = "key_abc123".parse().unwrap();
        // (budget, quota, Redis key)
        let cases = [
            (
                RateKey::per_key(&lineage),
                Quota::per_hour(600),
                "keyward:rl:key_abc123:600:3600000",
            ),
            (
                RateKey::per_key(&lineage),
                Quota::new(5, Duration::from_millis(1500)),
                "keyward:rl:key_abc123:5:1500",
            ),
            (
                RateKey::per_client(&lineage, "192.0.2.7".parse().unwrap()),
                Quota::per_minute(60),
                "keyward:rl:key_abc123/192.0.2.7:60:60000",
            ),
            (
                RateKey::per_client(&lineage, "2001:db8:1:2::99".parse().unwrap()),
                Quota::per_minute(60),
                "keyward:rl:key_abc123/2001:db8:1:2:::60:60000",
            ),
        ];
        for (budget, quota, expected) in cases {
            let spend = Spend::new(budget, quota, NonZeroU32::MIN, 0);
            assert_eq!(spend.to_string(), expected);
            let mut written = redis::cmd("GET");
            written.arg(&spend);
            assert_eq!(
                written.args_iter().nth(1),
                Some(redis::Arg::Simple(expected.as_bytes()))
            );
        }
    }

    #[test]
    fn a_batch_names_each_quota_once_and_packs_cost_lease_and_quota() {
        let (a, b): (KeyId, KeyId) = ("key_a".parse().unwrap(), "key_b".parse().unwrap());
        let (hour, second) = (Quota::per_hour(600), Quota::per_second(3));
        let units = |n| NonZeroU32::new(n).unwrap();
        let checks = [
            Spend::new(RateKey::per_key(&a), hour, units(1), 0),
            Spend::new(RateKey::per_key(&b), second, units(2), 0),
            Spend::new(RateKey::per_key(&a), hour, units(5), 6),
        ];
        let gcra = Gcra::new();
        let (evalsha, leases) = gcra.evalsha(&checks);
        assert_eq!(leases, [0, 0, 6], "what each check takes when granted");
        let args: Vec<String> = evalsha
            .args_iter()
            .map(|arg| match arg {
                redis::Arg::Simple(bytes) => String::from_utf8(bytes.to_vec()).unwrap(),
                other => panic!("a plain argument: {other:?}"),
            })
            .collect();
        let expected = [
            "EVALSHA",
            gcra.script.get_hash(),
            "3",
            "keyward:rl:key_a:600:3600000",
            "keyward:rl:key_b:3:1000",
            "keyward:rl:key_a:600:3600000",
            "2",
            // each quota's interval, limit and lease
            "6000000",
            "600",
            "6",
            "333333",
            "3",
            "0",
            // (cost * 2 + asks for a lease) * 1024 + the quota's place
            "2048",
            "4097",
            "11264",
        ];
        assert_eq!(args, expected);
    }

    #[test]
    fn checks_asking_leases_of_one_quota_take_the_lease_the_script_spends() {
        let lineage: KeyId = "key_a".parse().unwrap();
        let quota = Quota::per_hour(600);
        // Two limiter clones with leases of 1% and 2% of the same quota, in one batch.
        let checks = [
            Spend::new(RateKey::per_key(&lineage), quota, NonZeroU32::MIN, 6),
            Spend::new(RateKey::per_key(&lineage), quota, NonZeroU32::MIN, 12),
        ];
        let (evalsha, leases) = Gcra::new().evalsha(&checks);
        let lease_arg = evalsha.args_iter().nth(8);
        assert_eq!(
            lease_arg,
            Some(redis::Arg::Simple(&b"12"[..])),
            "the quota's lease"
        );
        assert_eq!(leases, [12, 12], "each granted check holds what Redis spent");
    }

    #[test]
    fn intervals_are_whole_microseconds_and_never_zero() {
        assert_eq!(interval_micros(Quota::per_second(3)), 333_333);
        assert_eq!(interval_micros(Quota::new(10_000, Duration::from_millis(1))), 1);
    }
}
