//! Receivers by topic, looked up once per received message: a hash
//! index over a table that only grows, with the last topic found asked
//! first (a stream of messages on one topic costs one comparison per
//! message, not a hash and a probe).

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use crate::hub::TopicHasher;

/// Receivers (`T`) by topic. A topic, once added, keeps its place (its
/// list may become empty), so that the place of the last lookup stays
/// valid.
pub(crate) struct TopicTable<T> {
    index: HashMap<String, usize, BuildHasherDefault<TopicHasher>>,
    entries: Vec<(String, Vec<T>)>,
    /// The entry of the last lookup that found one.
    last: usize,
}

impl<T> Default for TopicTable<T> {
    fn default() -> Self {
        TopicTable {
            index: HashMap::default(),
            entries: Vec::new(),
            last: 0,
        }
    }
}

impl<T> TopicTable<T> {
    /// The receivers of `topic`, if any were ever added.
    pub(crate) fn get_mut(&mut self, topic: &str) -> Option<&mut Vec<T>> {
        let hit = self.entries.get(self.last).is_some_and(|(t, _)| t == topic);
        if !hit {
            self.last = *self.index.get(topic)?;
        }
        self.entries.get_mut(self.last).map(|(_, v)| v)
    }

    /// Adds a receiver of `topic`.
    pub(crate) fn push(&mut self, topic: String, item: T) {
        let at = match self.index.get(&topic) {
            Some(&at) => at,
            None => {
                self.entries.push((topic.clone(), Vec::new()));
                let at = self.entries.len() - 1;
                self.index.insert(topic, at);
                at
            }
        };
        if let Some((_, v)) = self.entries.get_mut(at) {
            v.push(item);
        }
    }

    /// Every receiver of every topic.
    pub(crate) fn values(&self) -> impl Iterator<Item = &T> {
        self.entries.iter().flat_map(|(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_each_topic_whatever_was_asked_last() {
        let mut t = TopicTable::default();
        assert!(t.get_mut("a").is_none());
        t.push("a".to_owned(), 1);
        t.push("b".to_owned(), 2);
        t.push("a".to_owned(), 3);
        for _ in 0..2 {
            assert_eq!(t.get_mut("a").map(|v| v.clone()), Some(vec![1, 3]));
            assert_eq!(t.get_mut("b").map(|v| v.clone()), Some(vec![2]));
            assert!(t.get_mut("c").is_none());
        }
        // A miss leaves the last hit in place; emptied lists stay found.
        t.get_mut("b").unwrap().clear();
        assert_eq!(t.get_mut("b").map(|v| v.len()), Some(0));
        assert_eq!(t.values().copied().collect::<Vec<_>>(), vec![1, 3]);
    }
}
