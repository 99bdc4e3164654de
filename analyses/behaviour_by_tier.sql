-- How do behaviours differ by value tier? Engagement, conversion, order size, loyalty and the
-- tier's three biggest top-level categories by revenue side by side.
with top_categories as (
    select
        value_tier,
        string_agg(top_category || ' ' || cast(round(100 * revenue_share_in_tier, 1) as varchar) || '%', ', ' order by category_rank_in_tier) as top_3_categories
    from {{ ref('tier_category_mix') }}
    where category_rank_in_tier <= 3
    group by value_tier
)

select
    tier_profile.value_tier,
    tier_profile.users,
    round(tier_profile.sessions_per_user, 2) as sessions_per_user,
    round(tier_profile.days_active_per_user, 2) as days_active_per_user,
    round(tier_profile.mean_session_seconds, 0) as mean_session_seconds,
    round(tier_profile.view_to_cart_user_rate, 4) as view_to_cart_user_rate,
    round(tier_profile.cart_to_purchase_user_rate, 4) as cart_to_purchase_user_rate,
    round(tier_profile.view_to_cart_session_rate, 4) as view_to_cart_session_rate,
    round(tier_profile.cart_to_purchase_session_rate, 4) as cart_to_purchase_session_rate,
    round(tier_profile.avg_order_value, 2) as avg_order_value,
    round(tier_profile.items_per_order, 2) as items_per_order,
    round(tier_profile.repeat_purchase_rate, 4) as repeat_purchase_rate,
    round(tier_profile.top_categories_revenue_share, 4) as top_categories_revenue_share,
    top_categories.top_3_categories
from {{ ref('tier_profile') }} as tier_profile
left join top_categories on tier_profile.value_tier = top_categories.value_tier
order by tier_profile.tier_order
