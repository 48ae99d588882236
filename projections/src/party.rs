//! Who may list what: an index from a party (a customer's principal id or a seller's org id —
//! their prefixes never collide) to the records that party is part of, in order (ids, or
//! (time, id) pairs), so that a customer's or a seller's list walks only their own records.

use std::collections::{BTreeMap, BTreeSet};

/// Party id → that party's records (their ids by default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyIndex<T = String>(BTreeMap<String, BTreeSet<T>>);

impl<T> Default for PartyIndex<T> {
    fn default() -> Self {
        PartyIndex(BTreeMap::new())
    }
}

impl<T: Ord + Clone> PartyIndex<T> {
    /// Files `item` under the customer and the seller org it belongs to.
    pub fn insert(&mut self, customer_id: &str, seller_org_id: &str, item: T) {
        self.insert_under(&[customer_id, seller_org_id], item);
    }

    /// Files `item` under each of `keys` (party or other ids whose prefixes never collide).
    pub fn insert_under(&mut self, keys: &[&str], item: T) {
        for &key in keys {
            if let Some(items) = self.0.get_mut(key) {
                items.insert(item.clone());
            } else {
                self.0
                    .insert(key.to_owned(), BTreeSet::from([item.clone()]));
            }
        }
    }

    /// The index of `entries` (key, item), built in bulk: the sorted entries are loaded into
    /// each set at once instead of one insert at a time (what a checkpoint load does).
    pub fn from_entries(mut entries: Vec<(String, T)>) -> PartyIndex<T> {
        entries.sort_unstable();
        entries.dedup();
        let mut index = BTreeMap::new();
        let mut entries = entries.into_iter().peekable();
        while let Some((key, item)) = entries.next() {
            let mut items = vec![item];
            while let Some((_, item)) = entries.next_if(|(k, _)| *k == key) {
                items.push(item);
            }
            index.insert(key, items.into_iter().collect::<BTreeSet<_>>());
        }
        PartyIndex(index)
    }

    /// Everything filed under `party`, in order (None if nothing is).
    pub fn of(&self, party: &str) -> Option<&BTreeSet<T>> {
        self.0.get(party)
    }
}

impl PartyIndex<String> {
    /// The ids of `party`'s records after the cursor key `after` (all without one), in order.
    pub fn after<'a>(
        &'a self,
        party: &str,
        after: Option<&str>,
    ) -> impl Iterator<Item = &'a String> + 'a {
        use std::ops::Bound;
        let from = match after {
            Some(a) => Bound::Excluded(a.to_owned()),
            None => Bound::Unbounded,
        };
        self.0
            .get(party)
            .into_iter()
            .flat_map(move |ids| ids.range((from.clone(), Bound::Unbounded)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_party_sees_its_own_ids_in_order_from_the_cursor_on() {
        let mut index: PartyIndex = PartyIndex::default();
        index.insert("prn_a", "org_x", "r3".into());
        index.insert("prn_a", "org_y", "r1".into());
        index.insert("prn_b", "org_x", "r2".into());
        let ids = |party: &str, after: Option<&str>| -> Vec<String> {
            index.after(party, after).cloned().collect()
        };
        assert_eq!(ids("prn_a", None), vec!["r1", "r3"]);
        assert_eq!(ids("prn_a", Some("r1")), vec!["r3"]);
        assert_eq!(ids("org_x", None), vec!["r2", "r3"]);
        assert_eq!(ids("org_x", Some("r3")), Vec::<String>::new());
        assert_eq!(ids("prn_nobody", None), Vec::<String>::new());
        // Built in bulk from the same entries (in any order, repeated), it is the same index.
        let entries = [
            ("prn_a", "r3"),
            ("org_x", "r3"),
            ("prn_a", "r1"),
            ("org_y", "r1"),
            ("prn_b", "r2"),
            ("org_x", "r2"),
            ("prn_a", "r1"),
        ];
        let bulk = PartyIndex::from_entries(
            entries
                .iter()
                .map(|(k, i)| (k.to_string(), i.to_string()))
                .collect(),
        );
        assert_eq!(bulk, index);
    }
}
