//! The plain rules of group buying: what a campaign may say, where a group is in its life,
//! what happens to it at its deadline, and which open group to offer a buyer who missed one.
use async_graphql::Enum;
use chrono::{DateTime, Utc};

use super::errors::GroupBuyErrorCode as Code;

/// The smallest and largest group.
pub const MIN_GROUP_SIZE: i32 = 2;
pub const MAX_GROUP_SIZE: i32 = 100;
/// The longest a group may take to fill: 30 days.
pub const MAX_TIME_LIMIT_HOURS: i32 = 720;
/// The most group orders one buyer may hold in one campaign.
pub const MAX_PER_USER_LIMIT: i32 = 100;
/// The most SKUs a campaign lists.
pub const MAX_SKUS: usize = 200;

/// Where a group is in its life.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(name = "GroupBuyStatus")]
pub enum GroupStatus {
    /// 拼团中: filling; buyers may join until the deadline.
    Open,
    /// 拼团成功: every place was paid (or, at the deadline, enough for the campaign's automatic
    /// completion); its orders move on to review and shipping.
    Succeeded,
    /// 拼团失败: the deadline passed short of members; every paid member is refunded.
    Failed,
}

impl GroupStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupStatus::Open => "OPEN",
            GroupStatus::Succeeded => "SUCCEEDED",
            GroupStatus::Failed => "FAILED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "OPEN" => Some(GroupStatus::Open),
            "SUCCEEDED" => Some(GroupStatus::Succeeded),
            "FAILED" => Some(GroupStatus::Failed),
            _ => None,
        }
    }
}

/// Where a member's order is in its group.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(name = "GroupBuyMemberStatus")]
pub enum MemberStatus {
    /// The order holds a place and waits for payment (until the payment timeout).
    Holding,
    /// Paid.
    Paid,
    /// The group failed (or the buyer asked) and the money went back.
    Refunded,
}

impl MemberStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberStatus::Holding => "HOLDING",
            MemberStatus::Paid => "PAID",
            MemberStatus::Refunded => "REFUNDED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "HOLDING" => Some(MemberStatus::Holding),
            "PAID" => Some(MemberStatus::Paid),
            "REFUNDED" => Some(MemberStatus::Refunded),
            _ => None,
        }
    }
}

/// A campaign as it is now, from its window and whether staff ended it.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(name = "GroupBuyCampaignStatus")]
pub enum CampaignStatus {
    /// Its window has not opened yet.
    Scheduled,
    /// Groups may be launched now.
    Running,
    /// Its window closed; groups launched before may still fill until their deadlines.
    Over,
    /// Ended early by staff: no new groups, no new members.
    Ended,
}

pub fn campaign_status(
    ended: bool,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> CampaignStatus {
    if ended {
        CampaignStatus::Ended
    } else if now < starts_at {
        CampaignStatus::Scheduled
    } else if now < ends_at {
        CampaignStatus::Running
    } else {
        CampaignStatus::Over
    }
}

/// What staff ask for when they create a campaign (amounts in fen, SKU prices beside the
/// group prices so the rules can compare them).
#[derive(Clone, Debug)]
pub struct CampaignTerms {
    pub name: String,
    pub group_size: i32,
    pub time_limit_hours: i32,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub per_user_limit: i32,
    pub distributors_may_launch: bool,
    pub consumers_may_launch: bool,
    pub auto_complete_min: Option<i32>,
    pub leader_discount_fen: i64,
    /// `(sku price, group price)` of each SKU listed.
    pub prices: Vec<(i64, i64)>,
}

/// The first thing wrong with `t`, as a code, the input field and a message.
pub fn check_terms(
    t: &CampaignTerms,
    now: DateTime<Utc>,
) -> Result<(), (Code, &'static str, String)> {
    let name = t.name.trim().chars().count();
    if name == 0 || name > 40 {
        return Err((
            Code::InvalidName,
            "name",
            "a name of 1 to 40 characters".into(),
        ));
    }
    if !(MIN_GROUP_SIZE..=MAX_GROUP_SIZE).contains(&t.group_size) {
        return Err((
            Code::InvalidGroupSize,
            "groupSize",
            format!("a group has {MIN_GROUP_SIZE} to {MAX_GROUP_SIZE} members"),
        ));
    }
    if !(1..=MAX_TIME_LIMIT_HOURS).contains(&t.time_limit_hours) {
        return Err((
            Code::InvalidWindow,
            "timeLimitHours",
            format!("a group fills within 1 to {MAX_TIME_LIMIT_HOURS} hours"),
        ));
    }
    if t.ends_at <= t.starts_at || t.ends_at <= now {
        return Err((
            Code::InvalidWindow,
            "endsAt",
            "the campaign must end after it starts, and in the future".into(),
        ));
    }
    if !(1..=MAX_PER_USER_LIMIT).contains(&t.per_user_limit) {
        return Err((
            Code::InvalidQuantity,
            "perUserLimit",
            format!("a buyer may hold 1 to {MAX_PER_USER_LIMIT} group orders of a campaign"),
        ));
    }
    if !t.distributors_may_launch && !t.consumers_may_launch {
        return Err((
            Code::InvalidLaunchers,
            "distributorsMayLaunch",
            "let distributors, consumers or both launch groups".into(),
        ));
    }
    if t.auto_complete_min
        .is_some_and(|k| k < 1 || k >= t.group_size)
    {
        return Err((
            Code::InvalidGroupSize,
            "autoCompleteMin",
            "automatic completion needs at least 1 paid member and fewer than the group size"
                .into(),
        ));
    }
    if t.prices.is_empty() || t.prices.len() > MAX_SKUS {
        return Err((
            Code::InvalidSkus,
            "skus",
            format!("list 1 to {MAX_SKUS} SKUs of the product"),
        ));
    }
    if let Some((price, _)) = t
        .prices
        .iter()
        .find(|(price, group)| *group <= 0 || group >= price)
    {
        return Err((
            Code::InvalidPrice,
            "skus",
            format!(
                "a group price is at least ¥0.01 and below the SKU's price (¥{})",
                crate::money::to_decimal(*price)
            ),
        ));
    }
    let cheapest = t.prices.iter().map(|(_, g)| *g).min().unwrap_or(0);
    if t.leader_discount_fen < 0 || t.leader_discount_fen >= cheapest {
        return Err((
            Code::InvalidPrice,
            "leaderDiscount",
            "the leader's discount is ¥0.00 or more and below the lowest group price".into(),
        ));
    }
    Ok(())
}

/// What a group that reaches its deadline open becomes: it succeeds if the campaign completes
/// groups automatically and enough members paid (虚拟成团), else it fails.
pub fn at_deadline(paid: i32, auto_complete_min: Option<i32>) -> GroupStatus {
    match auto_complete_min {
        Some(k) if paid >= k && paid > 0 => GroupStatus::Succeeded,
        _ => GroupStatus::Failed,
    }
}

/// How close a joinable group is to success, smallest first: fewest places left, then the
/// earliest deadline, then the oldest. The order groups are offered in.
pub fn closeness(
    size: i32,
    taken: i32,
    deadline: DateTime<Utc>,
    id: i64,
) -> (i32, DateTime<Utc>, i64) {
    (size - taken, deadline, id)
}

/// Places among which a refused buyer's suggestion is spread.
pub const SUGGESTION_SPREAD: i64 = 10;

/// The group to offer a buyer who missed a place, from the joinable groups closest to success
/// first (`(id, places left)`): the closest, or — when it has fewer than
/// `SUGGESTION_SPREAD` places left — one of the closest few whose places add up to that,
/// chosen by `roll` in proportion to their places. Buyers refused together (a group's last
/// place taken by one of a hundred) then spread over the nearly full groups instead of all
/// chasing the same last place, which would refuse all but one of them again.
pub fn pick_suggestion(closest_first: &[(i64, i64)], roll: u64) -> Option<i64> {
    let mut window = Vec::new();
    let mut places = 0;
    for &(id, left) in closest_first.iter().filter(|(_, left)| *left > 0) {
        window.push((id, left));
        places += left;
        if places >= SUGGESTION_SPREAD {
            break;
        }
    }
    if places == 0 {
        return None;
    }
    let mut ticket = (roll % places as u64) as i64;
    window.into_iter().find_map(|(id, left)| {
        if ticket < left {
            Some(id)
        } else {
            ticket -= left;
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    #[test]
    fn suggestions_spread_over_the_closest_places_in_proportion() {
        assert_eq!(pick_suggestion(&[], 7), None);
        assert_eq!(pick_suggestion(&[(1, 0)], 7), None);
        // A group with enough places is always the one offered.
        for roll in 0..50 {
            assert_eq!(pick_suggestion(&[(1, 12), (2, 1)], roll), Some(1));
        }
        // Groups of five with 1, 2, 3 and 4 places left: the first three groups' six places and
        // the fourth's four make the window of ten; each is offered once per place.
        let groups = [(1, 1), (2, 2), (3, 3), (4, 4), (5, 5)];
        let mut offered = std::collections::HashMap::new();
        for roll in 0..10 {
            *offered
                .entry(pick_suggestion(&groups, roll).unwrap())
                .or_insert(0) += 1;
        }
        assert_eq!(
            offered,
            [(1, 1), (2, 2), (3, 3), (4, 4)].into_iter().collect()
        );
        // Closest first in the list is kept: a full group in between is skipped.
        assert_eq!(pick_suggestion(&[(9, 0), (3, 1)], 123), Some(3));
    }

    fn terms() -> CampaignTerms {
        CampaignTerms {
            name: "3人团".into(),
            group_size: 3,
            time_limit_hours: 24,
            starts_at: Utc::now(),
            ends_at: Utc::now() + Duration::days(7),
            per_user_limit: 1,
            distributors_may_launch: true,
            consumers_may_launch: false,
            auto_complete_min: None,
            leader_discount_fen: 0,
            prices: vec![(9_900, 7_900)],
        }
    }

    fn code_of(t: &CampaignTerms) -> Option<Code> {
        check_terms(t, Utc::now()).err().map(|(c, _, _)| c)
    }

    type Spoil = Box<dyn Fn(&mut CampaignTerms)>;

    #[test]
    fn sound_terms_pass_and_each_bad_one_is_named() {
        assert_eq!(code_of(&terms()), None);
        let bad: Vec<(Spoil, Code)> = vec![
            (Box::new(|t| t.group_size = 1), Code::InvalidGroupSize),
            (Box::new(|t| t.group_size = 101), Code::InvalidGroupSize),
            (Box::new(|t| t.time_limit_hours = 0), Code::InvalidWindow),
            (
                Box::new(|t| t.ends_at = Utc::now() - Duration::hours(1)),
                Code::InvalidWindow,
            ),
            (Box::new(|t| t.per_user_limit = 0), Code::InvalidQuantity),
            (
                Box::new(|t| t.distributors_may_launch = false),
                Code::InvalidLaunchers,
            ),
            (
                Box::new(|t| t.auto_complete_min = Some(3)),
                Code::InvalidGroupSize,
            ),
            (Box::new(|t| t.prices.clear()), Code::InvalidSkus),
            // A group price above (or at) the normal price.
            (
                Box::new(|t| t.prices = vec![(9_900, 9_900)]),
                Code::InvalidPrice,
            ),
            (
                Box::new(|t| t.prices = vec![(9_900, 0)]),
                Code::InvalidPrice,
            ),
            (
                Box::new(|t| t.leader_discount_fen = 7_900),
                Code::InvalidPrice,
            ),
            (Box::new(|t| t.name = " ".into()), Code::InvalidName),
        ];
        for (spoil, code) in bad {
            let mut t = terms();
            spoil(&mut t);
            assert_eq!(code_of(&t), Some(code), "{t:?}");
        }
    }

    #[test]
    fn a_group_at_its_deadline_succeeds_only_by_automatic_completion() {
        assert_eq!(at_deadline(2, None), GroupStatus::Failed);
        assert_eq!(at_deadline(2, Some(2)), GroupStatus::Succeeded);
        assert_eq!(at_deadline(1, Some(2)), GroupStatus::Failed);
        assert_eq!(at_deadline(0, Some(1)), GroupStatus::Failed);
    }

    #[test]
    fn groups_closest_to_success_come_first() {
        let now = Utc::now();
        let g = |id: i64, size, taken, mins| {
            (
                id,
                closeness(size, taken, now + Duration::minutes(mins), id),
            )
        };
        let mut open = [
            g(2, 5, 3, 60),  // two left
            g(4, 5, 4, 90),  // one left, later
            g(5, 5, 4, 30),  // one left, sooner
            g(6, 10, 8, 10), // two left, soonest
            g(7, 5, 4, 30),  // as 5, but newer
        ];
        open.sort_by_key(|(_, key)| *key);
        let order: Vec<i64> = open.iter().map(|(id, _)| *id).collect();
        assert_eq!(order, [5, 7, 4, 6, 2]);
    }

    #[test]
    fn a_campaigns_status_follows_its_window() {
        let now = Utc::now();
        let (a, b) = (now - Duration::hours(1), now + Duration::hours(1));
        assert_eq!(campaign_status(false, a, b, now), CampaignStatus::Running);
        assert_eq!(
            campaign_status(false, b, b + Duration::hours(1), now),
            CampaignStatus::Scheduled
        );
        assert_eq!(
            campaign_status(false, a - Duration::hours(1), a, now),
            CampaignStatus::Over
        );
        assert_eq!(campaign_status(true, a, b, now), CampaignStatus::Ended);
    }
}
