//! The pure choosers of assignment (SPEC §8 "Assignment, capacity, queues"): which provider
//! an `assign_provider` node takes and which staff member an `assign_order` node takes, or
//! why the project must wait in the queue. They read no stream: the caller gathers the
//! links, capacities and staff, and records the result in the project's events, so a replay
//! never chooses again.
//!
//! Invariant: both are deterministic functions of their arguments (no randomness, no
//! floats): the provider draw is a stable 64-bit FNV-1a hash of the delivery id (domain has
//! no SHA-256 dependency; FNV-1a is fixed by its two constants and will not change), the
//! staff order compares active/max ratios by cross-multiplication.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::delivery::node::AssignRule;

/// Why nobody could take a project: it waits in the dispatch queue (SPEC §8).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueReason {
    NoProviderLinked,
    ProviderCapacityFull,
    NoStaffWithRole,
    StaffCapacityFull,
}

impl QueueReason {
    pub const fn as_str(self) -> &'static str {
        match self {
            QueueReason::NoProviderLinked => "no_provider_linked",
            QueueReason::ProviderCapacityFull => "provider_capacity_full",
            QueueReason::NoStaffWithRole => "no_staff_with_role",
            QueueReason::StaffCapacityFull => "staff_capacity_full",
        }
    }

    /// A reason of the `assign_provider` node (the others are of `assign_order`).
    pub const fn is_provider_level(self) -> bool {
        matches!(
            self,
            QueueReason::NoProviderLinked | QueueReason::ProviderCapacityFull
        )
    }
}

const FNV_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// 64-bit FNV-1a of `bytes`.
pub fn fnv1a_64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(FNV_OFFSET_BASIS, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(FNV_PRIME)
    })
}

/// A product's link to a provider, with the capacity the caller found.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ProviderLinkCapacity {
    pub org_id: String,
    pub weight: u32,
    /// Active projects below the link's maximum.
    pub has_free_capacity: bool,
}

/// The provider chosen: `(org_id, pick, total_weight)`.
pub type ProviderPick = (String, u64, u64);

/// The provider for `delivery_id` among `links` (in the product's order): among those with
/// free capacity, by weight — `pick = fnv1a_64(delivery_id) % total weight of the free
/// links`, and the chosen link is the one whose cumulative weight first exceeds `pick`.
/// A link of weight 0 is never drawn (it counts as not linked). No links →
/// `no_provider_linked`; none free → `provider_capacity_full`.
pub fn choose_provider(
    delivery_id: &str,
    links: &[ProviderLinkCapacity],
) -> Result<ProviderPick, QueueReason> {
    let weighted: Vec<&ProviderLinkCapacity> = links.iter().filter(|l| l.weight > 0).collect();
    if weighted.is_empty() {
        return Err(QueueReason::NoProviderLinked);
    }
    let free: Vec<&ProviderLinkCapacity> = weighted
        .into_iter()
        .filter(|l| l.has_free_capacity)
        .collect();
    let total: u64 = free.iter().map(|l| u64::from(l.weight)).sum();
    if total == 0 {
        return Err(QueueReason::ProviderCapacityFull);
    }
    let pick = fnv1a_64(delivery_id.as_bytes()) % total;
    let mut below = 0u64;
    for link in &free {
        below += u64::from(link.weight);
        if pick < below {
            return Ok((link.org_id.clone(), pick, total));
        }
    }
    // Unreachable: `pick < total` and `below` reaches `total` at the last link.
    Err(QueueReason::ProviderCapacityFull)
}

/// Why a staff member cannot take a project now (besides being at their maximum).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Ineligible {
    /// They do not hold the node's role.
    NoRole,
    /// They switched accepting off.
    NotAccepting,
    /// They are on leave now.
    OnLeave,
}

/// A staff member of the provider, as the caller found them.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Candidate {
    pub staff_id: String,
    pub department: String,
    /// Active projects now.
    pub active: u32,
    /// Most active projects (0..50).
    pub max: u32,
    /// Has the role, accepting, not on leave — or why not.
    pub eligible: Result<(), Ineligible>,
}

impl Candidate {
    fn free(&self) -> bool {
        self.eligible.is_ok() && self.active < self.max
    }
}

/// Smallest active/max ratio first (`a.active × b.max` against `b.active × a.max`), then
/// fewest active, then staff id.
fn by_load(a: &Candidate, b: &Candidate) -> Ordering {
    let left = u64::from(a.active) * u64::from(b.max);
    let right = u64::from(b.active) * u64::from(a.max);
    left.cmp(&right)
        .then(a.active.cmp(&b.active))
        .then_with(|| a.staff_id.cmp(&b.staff_id))
}

/// The staff member an `assign_order` node takes (SPEC §8): among the candidates holding
/// the role, accepting, not on leave and below their maximum, the least loaded
/// ([`by_load`]); with `department_first` and a claimer's department, the least loaded of
/// that department first, then of everyone. Nobody with the role → `no_staff_with_role`;
/// nobody free → `staff_capacity_full`.
pub fn choose_staff(
    candidates: &[Candidate],
    rule: AssignRule,
    claimer_department: Option<&str>,
) -> Result<String, QueueReason> {
    if candidates
        .iter()
        .all(|c| c.eligible == Err(Ineligible::NoRole))
    {
        return Err(QueueReason::NoStaffWithRole);
    }
    let best = |in_department: Option<&str>| {
        candidates
            .iter()
            .filter(|c| c.free())
            .filter(|c| in_department.is_none_or(|d| c.department == d))
            .min_by(|a, b| by_load(a, b))
    };
    let department = match rule {
        AssignRule::DepartmentFirst => claimer_department,
        AssignRule::ProviderFirst => None,
    };
    department
        .and_then(|d| best(Some(d)))
        .or_else(|| best(None))
        .map(|c| c.staff_id.clone())
        .ok_or(QueueReason::StaffCapacityFull)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(org: &str, weight: u32, free: bool) -> ProviderLinkCapacity {
        ProviderLinkCapacity {
            org_id: org.into(),
            weight,
            has_free_capacity: free,
        }
    }

    fn staff(id: &str, dept: &str, active: u32, max: u32) -> Candidate {
        Candidate {
            staff_id: id.into(),
            department: dept.into(),
            active,
            max,
            eligible: Ok(()),
        }
    }

    #[test]
    fn fnv1a_is_the_published_function() {
        // Test vectors of the FNV reference (draft-eastlake-fnv).
        assert_eq!(fnv1a_64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a_64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a_64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn given_no_links_when_choosing_a_provider_then_no_provider_linked() {
        assert_eq!(
            choose_provider("dlv_1", &[]),
            Err(QueueReason::NoProviderLinked)
        );
        assert_eq!(
            choose_provider("dlv_1", &[link("org_a", 0, true)]),
            Err(QueueReason::NoProviderLinked)
        );
    }

    #[test]
    fn given_every_link_full_when_choosing_a_provider_then_provider_capacity_full() {
        assert_eq!(
            choose_provider("dlv_1", &[link("org_a", 3, false), link("org_b", 1, false)]),
            Err(QueueReason::ProviderCapacityFull)
        );
    }

    #[test]
    fn given_one_free_link_when_choosing_then_it_is_chosen_whatever_the_weights() {
        let links = [link("org_a", 9, false), link("org_b", 1, true)];
        for i in 0..50 {
            let (org, pick, total) = choose_provider(&format!("dlv_{i}"), &links).unwrap();
            assert_eq!((org.as_str(), pick, total), ("org_b", 0, 1));
        }
    }

    #[test]
    fn the_provider_draw_is_the_hash_modulo_the_free_weight_in_list_order() {
        let links = [
            link("org_a", 2, true),
            link("org_x", 5, false),
            link("org_b", 3, true),
        ];
        let id = "dlv_01jdq7x3k2";
        let (org, pick, total) = choose_provider(id, &links).unwrap();
        assert_eq!(total, 5);
        assert_eq!(pick, fnv1a_64(id.as_bytes()) % 5);
        assert_eq!(org, if pick < 2 { "org_a" } else { "org_b" });
        assert_eq!(choose_provider(id, &links).unwrap().0, org, "deterministic");
    }

    #[test]
    fn over_10000_deliveries_the_split_follows_the_weights_within_two_percent() {
        let links = [
            link("org_a", 1, true),
            link("org_b", 3, true),
            link("org_c", 6, true),
        ];
        let mut counts = [0u32; 3];
        for i in 0..10_000 {
            let (org, _, _) = choose_provider(&format!("dlv_01k{i:07}"), &links).unwrap();
            let slot = links.iter().position(|l| l.org_id == org).unwrap();
            counts[slot] += 1;
        }
        for (count, expected) in counts.iter().zip([1_000u32, 3_000, 6_000]) {
            assert!(
                count.abs_diff(expected) <= 200,
                "counts {counts:?} against 1000/3000/6000"
            );
        }
    }

    #[test]
    fn given_staff_without_the_role_when_choosing_then_no_staff_with_role() {
        let mut a = staff("stf_a", "d1", 0, 5);
        a.eligible = Err(Ineligible::NoRole);
        assert_eq!(
            choose_staff(&[a], AssignRule::ProviderFirst, None),
            Err(QueueReason::NoStaffWithRole)
        );
        assert_eq!(
            choose_staff(&[], AssignRule::ProviderFirst, None),
            Err(QueueReason::NoStaffWithRole)
        );
    }

    #[test]
    fn given_staff_full_on_leave_or_not_accepting_when_choosing_then_staff_capacity_full() {
        let full = staff("stf_a", "d1", 5, 5);
        let zero = staff("stf_z", "d1", 0, 0);
        let mut leave = staff("stf_b", "d1", 0, 5);
        leave.eligible = Err(Ineligible::OnLeave);
        let mut off = staff("stf_c", "d1", 0, 5);
        off.eligible = Err(Ineligible::NotAccepting);
        assert_eq!(
            choose_staff(&[full, zero, leave, off], AssignRule::ProviderFirst, None),
            Err(QueueReason::StaffCapacityFull)
        );
    }

    #[test]
    fn the_smallest_active_to_max_ratio_wins_compared_without_floats() {
        // 2/10 = 0.2 < 1/3 ≈ 0.33 though 1 < 2 active.
        let a = staff("stf_a", "d1", 1, 3);
        let b = staff("stf_b", "d1", 2, 10);
        assert_eq!(
            choose_staff(&[a, b], AssignRule::ProviderFirst, None),
            Ok("stf_b".into())
        );
    }

    #[test]
    fn equal_ratios_go_to_the_fewest_active_then_the_smallest_staff_id() {
        let a = staff("stf_a", "d1", 2, 4);
        let b = staff("stf_b", "d1", 1, 2);
        assert_eq!(
            choose_staff(&[a.clone(), b], AssignRule::ProviderFirst, None),
            Ok("stf_b".into())
        );
        let c = staff("stf_c", "d1", 2, 4);
        assert_eq!(
            choose_staff(&[c, a], AssignRule::ProviderFirst, None),
            Ok("stf_a".into())
        );
    }

    #[test]
    fn department_first_prefers_the_claimers_department_then_everyone() {
        let busy_mine = staff("stf_m", "sales", 3, 4);
        let idle_other = staff("stf_o", "ops", 0, 4);
        let both = [busy_mine.clone(), idle_other.clone()];
        assert_eq!(
            choose_staff(&both, AssignRule::DepartmentFirst, Some("sales")),
            Ok("stf_m".into())
        );
        assert_eq!(
            choose_staff(&both, AssignRule::ProviderFirst, Some("sales")),
            Ok("stf_o".into()),
            "provider_first ignores the department"
        );
        let full_mine = staff("stf_m", "sales", 4, 4);
        assert_eq!(
            choose_staff(
                &[full_mine, idle_other.clone()],
                AssignRule::DepartmentFirst,
                Some("sales")
            ),
            Ok("stf_o".into()),
            "nobody free in the department: everyone"
        );
        assert_eq!(
            choose_staff(&[busy_mine, idle_other], AssignRule::DepartmentFirst, None),
            Ok("stf_o".into()),
            "no claimer: everyone"
        );
    }
}
