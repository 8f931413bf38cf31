-- Credits: a usage budget per key lineage (a key and its successors by rotation share one), spent
-- by one conditional UPDATE a request. A lineage without a row is not counted. Times are unix
-- milliseconds; a refill raises `remaining` to `refill_amount` every `refill_every` milliseconds
-- counted from `refilled_at` (both null: no refill).
CREATE TABLE keyward_credits (
    lineage       TEXT   NOT NULL PRIMARY KEY,
    remaining     BIGINT NOT NULL CHECK (remaining >= 0),
    refill_amount BIGINT CHECK (refill_amount > 0),
    refill_every  BIGINT CHECK (refill_every > 0),
    refilled_at   BIGINT NOT NULL,
    CHECK ((refill_amount IS NULL) = (refill_every IS NULL))
);
