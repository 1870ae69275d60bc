//! The distribution area's GraphQL objects. Who may read what is decided here, once per kind:
//! a distributor reads their own profile, commissions, balance, ledger and withdrawals; staff
//! with `DISTRIBUTION` read distributors, applications and commissions; staff with `FINANCE`
//! read withdrawals (with the full account) and commissions. Buyers appear masked.
use std::sync::Arc;

use async_graphql::{Context, Description, ID, Object, SimpleObject, connection::PageInfo};
use entity::{
    balance_entry, commission, commission_rule_version, distributor, distributor_application,
    distributor_level, distributor_tree, settlement_run, withdrawal,
};

use super::{
    commissions::CommissionStatus,
    ledger::LedgerKind,
    levels::conditions_of,
    recruitment::ApplicationStatus,
    rules::{self, CommissionBase, CommissionRules, SettlementCycle},
    settings::{ApplicationField, DistributionSettings, RecruitmentMode},
    withdrawals::{WithdrawalChannel, WithdrawalStatus},
};
use crate::{
    accounts::{User, rules::mask_phone},
    auth::{Permission, Viewer},
    graphql::{
        context::CtxExt,
        ids,
        relay::encode_cursor,
        scalars::{DateTime, Money, Percent},
    },
    orders::types::{mask_name, yuan},
};

fn is_staff_with(viewer: &Viewer, p: Permission) -> bool {
    viewer.principal().is_some_and(|me| me.has(p))
}

/// The distributor themselves, or distribution staff.
pub fn can_read_distributor(viewer: &Viewer, user_id: i64) -> bool {
    viewer
        .principal()
        .is_some_and(|me| me.user_id == user_id || me.has(Permission::Distribution))
}

/// A commission's beneficiary, or distribution or finance staff.
pub fn can_read_commission(viewer: &Viewer, c: &commission::Model) -> bool {
    viewer.principal().is_some_and(|me| {
        me.user_id == c.beneficiary_user_id
            || me.has(Permission::Distribution)
            || me.has(Permission::Finance)
    })
}

/// A withdrawal's requester, or finance staff.
pub fn can_read_withdrawal(viewer: &Viewer, w: &withdrawal::Model) -> bool {
    viewer
        .principal()
        .is_some_and(|me| me.user_id == w.user_id || me.has(Permission::Finance))
}

/// Whether a distributor may earn, recruit and share.
#[derive(async_graphql::Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DistributorStatus {
    /// Earns commission, recruits and shares.
    Active,
    /// Disabled by staff (`setDistributorEnabled`): loses the DISTRIBUTOR role, earns no new
    /// commission, their referral code binds nobody and they cannot withdraw; their team,
    /// records and balance stay.
    Disabled,
}

impl DistributorStatus {
    pub fn of(d: &distributor::Model) -> Self {
        if d.status == super::team::STATUS_ACTIVE {
            DistributorStatus::Active
        } else {
            DistributorStatus::Disabled
        }
    }
}

/// A distributor's profile.
pub struct Distributor(pub distributor::Model);

/// A distributor's profile. Readable by the distributor themselves and by staff with
/// DISTRIBUTION (finance staff reach it through withdrawals, both through commissions).
#[Object]
impl Distributor {
    /// Opaque global id (it carries the distributor's user id).
    pub async fn id(&self) -> ID {
        ids::encode("Distributor", self.0.user_id)
    }
    /// The distributor's account.
    async fn user(&self) -> User {
        User::by_id(self.0.user_id)
    }
    /// The 8-character referral code in their share links (also what `bindReferrer` and
    /// `inviterCode` take).
    async fn referral_code(&self) -> &str {
        &self.0.referral_code
    }
    /// Whether the distributor is active or disabled by staff.
    async fn status(&self) -> DistributorStatus {
        DistributorStatus::of(&self.0)
    }
    /// Display name, 1–64 characters (the account's nickname at approval until staff change it).
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Contact mobile number, in full (only the distributor and staff read this object); null
    /// when the account has no phone.
    async fn phone(&self) -> Option<&str> {
        self.0.phone.as_deref()
    }
    /// The team's name staff gave it, up to 64 characters; null when none.
    async fn team_name(&self) -> Option<&str> {
        self.0.team_name.as_deref()
    }
    /// Their distributor level; null when they have none.
    async fn level(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<DistributorLevel>> {
        level_of(ctx, self.0.level_id).await
    }
    /// Who recruited this distributor, as teams show them; null at the top of a tree.
    async fn inviter(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<TeamMember>> {
        let Some(id) = self.0.inviter_user_id else {
            return Ok(None);
        };
        Ok(ctx
            .loaders()
            .distributors
            .load_one(id)
            .await?
            .map(TeamMember))
    }
    /// What the goods of the paid orders attributed to this distributor paid, net of refunds
    /// (shipping is no sale): the level condition "own sales".
    async fn sales(&self) -> Money {
        yuan(self.0.own_sales_fen)
    }
    /// Paid orders attributed to this distributor, less those whose goods were all refunded:
    /// the level condition "order count".
    async fn order_count(&self) -> i64 {
        self.0.order_count
    }
    /// When they became a distributor.
    async fn approved_at(&self) -> DateTime {
        DateTime(self.0.approved_at)
    }
}

async fn level_of(
    ctx: &Context<'_>,
    level_id: Option<i64>,
) -> async_graphql::Result<Option<DistributorLevel>> {
    Ok(match level_id {
        Some(id) => ctx
            .loaders()
            .distributor_levels
            .load_one(id)
            .await?
            .map(DistributorLevel),
        None => None,
    })
}

/// A distributor as the teams and uplines they appear in show them: name, masked phone, level
/// and whether they are active, never their customers or money. It has its own id (not the
/// `Distributor` id) and its fields are the same in every tree and for every viewer, so a client
/// cache may merge every appearance into one record; where a member stands in a particular tree
/// (depth, when they joined it) and their sales are on the `TeamEdge` that leads to them.
/// Shown to the distributors whose team (to three levels) or upline they are in, to
/// themselves, and to staff (as a distributor's `inviter`); `node` opens it for the same
/// distributors, themselves and staff with DISTRIBUTION.
#[derive(Description)]
pub struct TeamMember(pub Arc<distributor::Model>);

#[Object(use_type_description)]
impl TeamMember {
    /// Opaque global id of this team-member view of a distributor (`node` fetches it).
    pub async fn id(&self) -> ID {
        ids::encode("TeamMember", self.0.user_id)
    }
    /// The global id of the same person's `Distributor` profile, which only they and staff with
    /// DISTRIBUTION may open.
    async fn distributor_id(&self) -> ID {
        ids::encode("Distributor", self.0.user_id)
    }
    /// The distributor's name as on their profile.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Their mobile number, masked (`138****0001`); null when their profile has none.
    async fn phone(&self) -> Option<String> {
        self.0.phone.as_deref().map(mask_phone)
    }
    /// Their distributor level; null while they hold none.
    async fn level(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<DistributorLevel>> {
        level_of(ctx, self.0.level_id).await
    }
    /// False while staff have disabled them (a disabled distributor earns nothing).
    async fn active(&self) -> bool {
        self.0.status == super::team::STATUS_ACTIVE
    }
    /// When they became a distributor.
    async fn approved_at(&self) -> DateTime {
        DateTime(self.0.approved_at)
    }
}

/// Whether the viewer may see `member` as a `TeamMember`: staff with DISTRIBUTION, the member
/// themselves, and an active distributor whose team (to three levels) or upline they are in.
pub async fn can_read_team_member(
    conn: &impl sea_orm::ConnectionTrait,
    viewer: &Viewer,
    member: i64,
) -> Result<bool, crate::error::AppError> {
    use sea_orm::EntityTrait;
    let Some(me) = viewer.principal() else {
        return Ok(false);
    };
    if me.user_id == member || me.has(Permission::Distribution) {
        return Ok(true);
    }
    if !me.is_distributor {
        return Ok(false);
    }
    for pair in [(me.user_id, member), (member, me.user_id)] {
        if entity::distributor_tree::Entity::find_by_id(pair)
            .one(conn)
            .await?
            .is_some_and(|row| (1..=3).contains(&row.depth))
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A member of a distributor's team as seen from that distributor (the tree's root): the edge
/// carries what depends on the tree, the node who the member is.
#[derive(Description)]
pub struct TeamEdge {
    pub row: distributor_tree::Model,
    pub member: Arc<distributor::Model>,
}

#[Object(use_type_description)]
impl TeamEdge {
    /// Pass as `after` (or `before`) to page on from this member.
    async fn cursor(&self) -> String {
        encode_cursor(self.row.descendant_user_id)
    }
    /// The member.
    async fn node(&self) -> TeamMember {
        TeamMember(self.member.clone())
    }
    /// Levels below the tree's root: 1 for those the root invited, 2 for those they invited, 3
    /// below that. The same member has another depth in another distributor's tree.
    async fn depth(&self) -> i32 {
        self.row.depth
    }
    /// When the member entered the root's team: at their approval, or when staff moved them (or
    /// someone above them) into it.
    async fn joined_at(&self) -> DateTime {
        DateTime(self.row.created_at)
    }
    /// Paid amount of the orders attributed to the member, net of refunds, all time, in yuan.
    /// On the edge because only those above a member see it (their upline shows no sales).
    async fn sales(&self) -> Money {
        yuan(self.member.own_sales_fen)
    }
    /// Paid orders attributed to the member, all time (seen from above only, like `sales`).
    async fn order_count(&self) -> i64 {
        self.member.order_count
    }
}

/// One page of a distributor's team — the inviter tree below them, to the depth asked for —
/// newest member first, as a Relay connection, with the team's size per level.
#[derive(Description)]
pub struct TeamConnection {
    pub edges: Vec<TeamEdge>,
    pub has_previous_page: bool,
    pub has_next_page: bool,
    pub counts: TeamCounts,
    /// Deepest level the page was asked for (1–3).
    pub depth: i32,
}

#[Object(use_type_description)]
impl TeamConnection {
    /// The members on this page, each with where they stand in this tree.
    async fn edges(&self) -> &[TeamEdge] {
        &self.edges
    }
    /// The members on this page without their edges' tree-relative fields.
    async fn nodes(&self) -> Vec<TeamMember> {
        self.edges
            .iter()
            .map(|e| TeamMember(e.member.clone()))
            .collect()
    }
    /// Whether there are members before or after this page, and the cursors at its ends.
    async fn page_info(&self) -> PageInfo {
        PageInfo {
            has_previous_page: self.has_previous_page,
            has_next_page: self.has_next_page,
            start_cursor: self
                .edges
                .first()
                .map(|e| encode_cursor(e.row.descendant_user_id)),
            end_cursor: self
                .edges
                .last()
                .map(|e| encode_cursor(e.row.descendant_user_id)),
        }
    }
    /// Members down to the depth asked for, across all pages.
    async fn total_count(&self) -> i64 {
        [self.counts.level1, self.counts.level2, self.counts.level3]
            .iter()
            .take(self.depth.clamp(0, 3) as usize)
            .sum()
    }
    /// Members per level below the root, to level 3 whatever the depth asked for.
    async fn counts(&self) -> TeamCounts {
        self.counts
    }
}

/// A distributor above the caller in the inviter tree.
#[derive(SimpleObject)]
pub struct UplineEntry {
    /// Levels above the caller: 1 for the distributor who invited them, 2 for that one's
    /// inviter, 3 above that.
    pub distance: i32,
    /// Who it is (their sales are not shown: a distributor's business is seen from above only).
    pub member: TeamMember,
}

/// Members of a team per level below the distributor.
#[derive(SimpleObject, Clone, Copy, Default)]
pub struct TeamCounts {
    /// Distributors they invited themselves.
    pub level1: i64,
    /// Distributors invited by those.
    pub level2: i64,
    /// The level below that.
    pub level3: i64,
    /// All three levels together.
    pub total: i64,
}

pub struct DistributorLevel(pub Arc<distributor_level::Model>);

/// What a distributor must achieve to reach a level. Conditions that are null are not asked.
#[derive(SimpleObject)]
pub struct LevelConditionsView {
    /// Every condition set must hold (else any one).
    require_all: bool,
    /// At least this many distributors they invited themselves.
    invited_distributors: Option<i64>,
    /// At least this much attributed sales of everyone below them in the tree, in yuan.
    team_sales: Option<Money>,
    /// At least this much of their own attributed sales, in yuan (net of refunds).
    own_sales: Option<Money>,
    /// At least this many paid attributed orders.
    order_count: Option<i64>,
}

/// A distributor level (e.g. 银牌, 金牌) with its upgrade conditions; the beneficiary's level
/// may have its own commission rates. Readable by anyone signed in.
#[Object]
impl DistributorLevel {
    /// Opaque global id.
    async fn id(&self) -> ID {
        ids::encode("DistributorLevel", self.0.id)
    }
    /// 1–32 characters.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// 1–100, unique; a higher rank is a higher level. Levels rise automatically after each
    /// settlement, never fall by themselves.
    async fn rank(&self) -> i32 {
        self.0.rank
    }
    /// What reaching this level takes.
    async fn conditions(&self) -> LevelConditionsView {
        let c = conditions_of(&self.0);
        LevelConditionsView {
            require_all: c.require_all,
            invited_distributors: c.invited_distributors,
            team_sales: c.team_sales_fen.map(yuan),
            own_sales: c.own_sales_fen.map(yuan),
            order_count: c.order_count,
        }
    }
}

pub struct DistributorApplication(pub distributor_application::Model);

/// One answer on an application form.
#[derive(SimpleObject)]
pub struct ApplicationAnswer {
    /// The form field's key, e.g. `experience`.
    key: String,
    /// What the applicant answered, up to 500 characters.
    value: String,
}

/// An application to become a distributor. Readable by the applicant and by staff with
/// DISTRIBUTION.
#[Object]
impl DistributorApplication {
    /// Opaque global id.
    async fn id(&self) -> ID {
        ids::encode("DistributorApplication", self.0.id)
    }
    /// Who applied.
    async fn applicant(&self) -> User {
        User::by_id(self.0.user_id)
    }
    /// Where the application is.
    async fn status(&self) -> Option<ApplicationStatus> {
        ApplicationStatus::parse(&self.0.status)
    }
    /// The form's answers, one per field answered.
    async fn answers(&self) -> Vec<ApplicationAnswer> {
        serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&self.0.answers)
            .unwrap_or_default()
            .into_iter()
            .map(|(key, v)| ApplicationAnswer {
                key,
                value: v.as_str().unwrap_or_default().to_string(),
            })
            .collect()
    }
    /// The referral code of the distributor who invited the applicant; null when none.
    async fn inviter_code(&self) -> Option<&str> {
        self.0.inviter_code.as_deref()
    }
    /// Why it was rejected (the applicant is told); null unless rejected.
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }
    /// When it was sent.
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
    /// When it was approved or rejected (at once under `OPEN`, `INVITATION` and a reached
    /// `SPEND_THRESHOLD`); null while pending.
    async fn reviewed_at(&self) -> Option<DateTime> {
        self.0.reviewed_at.map(DateTime)
    }
}

/// A commission record: what one order line pays one distributor at one tier.
pub struct Commission(pub commission::Model);

/// A commission record: what one order line pays one distributor at one tier (ARCHITECTURE.md
/// §11). Readable by the distributor who earns it and by staff with DISTRIBUTION or FINANCE.
#[Object]
impl Commission {
    /// Opaque global id.
    pub async fn id(&self) -> ID {
        ids::encode("Commission", self.0.id)
    }
    /// 1 = the distributor the buyer is bound to, 2 = their inviter, 3 = above.
    async fn tier(&self) -> i16 {
        self.0.tier
    }
    /// Where the record is: estimated, confirmed, settled or reversed.
    async fn status(&self) -> Option<CommissionStatus> {
        CommissionStatus::parse(&self.0.status)
    }
    /// What the rate applied to, under the rule version of the order.
    async fn base_kind(&self) -> CommissionBase {
        if self.0.base_kind == CommissionBase::Profit.as_str() {
            CommissionBase::Profit
        } else {
            CommissionBase::Sales
        }
    }
    /// What the rate applied to, in yuan: the line's paid amount (or profit) when the record was
    /// created.
    async fn base(&self) -> Money {
        yuan(self.0.base_fen)
    }
    /// The rate applied to `base`; null when a fixed amount per unit applied instead
    /// (`fixedPerUnit`).
    async fn rate(&self) -> Option<Percent> {
        self.0
            .rate
            .as_deref()
            .and_then(|r| r.parse().ok())
            .map(Percent)
    }
    /// Yuan per unit, when a fixed override applied; null when a rate did.
    async fn fixed_per_unit(&self) -> Option<Money> {
        self.0.fixed_fen.map(yuan)
    }
    /// What the record pays now, in yuan: rounded half up to the fen, after the cap (see
    /// `capped`) and any refunds.
    async fn amount(&self) -> Money {
        yuan(self.0.amount_fen)
    }
    /// What refunds took back, in yuan (0.00 when none).
    async fn reversed_amount(&self) -> Money {
        yuan(self.0.reversed_fen)
    }
    /// True when this record was cut by the cap: a line never pays more commission, over all
    /// its tiers, than its base (what the line paid, or its profit), so once the nearer tiers
    /// have taken the base this tier gets only what was left. `amount` is what is paid.
    async fn capped(&self) -> bool {
        self.0.capped
    }
    /// The commission rule version the order was placed under.
    async fn rule_version(&self) -> i64 {
        self.0.rule_version
    }
    /// The order's number; null if the order no longer exists. With `productName`, `quantity`
    /// and `buyer` (masked): enough to recognise the sale.
    async fn order_no(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<String>> {
        Ok(ctx
            .loaders()
            .orders
            .load_one(self.0.order_id)
            .await?
            .map(|o| o.order_no.clone()))
    }
    /// The order line's product name; null if the line no longer exists.
    async fn product_name(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<String>> {
        Ok(ctx
            .loaders()
            .order_lines_by_id
            .load_one(self.0.order_line_id)
            .await?
            .map(|l| l.product_name.clone()))
    }
    /// Units the order line bought; null if the line no longer exists.
    async fn quantity(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<i64>> {
        Ok(ctx
            .loaders()
            .order_lines_by_id
            .load_one(self.0.order_line_id)
            .await?
            .map(|l| l.quantity))
    }
    /// The buyer's nickname, masked (`张*`); null if the account no longer exists.
    async fn buyer(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<String>> {
        Ok(ctx
            .loaders()
            .users
            .load_one(self.0.buyer_user_id)
            .await?
            .map(|u| mask_name(&u.nickname)))
    }
    /// Who earns it; null for anyone but staff with DISTRIBUTION or FINANCE (a distributor knows
    /// it is them).
    async fn distributor(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Distributor>> {
        if !is_staff_with(ctx.viewer(), Permission::Distribution)
            && !is_staff_with(ctx.viewer(), Permission::Finance)
        {
            return Ok(None);
        }
        Ok(ctx
            .loaders()
            .distributors
            .load_one(self.0.beneficiary_user_id)
            .await?
            .map(|d| Distributor((*d).clone())))
    }
    /// When the order was paid and the record created.
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
    /// When the order completed and the record was confirmed; null until then.
    async fn confirmed_at(&self) -> Option<DateTime> {
        self.0.confirmed_at.map(DateTime)
    }
    /// When a settlement run credited it; null until then.
    async fn settled_at(&self) -> Option<DateTime> {
        self.0.settled_at.map(DateTime)
    }
    /// When refunds took all of it back; null unless `REVERSED`.
    async fn reversed_at(&self) -> Option<DateTime> {
        self.0.reversed_at.map(DateTime)
    }
}

/// A distributor's money.
#[derive(SimpleObject)]
pub struct Balance {
    /// What can be withdrawn (negative while a reversal is being repaid).
    pub available: Money,
    /// Asked for in withdrawals not yet paid or rejected.
    pub frozen: Money,
    /// Estimated and confirmed commissions not settled yet.
    pub pending_commission: Money,
    /// Everything settled into the balance, net of reversals.
    pub lifetime_earned: Money,
}

pub struct LedgerEntry(pub balance_entry::Model);

/// One entry of a distributor's append-only balance ledger (ARCHITECTURE.md §9.3); the
/// balances after the latest entry are the balance. Readable by the distributor.
#[Object]
impl LedgerEntry {
    /// Opaque global id.
    async fn id(&self) -> ID {
        ids::encode("LedgerEntry", self.0.id)
    }
    /// Why money moved.
    async fn kind(&self) -> Option<LedgerKind> {
        LedgerKind::parse(&self.0.kind)
    }
    /// Change of the available money, in yuan (negative when it went down).
    async fn available_change(&self) -> Money {
        yuan(self.0.available_delta_fen)
    }
    /// Change of the frozen money, in yuan (negative when it went down).
    async fn frozen_change(&self) -> Money {
        yuan(self.0.frozen_delta_fen)
    }
    /// Available money after this entry, in yuan (negative while a reversal is being repaid).
    async fn available_after(&self) -> Money {
        yuan(self.0.available_after_fen)
    }
    /// Frozen money after this entry, in yuan.
    async fn frozen_after(&self) -> Money {
        yuan(self.0.frozen_after_fen)
    }
    /// What it refers to: the settlement period, the withdrawal number, the transfer reference
    /// or rejection reason of a withdrawal, or the refund number of a reversal; null when none
    /// was recorded.
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
    /// When it was posted.
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
}

pub struct Withdrawal(pub withdrawal::Model);

/// A request to pay out part of a distributor's available balance. Readable by the
/// distributor who asked and by staff with FINANCE.
#[Object]
impl Withdrawal {
    /// Opaque global id.
    pub async fn id(&self) -> ID {
        ids::encode("Withdrawal", self.0.id)
    }
    /// Human-readable number: `W`, the time asked and six random digits.
    async fn withdrawal_no(&self) -> &str {
        &self.0.withdrawal_no
    }
    /// What was asked for and frozen, in yuan.
    async fn amount(&self) -> Money {
        yuan(self.0.amount_fen)
    }
    /// The fee, in yuan: `amount × withdrawalFeeRate %`, rounded half up to the fen.
    async fn fee(&self) -> Money {
        yuan(self.0.fee_fen)
    }
    /// What reaches the distributor: `amount − fee`, in yuan.
    async fn net_amount(&self) -> Money {
        yuan(self.0.net_fen)
    }
    /// Where the money goes.
    async fn channel(&self) -> Option<WithdrawalChannel> {
        WithdrawalChannel::parse(&self.0.channel)
    }
    /// Masked (last four characters) except to finance staff.
    async fn account(&self, ctx: &Context<'_>) -> String {
        if is_staff_with(ctx.viewer(), Permission::Finance) {
            self.0.account.clone()
        } else {
            rules::mask_account(&self.0.account)
        }
    }
    /// The account holder's name; null when not given.
    async fn account_name(&self) -> Option<&str> {
        self.0.account_name.as_deref()
    }
    /// Where the request is.
    async fn status(&self) -> Option<WithdrawalStatus> {
        WithdrawalStatus::parse(&self.0.status)
    }
    /// Why finance rejected it; null unless rejected.
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }
    /// The bank's or WeChat's reference of the transfer; null until paid.
    async fn transfer_reference(&self) -> Option<&str> {
        self.0.transfer_ref.as_deref()
    }
    /// Who asked; null for anyone but finance staff.
    async fn distributor(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Distributor>> {
        if !is_staff_with(ctx.viewer(), Permission::Finance) {
            return Ok(None);
        }
        Ok(ctx
            .loaders()
            .distributors
            .load_one(self.0.user_id)
            .await?
            .map(|d| Distributor((*d).clone())))
    }
    /// When it was asked for.
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
    /// When finance approved or rejected it; null until then.
    async fn reviewed_at(&self) -> Option<DateTime> {
        self.0.reviewed_at.map(DateTime)
    }
    /// When finance marked it paid; null until then.
    async fn paid_at(&self) -> Option<DateTime> {
        self.0.paid_at.map(DateTime)
    }
}

pub struct SettlementRun(pub settlement_run::Model);

/// One settlement: the confirmed commissions of a period credited to their distributors.
/// Readable by staff with DISTRIBUTION or FINANCE.
#[Object]
impl SettlementRun {
    /// Opaque global id.
    async fn id(&self) -> ID {
        ids::encode("SettlementRun", self.0.id)
    }
    /// e.g. `MONTHLY:2026-11`.
    async fn period(&self) -> &str {
        &self.0.period_key
    }
    /// Commissions confirmed before this instant were settled.
    async fn cutoff(&self) -> DateTime {
        DateTime(self.0.cutoff)
    }
    /// Commission records it settled.
    async fn records(&self) -> i64 {
        self.0.records
    }
    /// Distributors it credited (one ledger entry each).
    async fn distributors(&self) -> i64 {
        self.0.distributors
    }
    /// What it credited in all, in yuan.
    async fn total(&self) -> Money {
        yuan(self.0.total_fen)
    }
    /// When it ran.
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
}

/// What a product or SKU pays instead of the level and tier rates: rates or a fixed amount
/// per unit, per tier.
#[derive(SimpleObject)]
pub struct CommissionOverrideView {
    /// The product it applies to.
    product_id: ID,
    /// The one SKU it applies to (it then wins over the product's own); null for every SKU.
    sku_id: Option<ID>,
    /// Rate per tier, nearest distributor first (a tier without one pays nothing); null when
    /// the override pays fixed amounts.
    rates: Option<Vec<Percent>>,
    /// Yuan per unit per tier, nearest distributor first; null when the override pays rates.
    fixed_amounts: Option<Vec<Money>>,
}

/// The rates a distributor level pays instead of the tier rates.
#[derive(SimpleObject)]
pub struct LevelRatesView {
    /// The level.
    level_id: ID,
    /// Rate per tier for a beneficiary holding the level, nearest distributor first.
    rates: Vec<Percent>,
}

/// A version of the commission rules.
pub struct CommissionRulesView {
    pub version: Option<commission_rule_version::Model>,
    pub rules: CommissionRules,
}

/// A version of the commission rules (ARCHITECTURE.md §11). Readable by anyone signed in.
#[Object(name = "CommissionRules")]
impl CommissionRulesView {
    /// Null for the built-in defaults before any version was published.
    async fn version(&self) -> Option<i64> {
        self.version.as_ref().map(|v| v.id)
    }
    /// Rate per tier, nearest distributor first (the seed's 20 / 10 / 5 is `["20.00", "10.00",
    /// "5.00"]`).
    async fn rates(&self) -> Vec<Percent> {
        self.rules.rates.iter().copied().map(Percent).collect()
    }
    /// What rates apply to.
    async fn base(&self) -> CommissionBase {
        self.rules.base
    }
    /// Whether a distributor earns tier 1 on their own purchases (otherwise their inviter
    /// does).
    async fn self_purchase(&self) -> bool {
        self.rules.self_purchase
    }
    /// How often confirmed commissions are settled.
    async fn cycle(&self) -> SettlementCycle {
        self.rules.cycle
    }
    /// Weekly: day of the week (1 = Monday … 7); monthly: day of the month (1–28); daily:
    /// ignored. Settlement runs on or after it.
    async fn payout_day(&self) -> u32 {
        self.rules.payout_day
    }
    /// Per-product and per-SKU overrides.
    async fn overrides(&self) -> Vec<CommissionOverrideView> {
        self.rules
            .overrides
            .iter()
            .map(|o| CommissionOverrideView {
                product_id: ids::encode("Product", o.product_id),
                sku_id: o.sku_id.map(|s| ids::encode("Sku", s)),
                rates: o
                    .rates
                    .as_ref()
                    .map(|r| r.iter().copied().map(Percent).collect()),
                fixed_amounts: o
                    .fixed_fen
                    .as_ref()
                    .map(|f| f.iter().map(|x| yuan(*x)).collect()),
            })
            .collect()
    }
    /// Rates per distributor level (used for a beneficiary at that level).
    async fn level_rates(&self) -> Vec<LevelRatesView> {
        self.rules
            .level_rates
            .iter()
            .map(|l| LevelRatesView {
                level_id: ids::encode("DistributorLevel", l.level_id),
                rates: l.rates.iter().copied().map(Percent).collect(),
            })
            .collect()
    }
    /// When this version was published; null for the built-in defaults.
    async fn created_at(&self) -> Option<DateTime> {
        self.version.as_ref().map(|v| DateTime(v.created_at))
    }
}

pub struct DistributionSettingsView(pub DistributionSettings);

/// The merchant's distribution settings: recruitment, the application form, binding and
/// withdrawals. Readable by anyone signed in.
#[Object(name = "DistributionSettings")]
impl DistributionSettingsView {
    /// How customers become distributors.
    async fn recruitment_mode(&self) -> RecruitmentMode {
        self.0.recruitment_mode
    }
    /// For `SPEND_THRESHOLD` recruitment: what an applicant's paid orders (net of refunds) must
    /// reach, in yuan.
    async fn spend_threshold(&self) -> Money {
        yuan(self.0.spend_threshold_fen)
    }
    /// The application form's questions, in order.
    async fn application_fields(&self) -> &[ApplicationField] {
        &self.0.application_fields
    }
    /// The distributor agreement applicants accept, up to 20,000 characters.
    async fn agreement(&self) -> &str {
        &self.0.agreement
    }
    /// When a new touch (share link or code) replaces a customer's binding.
    async fn binding_mode(&self) -> rules::BindingMode {
        self.0.binding_mode
    }
    /// How long a `DAYS` binding lasts, in days.
    async fn binding_days(&self) -> u32 {
        self.0.binding_days
    }
    /// The smallest withdrawal, in yuan.
    async fn withdrawal_min(&self) -> Money {
        yuan(self.0.withdrawal_min_fen)
    }
    /// The largest withdrawal, in yuan.
    async fn withdrawal_max(&self) -> Money {
        yuan(self.0.withdrawal_max_fen)
    }
    /// The fee taken from each withdrawal, as a rate of its amount (`"0.60"`: ¥0.60 per
    /// ¥100.00), rounded to the fen.
    async fn withdrawal_fee_rate(&self) -> Percent {
        Percent(self.0.withdrawal_fee_rate)
    }
}

/// What a distributor shares.
#[derive(SimpleObject)]
pub struct ShareLink {
    /// The distributor's referral code.
    pub code: String,
    /// The link to share (the shop's public URL, or a path when none is configured).
    pub url: String,
    /// The product the link opens; null for a link to the shop.
    pub product_id: Option<ID>,
}

/// Commission by status, in yuan.
#[derive(SimpleObject)]
pub struct CommissionByStatus {
    /// Of records still `ESTIMATED` (their orders not completed).
    pub estimated: Money,
    /// Of records `CONFIRMED`, waiting for settlement.
    pub confirmed: Money,
    /// Of records `SETTLED` into the balance.
    pub settled: Money,
    /// Taken back by refunds.
    pub reversed: Money,
}

/// What a distributor did in a period.
#[derive(SimpleObject)]
pub struct DistributorPerformance {
    /// Start of the period, included.
    pub from: DateTime,
    /// End of the period, excluded.
    pub to: DateTime,
    /// Paid orders attributed to the distributor.
    pub orders: i64,
    /// Their paid amount, net of refunds.
    pub sales: Money,
    /// Customers newly bound to the distributor.
    pub promoted_customers: i64,
    /// Distributors who joined the team (three levels).
    pub new_team_members: i64,
    /// Commission of records created in the period.
    pub commission: CommissionByStatus,
    /// Groups (拼团) the distributor launched themselves in the period.
    pub groups_launched: i64,
    /// Groups they launched that succeeded in the period.
    pub groups_succeeded: i64,
    /// Paid group orders credited to them in the period (from their own groups and from
    /// groups their customers launched), net of refunds.
    pub group_sales: Money,
}

impl DistributorPerformance {
    pub fn new(
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
        p: &super::performance::Performance,
    ) -> Self {
        DistributorPerformance {
            from: DateTime(from),
            to: DateTime(to),
            orders: p.orders,
            sales: yuan(p.sales_fen),
            promoted_customers: p.promoted_customers,
            new_team_members: p.new_team_members,
            commission: CommissionByStatus {
                estimated: yuan(p.estimated_fen),
                confirmed: yuan(p.confirmed_fen),
                settled: yuan(p.settled_fen),
                reversed: yuan(p.reversed_fen),
            },
            groups_launched: p.groups_launched,
            groups_succeeded: p.groups_succeeded,
            group_sales: yuan(p.group_sales_fen),
        }
    }
}

/// A place in the ranking.
#[derive(SimpleObject)]
pub struct RankedDistributor {
    /// 1 for the best.
    pub rank: i32,
    /// The distributor; null if they no longer exist.
    pub distributor: Option<Distributor>,
    /// What they did in the period.
    pub performance: DistributorPerformance,
}

/// A distributor's monthly report, snapshotted on the 1st.
pub struct MonthlyReport(pub entity::distributor_report::Model);

/// A distributor's monthly report, snapshotted on the 1st for the month before: the same
/// figures as `distributorPerformance` for that month, frozen. Readable by the distributor and
/// by staff with DISTRIBUTION.
#[Object]
impl MonthlyReport {
    /// Opaque global id.
    async fn id(&self) -> ID {
        ids::encode("MonthlyReport", self.0.id)
    }
    /// The month, `YYYY-MM` (shop time).
    async fn period(&self) -> &str {
        &self.0.period
    }
    /// The distributor it is about.
    async fn distributor_id(&self) -> ID {
        ids::encode("Distributor", self.0.user_id)
    }
    /// Paid orders attributed to the distributor in the month.
    async fn orders(&self) -> i64 {
        self.0.orders
    }
    /// Their paid amount net of refunds, in yuan.
    async fn sales(&self) -> Money {
        yuan(self.0.sales_fen)
    }
    /// Customers newly bound to the distributor in the month.
    async fn promoted_customers(&self) -> i64 {
        self.0.promoted_customers
    }
    /// Distributors who joined their team (three levels) in the month.
    async fn new_team_members(&self) -> i64 {
        self.0.new_team_members
    }
    /// Commission of records created in the month, by status when the report was written.
    async fn commission(&self) -> CommissionByStatus {
        CommissionByStatus {
            estimated: yuan(self.0.estimated_fen),
            confirmed: yuan(self.0.confirmed_fen),
            settled: yuan(self.0.settled_fen),
            reversed: yuan(self.0.reversed_fen),
        }
    }
    /// Groups (拼团) the distributor launched themselves in the month.
    async fn groups_launched(&self) -> i64 {
        self.0.groups_launched
    }
    /// Groups they launched that succeeded in the month.
    async fn groups_succeeded(&self) -> i64 {
        self.0.groups_succeeded
    }
    /// Paid group orders credited to them in the month, net of refunds when the report was
    /// written, in yuan.
    async fn group_sales(&self) -> Money {
        yuan(self.0.group_sales_fen)
    }
    /// When the report was written.
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
}
