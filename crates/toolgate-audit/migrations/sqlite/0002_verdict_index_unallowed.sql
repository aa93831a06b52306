-- Applied migrations are checksummed: never edit this file (see sqlite.rs).
-- The verdict index keeps only the rows that are not allowed; queries add
-- `verdict <> 'allow'` to use it.
DROP INDEX IF EXISTS audit_log_verdict;
CREATE INDEX IF NOT EXISTS audit_log_unallowed ON audit_log (verdict) WHERE verdict <> 'allow';
