//! Money and the one rounding rule.
//!
//! Amounts are whole cents ([`Cents`], `i64`), rates are integer per-mille, and every division
//! goes through [`round_half_up_div`], computed in `i128` so that intermediate products cannot
//! overflow (SPEC §4, STYLE §2). There is no floating point anywhere near money.
//!
//! Invariant: no function here panics or wraps; results that cannot fit in `i64` saturate, and
//! the `checked_*` variants report them instead.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Cents in one yuan.
pub const CENTS_PER_YUAN: i64 = 100;
/// Per-mille meaning "the whole amount".
pub const PERMILLE_WHOLE: u32 = 1000;

/// An amount of money in cents (分). May be negative in intermediate results (a difference);
/// the deciders decide which fields must be non-negative.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Cents(pub i64);

impl Cents {
    /// Zero cents.
    pub const ZERO: Cents = Cents(0);

    /// Sum, or `None` on overflow.
    pub const fn checked_add(self, other: Cents) -> Option<Cents> {
        match self.0.checked_add(other.0) {
            Some(sum) => Some(Cents(sum)),
            None => None,
        }
    }

    /// Difference, or `None` on overflow.
    pub const fn checked_sub(self, other: Cents) -> Option<Cents> {
        match self.0.checked_sub(other.0) {
            Some(difference) => Some(Cents(difference)),
            None => None,
        }
    }

    /// Product with a count (price × quantity), or `None` on overflow.
    pub const fn checked_mul(self, factor: i64) -> Option<Cents> {
        match self.0.checked_mul(factor) {
            Some(product) => Some(Cents(product)),
            None => None,
        }
    }

    /// Sum, saturating at the `i64` bounds.
    pub const fn saturating_add(self, other: Cents) -> Cents {
        Cents(self.0.saturating_add(other.0))
    }

    /// Difference, saturating at the `i64` bounds.
    pub const fn saturating_sub(self, other: Cents) -> Cents {
        Cents(self.0.saturating_sub(other.0))
    }

    /// Product with a count, saturating at the `i64` bounds.
    pub const fn saturating_mul(self, factor: i64) -> Cents {
        Cents(self.0.saturating_mul(factor))
    }

    /// This amount, or zero if it is negative ("never below 0", SPEC §4).
    pub const fn at_least_zero(self) -> Cents {
        if self.0 < 0 {
            Cents::ZERO
        } else {
            self
        }
    }

    /// Whether the amount is below zero.
    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }
}

impl fmt::Display for Cents {
    /// Yuan with two decimals: `12.34`, `-0.05`, `0.00`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        // unsigned_abs: i64::MIN has no positive i64 counterpart.
        let magnitude = self.0.unsigned_abs();
        let per_yuan = CENTS_PER_YUAN.unsigned_abs();
        write!(
            f,
            "{sign}{}.{:02}",
            magnitude / per_yuan,
            magnitude % per_yuan
        )
    }
}

/// `numerator / denominator` rounded half away from zero (1.5 → 2, −1.5 → −2, 1.49 → 1),
/// exactly as the guides' "四舍五入" and SPEC §4's "half-up to the cent". `None` when the
/// denominator is zero or the result does not fit in `i64`. A negative denominator is allowed
/// (both signs are flipped first).
pub fn checked_round_half_up_div(numerator: i128, denominator: i128) -> Option<i64> {
    let (numerator, denominator) = if denominator < 0 {
        (numerator.checked_neg()?, denominator.checked_neg()?)
    } else {
        (numerator, denominator)
    };
    if denominator == 0 {
        return None;
    }
    let quotient = numerator / denominator;
    let remainder = (numerator % denominator).unsigned_abs();
    // remainder ≥ denominator − remainder ⇔ 2·remainder ≥ denominator, without overflow.
    let rounds_away = remainder >= denominator.unsigned_abs() - remainder;
    let rounded = if !rounds_away {
        quotient
    } else if numerator < 0 {
        quotient - 1
    } else {
        quotient + 1
    };
    i64::try_from(rounded).ok()
}

/// [`checked_round_half_up_div`] made total for use on money paths: the denominator must be
/// positive (callers divide by 1000 or by a paid amount they have checked is non-zero); a zero
/// denominator yields 0 ("a share of nothing is nothing", as in [`proportional_split`]) and a
/// result beyond `i64` saturates.
pub fn round_half_up_div(numerator: i128, denominator: i128) -> i64 {
    match checked_round_half_up_div(numerator, denominator) {
        Some(quotient) => quotient,
        None if denominator == 0 => 0,
        None if (numerator < 0) == (denominator < 0) => i64::MAX,
        None => i64::MIN,
    }
}

/// `amount × permille / 1000`, rounded half-up once: the price after a `discount` promotion
/// or coupon of N‰ (SPEC §4). Saturates for per-mille above 1000 on huge amounts.
pub fn apply_permille(amount: Cents, permille: u32) -> Cents {
    Cents(round_half_up_div(
        i128::from(amount.0) * i128::from(permille),
        i128::from(PERMILLE_WHOLE),
    ))
}

/// Splits `part` of a payment (a refund, say) into its cash and voucher shares in proportion
/// to how the whole payment was made (SPEC §7): cash = round_half_up(part × cash_paid /
/// whole_paid), voucher = part − cash. A payment of 0 has no shares: `(0, 0)`.
///
/// With 0 ≤ part ≤ whole_paid and 0 ≤ cash_paid ≤ whole_paid both shares lie in 0..=part.
/// For several partial refunds of one payment use [`proportional_split_increment`], which keeps
/// the running totals exact.
pub fn proportional_split(part: Cents, whole_paid: Cents, cash_paid: Cents) -> (Cents, Cents) {
    if whole_paid.0 == 0 {
        return (Cents::ZERO, Cents::ZERO);
    }
    let cash = Cents(round_half_up_div(
        i128::from(part.0) * i128::from(cash_paid.0),
        i128::from(whole_paid.0),
    ));
    (cash, part.saturating_sub(cash))
}

/// The cash and voucher shares of one more `part` when `already` has been split before: the
/// split of the running total minus the split of the previous total. Rounding each refund on
/// its own could, over many small refunds, hand back more voucher than was paid (three 1-cent
/// refunds of a 3-cent payment with 1 cent of cash would each round the cash share to 0);
/// splitting running totals makes a full refund return exactly `cash_paid` in cash.
pub fn proportional_split_increment(
    already: Cents,
    part: Cents,
    whole_paid: Cents,
    cash_paid: Cents,
) -> (Cents, Cents) {
    if whole_paid.0 == 0 {
        return (Cents::ZERO, Cents::ZERO);
    }
    let (cash_before, _) = proportional_split(already, whole_paid, cash_paid);
    let total = already.saturating_add(part);
    let (cash_after, _) = proportional_split(total, whole_paid, cash_paid);
    let cash = cash_after.saturating_sub(cash_before);
    (cash, part.saturating_sub(cash))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_half_up_div_follows_the_rounding_table() {
        // (numerator, denominator, expected)
        let table: &[(i128, i128, i64)] = &[
            (0, 7, 0),
            (10, 5, 2),
            (14, 10, 1),  // 1.4
            (15, 10, 2),  // 1.5 exact half rounds up
            (16, 10, 2),  // 1.6
            (25, 10, 3),  // 2.5 rounds away from zero, not to even
            (5, 10, 1),   // 0.5
            (4, 10, 0),   // 0.4
            (-4, 10, 0),  // -0.4
            (-5, 10, -1), // -0.5 rounds away from zero
            (-15, 10, -2),
            (-14, 10, -1),
            (-25, 10, -3),
            (1, 3, 0),
            (2, 3, 1),
            (-2, 3, -1),
            (1, 2, 1),
            (-1, 2, -1),
            (499, 1000, 0),
            (500, 1000, 1),
            (1499, 1000, 1),
            (1500, 1000, 2),
            (15, -10, -2), // a negative denominator flips both signs
            (-15, -10, 2),
            // Near the i64 range: the product is far beyond i64 but fine in i128.
            (i64::MAX as i128 * 1000, 1000, i64::MAX),
            (i64::MIN as i128 * 1000, 1000, i64::MIN),
            (i64::MAX as i128 * 999, 1000, 9_214_148_664_817_921_031), // ….193 rounds down
            (i64::MAX as i128 * 2, 2, i64::MAX),
            (i64::MAX as i128 * 2 + 1, 2, i64::MAX), // MAX + 0.5 rounds beyond i64: saturates
        ];
        for &(numerator, denominator, expected) in table {
            assert_eq!(
                round_half_up_div(numerator, denominator),
                expected,
                "{numerator} / {denominator}"
            );
        }
    }

    #[test]
    fn round_half_up_div_saturates_beyond_i64() {
        assert_eq!(checked_round_half_up_div(i64::MAX as i128 * 2 + 1, 2), None);
        assert_eq!(round_half_up_div(i64::MAX as i128 * 2 + 1, 2), i64::MAX);
        assert_eq!(round_half_up_div(i128::MAX, 1), i64::MAX);
        assert_eq!(round_half_up_div(i128::MIN, 1), i64::MIN);
        assert_eq!(round_half_up_div(i128::MIN, 3), i64::MIN);
        assert_eq!(checked_round_half_up_div(i128::MIN, -1), None);
        assert_eq!(checked_round_half_up_div(i128::MAX, i128::MAX), Some(1));
        assert_eq!(
            checked_round_half_up_div(i128::MAX / 2 + 1, i128::MAX),
            Some(1)
        );
        assert_eq!(checked_round_half_up_div(i128::MAX / 2, i128::MAX), Some(0));
    }

    #[test]
    fn checked_round_half_up_div_refuses_division_by_zero() {
        assert_eq!(checked_round_half_up_div(10, 0), None);
    }

    #[test]
    fn apply_permille_rounds_once_half_up() {
        let table: &[(i64, u32, i64)] = &[
            (10_000, 850, 8_500), // 8.5 折 of 100 yuan
            (999, 500, 500),      // 499.5 → 500
            (999, 10, 10),        // 9.99 → 10
            (1, 500, 1),          // 0.5 → 1
            (1, 499, 0),
            (3_333, 333, 1_110), // 1109.889 → 1110
            (0, 990, 0),
            (12_345, 1000, 12_345),
            (-999, 500, -500), // a negative difference rounds away from zero
            (i64::MAX, 1000, i64::MAX),
            (i64::MAX, 999, 9_214_148_664_817_921_031),
            (i64::MAX, 2000, i64::MAX), // saturates
        ];
        for &(amount, permille, expected) in table {
            assert_eq!(
                apply_permille(Cents(amount), permille),
                Cents(expected),
                "{amount} × {permille}‰"
            );
        }
    }

    #[test]
    fn proportional_split_rounds_the_cash_share_half_up() {
        // (part, whole_paid, cash_paid, expected cash, expected voucher)
        let table: &[(i64, i64, i64, i64, i64)] = &[
            (10_000, 10_000, 7_000, 7_000, 3_000), // full refund
            (5_000, 10_000, 7_000, 3_500, 1_500),
            (1, 2, 1, 1, 0),             // 0.5 cash → 1
            (1, 3, 1, 0, 1),             // 0.333 → 0
            (2, 3, 1, 1, 1),             // 0.667 → 1
            (333, 1_000, 500, 167, 166), // 166.5 → 167
            (100, 100, 0, 0, 100),       // all voucher
            (100, 100, 100, 100, 0),     // all cash
            (0, 100, 50, 0, 0),
            (5, 0, 0, 0, 0), // nothing was paid
            (i64::MAX, i64::MAX, i64::MAX - 1, i64::MAX - 1, 1),
        ];
        for &(part, whole, cash, expected_cash, expected_voucher) in table {
            assert_eq!(
                proportional_split(Cents(part), Cents(whole), Cents(cash)),
                (Cents(expected_cash), Cents(expected_voucher)),
                "part {part} of {whole} with cash {cash}"
            );
        }
    }

    #[test]
    fn split_increments_return_exactly_the_cash_paid_on_full_refund() {
        let (whole, cash) = (Cents(3), Cents(1));
        let mut already = Cents::ZERO;
        let mut cash_back = Cents::ZERO;
        let mut voucher_back = Cents::ZERO;
        for _ in 0..3 {
            let (c, v) = proportional_split_increment(already, Cents(1), whole, cash);
            cash_back = cash_back.saturating_add(c);
            voucher_back = voucher_back.saturating_add(v);
            already = already.saturating_add(Cents(1));
        }
        assert_eq!((cash_back, voucher_back), (Cents(1), Cents(2)));
        // Splitting each refund alone would have handed back no cash and 3 cents of voucher.
        assert_eq!(
            proportional_split(Cents(1), whole, cash),
            (Cents(0), Cents(1))
        );
    }

    #[test]
    fn split_increment_of_nothing_paid_is_nothing() {
        assert_eq!(
            proportional_split_increment(Cents(1), Cents(1), Cents(0), Cents(0)),
            (Cents(0), Cents(0))
        );
    }

    #[test]
    fn cents_display_as_yuan_with_two_decimals() {
        let table: &[(i64, &str)] = &[
            (1234, "12.34"),
            (0, "0.00"),
            (5, "0.05"),
            (-5, "-0.05"),
            (-1234, "-12.34"),
            (100, "1.00"),
            (i64::MAX, "92233720368547758.07"),
            (i64::MIN, "-92233720368547758.08"),
        ];
        for &(cents, expected) in table {
            assert_eq!(Cents(cents).to_string(), expected);
        }
    }

    #[test]
    fn cents_arithmetic_reports_or_saturates_overflow() {
        assert_eq!(Cents(1).checked_add(Cents(2)), Some(Cents(3)));
        assert_eq!(Cents(i64::MAX).checked_add(Cents(1)), None);
        assert_eq!(Cents(i64::MIN).checked_sub(Cents(1)), None);
        assert_eq!(Cents(5).checked_sub(Cents(7)), Some(Cents(-2)));
        assert_eq!(Cents(i64::MAX).saturating_add(Cents(1)), Cents(i64::MAX));
        assert_eq!(Cents(i64::MIN).saturating_sub(Cents(1)), Cents(i64::MIN));
        assert_eq!(Cents(5_000).checked_mul(3), Some(Cents(15_000)));
        assert_eq!(Cents(i64::MAX).checked_mul(2), None);
        assert_eq!(Cents(i64::MAX).saturating_mul(2), Cents(i64::MAX));
        assert_eq!(Cents(-3).at_least_zero(), Cents::ZERO);
        assert_eq!(Cents(3).at_least_zero(), Cents(3));
    }

    #[test]
    fn cents_serialize_as_a_bare_integer() {
        assert_eq!(serde_json::to_string(&Cents(1234)).unwrap(), "1234");
        assert_eq!(serde_json::from_str::<Cents>("-5").unwrap(), Cents(-5));
        let config = bincode::config::standard();
        assert_eq!(
            bincode::serde::encode_to_vec(Cents(1234), config).unwrap(),
            bincode::serde::encode_to_vec(1234i64, config).unwrap()
        );
    }

    proptest! {
        #[test]
        fn round_half_up_div_is_within_half_of_the_exact_quotient(
            numerator in -1_000_000_000_000i128..1_000_000_000_000,
            denominator in 1i128..1_000_000,
        ) {
            let rounded = i128::from(round_half_up_div(numerator, denominator));
            // |n/d − rounded| ≤ 1/2  ⇔  |n − rounded·d|·2 ≤ d
            let error = (numerator - rounded * denominator).abs() * 2;
            prop_assert!(error <= denominator);
            // Ties go away from zero.
            if error == denominator {
                prop_assert!(rounded.abs() * denominator > numerator.abs());
            }
        }

        #[test]
        fn proportional_shares_stay_within_the_part(
            whole in 1i64..10_000_000,
            cash_share in 0u32..=1000,
            part_share in 0u32..=1000,
        ) {
            let cash_paid = apply_permille(Cents(whole), cash_share);
            let part = apply_permille(Cents(whole), part_share);
            let (cash, voucher) = proportional_split(part, Cents(whole), cash_paid);
            prop_assert!(cash >= Cents::ZERO && voucher >= Cents::ZERO);
            prop_assert_eq!(cash.saturating_add(voucher), part);
            prop_assert!(cash <= cash_paid);
        }
    }
}
