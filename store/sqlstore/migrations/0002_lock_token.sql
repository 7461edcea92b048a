-- Fencing tokens (issues 11 and 18): lock_token grows by one every time a
-- node's lock is taken, in the same UPDATE that takes it. A holder's
-- release, its writes under the lock and its check before a BMC mutation
-- are conditional on the token it got, so that a holder whose lock was
-- swept and taken by someone else can no longer act on the node.
ALTER TABLE nodes ADD COLUMN lock_token BIGINT NOT NULL DEFAULT 0;
