//! Rows kept decoded in memory, each trusted only while the database's revision of the row is
//! the one it was read at.
//!
//! A reader asks the database for `(id, revision)` of what it needs (usually as part of a
//! statement it runs anyway) and reads whole rows only for those that are new here or changed.
//! The database raises a row's revision on every change (triggers, see the `*_revision`
//! migrations), so this holds with any number of instances writing, and no write path has to
//! tell a cache anything.
use std::{collections::HashMap, future::Future, sync::Arc};

use parking_lot::RwLock;

use crate::{bounded_cache::BoundedCache, error::AppError};

/// A value read from the database at some revision of its row.
pub trait Revisioned {
    fn id(&self) -> i64;
    fn revision(&self) -> i64;
}

pub struct RevisionCache<V> {
    /// At most `capacity` values (0 keeps none); what lists show again stays.
    entries: RwLock<BoundedCache<i64, Arc<V>>>,
}

impl<V: Revisioned> RevisionCache<V> {
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: RwLock::new(BoundedCache::new(capacity)),
        }
    }

    /// The values `wanted` names by `(id, revision)`, in that order (an id named twice comes
    /// twice): kept ones whose revision is still current, and the others from `read`, which
    /// is called once, with each missing id once, and only if one is missing. A value `read`
    /// does not return (its row is gone) is left out.
    pub async fn current<F, Fut>(
        &self,
        wanted: &[(i64, i64)],
        read: F,
    ) -> Result<Vec<Arc<V>>, AppError>
    where
        F: FnOnce(Vec<i64>) -> Fut,
        Fut: Future<Output = Result<Vec<V>, AppError>>,
    {
        let mut found: HashMap<i64, Arc<V>> = HashMap::with_capacity(wanted.len());
        let mut missing = Vec::new();
        {
            let entries = self.entries.read();
            for &(id, revision) in wanted {
                match entries.get(&id) {
                    Some(v) if v.revision() == revision => {
                        found.insert(id, v.clone());
                    }
                    _ if !missing.contains(&id) => missing.push(id),
                    _ => {}
                }
            }
        }
        if !missing.is_empty() {
            for v in read(missing).await? {
                let v = self.keep(v);
                found.insert(v.id(), v);
            }
        }
        Ok(wanted
            .iter()
            .filter_map(|(id, _)| found.get(id).cloned())
            .collect())
    }

    /// Keeps `v` unless a newer revision of its row is kept already (a reader that read
    /// earlier and finished later); returns what is kept.
    fn keep(&self, v: V) -> Arc<V> {
        let v = Arc::new(v);
        let mut entries = self.entries.write();
        if let Some(kept) = entries.get(&v.id())
            && kept.revision() > v.revision()
        {
            return kept.clone();
        }
        entries.insert(v.id(), v.clone(), 1);
        v
    }

    pub fn len(&self) -> usize {
        self.entries.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Row {
        id: i64,
        revision: i64,
    }

    impl Revisioned for Row {
        fn id(&self) -> i64 {
            self.id
        }
        fn revision(&self) -> i64 {
            self.revision
        }
    }

    fn row(id: i64, revision: i64) -> Row {
        Row { id, revision }
    }

    #[test]
    fn an_older_revision_never_replaces_a_newer_one() {
        let cache = RevisionCache::new(10);
        let newer = cache.keep(row(7, 3));
        let kept = cache.keep(row(7, 2));
        assert_eq!(kept.revision, 3);
        assert!(Arc::ptr_eq(&kept, &newer));
        let later = cache.keep(row(7, 4));
        assert_eq!(later.revision, 4);
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn a_full_cache_makes_room_and_capacity_zero_keeps_nothing() {
        let cache = RevisionCache::new(4);
        for id in 1..=5 {
            cache.keep(row(id, 0));
        }
        assert_eq!(cache.len(), 4);
        assert!(cache.entries.read().get(&5).is_some());
        let off = RevisionCache::new(0);
        off.keep(row(1, 0));
        assert!(off.is_empty());
    }

    /// `current` with a reader that records what it was asked for.
    async fn current_reading(
        cache: &RevisionCache<Row>,
        wanted: &[(i64, i64)],
        db: &[(i64, i64)],
    ) -> (Vec<(i64, i64)>, Option<Vec<i64>>) {
        let mut asked = None;
        let got = cache
            .current(wanted, |ids| {
                asked = Some(ids.clone());
                let rows = db
                    .iter()
                    .filter(|(id, _)| ids.contains(id))
                    .map(|&(id, revision)| row(id, revision))
                    .collect();
                async move { Ok(rows) }
            })
            .await
            .unwrap();
        (got.iter().map(|r| (r.id, r.revision)).collect(), asked)
    }

    #[tokio::test]
    async fn reads_only_what_is_missing_or_moved_and_repeats_ids_as_asked() {
        let cache = RevisionCache::new(10);
        let db = [(1, 0), (2, 0)];
        let (got, asked) = current_reading(&cache, &[(1, 0), (2, 0), (1, 0)], &db).await;
        assert_eq!(got, vec![(1, 0), (2, 0), (1, 0)]);
        assert_eq!(asked, Some(vec![1, 2]), "each missing id is read once");

        let (got, asked) = current_reading(&cache, &[(2, 0), (1, 0)], &db).await;
        assert_eq!(got, vec![(2, 0), (1, 0)]);
        assert_eq!(asked, None, "nothing is read when everything is current");

        let db = [(1, 0), (2, 1)];
        let (got, asked) = current_reading(&cache, &[(1, 0), (2, 1)], &db).await;
        assert_eq!(got, vec![(1, 0), (2, 1)]);
        assert_eq!(
            asked,
            Some(vec![2]),
            "a row whose revision moved is read again"
        );
    }

    #[tokio::test]
    async fn a_row_that_is_gone_is_left_out() {
        let cache = RevisionCache::new(10);
        let (got, asked) = current_reading(&cache, &[(1, 0), (9, 0)], &[(1, 0)]).await;
        assert_eq!(got, vec![(1, 0)]);
        assert_eq!(asked, Some(vec![1, 9]));
    }
}
