-- Keyspaces: named policies (token format and lifecycle rules) that every process on the store
-- applies; keys record theirs. Keys stored before keyspaces belong to `default`.
CREATE TABLE keyward_keyspaces (
    name       TEXT   NOT NULL PRIMARY KEY,
    -- {"version":1,"format":{…},"policy":{…}}
    document   TEXT   NOT NULL,
    updated_at BIGINT NOT NULL
);

ALTER TABLE keyward_keys ADD COLUMN keyspace TEXT NOT NULL DEFAULT 'default';

CREATE INDEX keyward_keys_keyspace_tenant ON keyward_keys (keyspace, tenant);

-- What every process on this file must hear of: revocations, rotations and policy changes, as
-- `<key id> <lookup>` or `keyspace <name>`. Each process reads the rows after the last it saw, a
-- few times a second; rows older than an hour are deleted.
CREATE TABLE keyward_changes (
    seq    INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    at     BIGINT  NOT NULL,
    change TEXT    NOT NULL
);
