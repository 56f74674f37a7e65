-- The system's own end state of a recommendation (PHASE3 §3): its finding went away (absent from
-- two evaluations in a row) or its resource was deleted. A migration of its own, because a new
-- enum value may only be used once the transaction that added it has committed.

ALTER TYPE recommendation_status ADD VALUE IF NOT EXISTS 'resolved';
