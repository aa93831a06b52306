//! The hash chain: linking records as they are appended, and walking a
//! stored chain to find the first record that was edited, inserted or
//! deleted (what that can and cannot detect: [`VerifyReport`]).

use crate::canonical::sha256_of;
use crate::record::{AuditRecord, StoredRecord};

/// The `prev_hash` of the first record: 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// A record's hash: `sha256_hex(prev_hash + "\n" + canonical_json(record
/// with seq))`, the record serialized as in JSON lines (time in RFC 3339
/// with microseconds). `record` must be [normalized](AuditRecord::normalized)
/// for the hash to match what is stored.
pub fn record_hash(prev_hash: &str, seq: i64, record: &AuditRecord) -> String {
    sha256_of(|text| {
        text.push_str(prev_hash);
        text.push('\n');
        record.write_hashed(seq, text);
    })
}

/// The last record of a chain (seq 0 and [`GENESIS_HASH`] when empty).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ChainHead {
    pub(crate) seq: i64,
    pub(crate) hash: String,
}

impl ChainHead {
    pub(crate) fn genesis() -> ChainHead {
        ChainHead {
            seq: 0,
            hash: GENESIS_HASH.to_string(),
        }
    }

    /// Chains one [normalized](AuditRecord::normalize) record after this
    /// head and moves the head to it. The record stays where it is (a sink
    /// binds it from there), so a batch that fails to commit is still whole.
    pub(crate) fn next(&mut self, record: &AuditRecord) -> Link {
        let seq = self.seq + 1;
        let hash = record_hash(&self.hash, seq, record);
        let prev_hash = std::mem::replace(&mut self.hash, hash.clone());
        self.seq = seq;
        Link {
            seq,
            prev_hash,
            hash,
        }
    }

    /// Chains `records` (normalizing them) after this head; returns them as
    /// stored and moves the head to the last one.
    pub(crate) fn link(&mut self, records: Vec<AuditRecord>) -> Vec<StoredRecord> {
        records
            .into_iter()
            .map(|mut record| {
                record.normalize();
                self.next(&record).join(record)
            })
            .collect()
    }
}

/// A record's place in the chain: what [`StoredRecord`] adds to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Link {
    pub(crate) seq: i64,
    pub(crate) prev_hash: String,
    pub(crate) hash: String,
}

impl Link {
    /// The record as stored at this place.
    pub(crate) fn join(self, record: AuditRecord) -> StoredRecord {
        StoredRecord {
            seq: self.seq,
            record,
            prev_hash: self.prev_hash,
            hash: self.hash,
        }
    }
}

/// Joins a committed batch with its links (same order, same length).
pub(crate) fn join_all(records: Vec<AuditRecord>, links: Vec<Link>) -> Vec<StoredRecord> {
    debug_assert_eq!(records.len(), links.len());
    links
        .into_iter()
        .zip(records)
        .map(|(link, record)| link.join(record))
        .collect()
}

/// What walking a chain found.
///
/// Every sink keeps a chain head (the last seq and hash appended), updated
/// in the same transaction as the records. Against it, verify detects:
/// - an edited record whose hash was left alone (`Edited`), including a
///   column no writer could have produced (e.g. a malformed time);
/// - an edited record whose hash was recomputed: the next record no longer
///   follows it (`Broken` at the next record), or, for the last record, its
///   hash differs from the head's (`Edited`);
/// - deleted records, anywhere, the tail included (`Missing`);
/// - inserted, replaced or renumbered records (`Broken`: `seq` is hashed);
/// - records added after the head (`Broken`).
///
/// It cannot detect a consistent rewrite by someone who can write the
/// database: the hashes are unkeyed, so recomputing every hash after a
/// change (or deleting the tail) and updating the head yields a valid
/// chain. Catching that needs a recent head kept elsewhere to compare with;
/// the JSON-lines stream carries every record's hash for that. Spelling
/// changes that keep a JSON column's value (whitespace, key order) are not
/// edits: the hash covers the canonical form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    /// Records checked: all of them, or up to and including the first problem.
    pub records: u64,
    /// The first problem in chain order, if any.
    pub first_problem: Option<ChainProblem>,
}

/// The first thing wrong with a chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChainProblem {
    /// The record's content no longer matches its hash (or, for the last
    /// record, its hash no longer matches the chain head's).
    Edited {
        /// The edited record.
        seq: i64,
    },
    /// The record does not follow the one before it (a record was inserted
    /// before it, or the one before it was replaced): `expected_prev_seq` is
    /// the record it should follow (`None`: the start of the chain).
    Broken {
        /// The record that does not follow.
        seq: i64,
        /// The record before it in the table.
        expected_prev_seq: Option<i64>,
    },
    /// Sequence numbers skip: records `after_seq + 1 .. next_seq` were
    /// deleted. For a truncated tail, `next_seq` is one past the chain head.
    Missing {
        /// The last record present before the gap (0: none).
        after_seq: i64,
        /// The first record present after the gap.
        next_seq: i64,
    },
}

/// Checks records fed in seq order against each other and the head.
#[derive(Debug)]
pub(crate) struct ChainWalker {
    head: ChainHead,
    prev: Option<(i64, String)>,
    records: u64,
    problem: Option<ChainProblem>,
}

impl ChainWalker {
    pub(crate) fn new(head: ChainHead) -> ChainWalker {
        ChainWalker {
            head,
            prev: None,
            records: 0,
            problem: None,
        }
    }

    /// Checks the next record; `false` once a problem is found (stop feeding).
    pub(crate) fn feed(&mut self, r: &StoredRecord) -> bool {
        self.records += 1;
        self.problem = self.check(r);
        self.prev = Some((r.seq, r.hash.clone()));
        self.problem.is_none()
    }

    /// A record whose row could not be read back: an edit, unless its
    /// position already tells of a deletion or insertion.
    pub(crate) fn feed_unreadable(&mut self, seq: i64) -> bool {
        self.records += 1;
        self.problem = Some(
            self.check_position(seq)
                .unwrap_or(ChainProblem::Edited { seq }),
        );
        false
    }

    fn prev_seq(&self) -> Option<i64> {
        self.prev.as_ref().map(|p| p.0)
    }

    /// Checked first so each tampering is named by its cause: a gap or an
    /// insertion before a bad link, a bad link before a bad hash.
    fn check_position(&self, seq: i64) -> Option<ChainProblem> {
        let after = self.prev_seq().unwrap_or(0);
        if seq > self.head.seq || seq <= after {
            return Some(ChainProblem::Broken {
                seq,
                expected_prev_seq: self.prev_seq(),
            });
        }
        (seq != after + 1).then_some(ChainProblem::Missing {
            after_seq: after,
            next_seq: seq,
        })
    }

    fn check(&self, r: &StoredRecord) -> Option<ChainProblem> {
        if let Some(problem) = self.check_position(r.seq) {
            return Some(problem);
        }
        let prev_hash = self.prev.as_ref().map_or(GENESIS_HASH, |p| p.1.as_str());
        if r.prev_hash != prev_hash {
            return Some(ChainProblem::Broken {
                seq: r.seq,
                expected_prev_seq: self.prev_seq(),
            });
        }
        if record_hash(&r.prev_hash, r.seq, &r.record) != r.hash {
            return Some(ChainProblem::Edited { seq: r.seq });
        }
        None
    }

    pub(crate) fn finish(self) -> VerifyReport {
        let first_problem = self.problem.or_else(|| match self.prev {
            None if self.head.seq > 0 => Some(ChainProblem::Missing {
                after_seq: 0,
                next_seq: self.head.seq + 1,
            }),
            None => None,
            Some((seq, _)) if seq < self.head.seq => Some(ChainProblem::Missing {
                after_seq: seq,
                next_seq: self.head.seq + 1,
            }),
            Some((seq, hash)) => (hash != self.head.hash).then_some(ChainProblem::Edited { seq }),
        });
        VerifyReport {
            records: self.records,
            first_problem,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::tests::full_record;

    #[test]
    fn a_record_hashes_as_it_always_has() {
        // Computed at 86416ad, before the hashing buffer and the time's
        // stack buffer: a log written by an older gateway must still verify.
        let record = full_record().normalized();
        assert_eq!(
            record_hash(GENESIS_HASH, 1, &record),
            "cecb504d60a4050b9ebd47ed666c8a34cf04c1b76a8e1b0ef8025d8826f7859e"
        );
        assert_eq!(
            crate::canonical::arguments_sha256(record.arguments.as_ref().unwrap()),
            "153de6fe7385c187114c1288b49a15fea265c5d307d100c86d749d3156934a73"
        );
    }

    fn chain(n: usize) -> (Vec<StoredRecord>, ChainHead) {
        let mut head = ChainHead::genesis();
        let records = head.link(vec![full_record(); n]);
        (records, head)
    }

    fn walk(records: &[StoredRecord], head: ChainHead) -> VerifyReport {
        let mut w = ChainWalker::new(head);
        for r in records {
            if !w.feed(r) {
                break;
            }
        }
        w.finish()
    }

    #[test]
    fn links_records_from_the_genesis_hash() {
        let (records, head) = chain(3);
        assert_eq!(records[0].prev_hash, GENESIS_HASH);
        assert_eq!(records[1].prev_hash, records[0].hash);
        assert_eq!(
            (head.seq, head.hash.as_str()),
            (3, records[2].hash.as_str())
        );
        assert_eq!(
            records[2].hash,
            record_hash(&records[1].hash, 3, &records[2].record)
        );
        assert_eq!(
            walk(&records, head),
            VerifyReport {
                records: 3,
                first_problem: None
            }
        );
        assert_eq!(walk(&[], ChainHead::genesis()).first_problem, None);
    }

    /// Tampered copies of a chain of 6, and what the walk reports.
    fn tamperings(
        records: &[StoredRecord],
    ) -> Vec<(&'static str, Vec<StoredRecord>, ChainProblem)> {
        let rehash = |r: &mut StoredRecord| r.hash = record_hash(&r.prev_hash, r.seq, &r.record);
        let mut edited = records.to_vec();
        edited[2].record.verdict = "deny".into();
        let mut rehashed = edited.clone();
        rehash(&mut rehashed[2]);
        let mut deleted = records.to_vec();
        deleted.remove(3);
        let mut appended = records.to_vec();
        let mut forged = records[5].clone();
        (forged.seq, forged.prev_hash) = (7, records[5].hash.clone());
        rehash(&mut forged);
        appended.push(forged);
        let mut last_replaced = records.to_vec();
        last_replaced[5].record.verdict = "deny".into();
        rehash(&mut last_replaced[5]);
        vec![
            ("edited", edited, ChainProblem::Edited { seq: 3 }),
            (
                "rehashed",
                rehashed,
                ChainProblem::Broken {
                    seq: 4,
                    expected_prev_seq: Some(3),
                },
            ),
            (
                "deleted",
                deleted,
                ChainProblem::Missing {
                    after_seq: 3,
                    next_seq: 5,
                },
            ),
            (
                "truncated",
                records[..4].to_vec(),
                ChainProblem::Missing {
                    after_seq: 4,
                    next_seq: 7,
                },
            ),
            (
                "emptied",
                Vec::new(),
                ChainProblem::Missing {
                    after_seq: 0,
                    next_seq: 7,
                },
            ),
            (
                "appended",
                appended,
                ChainProblem::Broken {
                    seq: 7,
                    expected_prev_seq: Some(6),
                },
            ),
            (
                "last replaced",
                last_replaced,
                ChainProblem::Edited { seq: 6 },
            ),
        ]
    }

    #[test]
    fn names_each_kind_of_tampering() {
        let (records, head) = chain(6);
        for (name, tampered, problem) in tamperings(&records) {
            assert_eq!(
                walk(&tampered, head.clone()).first_problem,
                Some(problem),
                "{name}"
            );
        }
        let mut w = ChainWalker::new(head);
        assert!(w.feed(&records[0]));
        assert!(!w.feed_unreadable(2));
        assert_eq!(
            w.finish().first_problem,
            Some(ChainProblem::Edited { seq: 2 })
        );
    }
}
