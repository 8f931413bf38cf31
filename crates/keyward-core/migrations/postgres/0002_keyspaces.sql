-- Keyspaces: named policies (token format and lifecycle rules) that every process on the store
-- applies; keys record theirs. Keys stored before keyspaces belong to `default`. Changes reach
-- other processes through NOTIFY, as key changes do.
CREATE TABLE keyward_keyspaces (
    name       TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    -- {"version":1,"format":{…},"policy":{…}}
    document   TEXT   NOT NULL,
    updated_at BIGINT NOT NULL
);

ALTER TABLE keyward_keys ADD COLUMN keyspace TEXT COLLATE "C" NOT NULL DEFAULT 'default';

CREATE INDEX keyward_keys_keyspace_tenant ON keyward_keys (keyspace, tenant);
