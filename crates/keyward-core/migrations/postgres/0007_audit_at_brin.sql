-- Every request appends an audit event, so every index on the audit table is paid on every request.
-- Only retention reads events by `at` alone, and `at` only grows as events are appended, so a BRIN
-- index serves it (a few pages for the whole table, and an append that lands in the newest block
-- range changes nothing) where a B-tree took an entry per event.
DROP INDEX IF EXISTS keyward_audit_at;
CREATE INDEX keyward_audit_at ON keyward_audit USING brin (at);
