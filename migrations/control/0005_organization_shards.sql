-- Each organization's events and deliveries live in one shard of the data plane (migrations/data/,
-- src/db/shards.ts), chosen when the organization is created and never recomputed. Organizations
-- created before shards existed keep theirs where they are: shard 0, the primary database itself.
ALTER TABLE organizations ADD COLUMN shard INTEGER NOT NULL DEFAULT 0;
