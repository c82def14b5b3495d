"""Member tiers (会员等级): 普通 / 银卡 / 金卡 / 钻石 by default, configured by operators.

- Qualification: points earned (ledger earn postings, less their reversals, without the
  tiers app's own birthday gifts) or amount spent (integrations.Purchase, less refunds) in
  a rolling window of JIFEN_TIER_WINDOW_MONTHS ending on the business day; either
  threshold set on a level qualifies, reached at exactly the threshold.
- Upgrades at once: `services.tier_evaluate(member_id=...)` after a posting or purchase
  (`after_reversal=True` after a refund, which undoes an upgrade the refund took away).
- Reviews: JIFEN_TIER_REVIEW_MONTHS after a level is reached, by the daily task
  (`tasks.tiers_daily_task`) or `jifen reevaluate-tiers`; below the level's threshold the
  member drops one level or to the qualified level (JIFEN_TIER_DOWNGRADE_POLICY), after a
  TierNotice JIFEN_TIER_NOTICE_DAYS before.
- Benefits other apps read through `selectors`: earn multiplier (with the upgrade
  acceleration), mall discount, free shipping, extra draws, exclusive items, birthday gift.
"""
