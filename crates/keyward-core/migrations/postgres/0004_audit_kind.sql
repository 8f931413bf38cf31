-- Audit events of other kinds than a request: `kind` names the event (`request`, `key.leaked`),
-- `detail` holds what else it records, as a JSON object (never a secret).
ALTER TABLE keyward_audit ADD COLUMN kind TEXT NOT NULL DEFAULT 'request';
ALTER TABLE keyward_audit ADD COLUMN detail TEXT;
