"""Summaries people read, built from warehouse tables (every figure traceable to a table)."""

from __future__ import annotations

import duckdb
import polars as pl


def tenant_summary(conn: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Per tenant: tier, days, revenue (USD/day), spend (USD/day), true ROAS per channel, true weather share.

    Sources: ``tenant_catalog``, ``tenant_sales``, ``tenant_spend``, ``tenant_ground_truth``.
    """
    return pl.from_arrow(conn.execute("""
        with sales as (select tenant, count(distinct date) n_days, sum(revenue) / count(distinct date) revenue_per_day
                       from main.tenant_sales group by tenant),
             spend as (select tenant, sum(spend) / count(distinct date) spend_per_day from main.tenant_spend group by tenant),
             truth as (select tenant,
                              max(value) filter (where parameter = 'true_roas' and key = 'meta') true_roas_meta,
                              max(value) filter (where parameter = 'true_roas' and key = 'google') true_roas_google,
                              max(value) filter (where parameter = 'true_roas' and key = 'email') true_roas_email,
                              max(value) filter (where parameter = 'weather_share') true_weather_share
                       from main.tenant_ground_truth group by tenant)
        select c.tenant, c.tier, s.n_days as days, round(s.revenue_per_day) revenue_usd_day, round(p.spend_per_day) spend_usd_day,
               round(t.true_roas_meta, 2) roas_meta, round(t.true_roas_google, 2) roas_google,
               round(t.true_roas_email, 2) roas_email, round(100 * t.true_weather_share, 1) weather_share_pct
        from main.tenant_catalog c join sales s using (tenant) join spend p using (tenant) left join truth t using (tenant)
        order by array_position(['extreme', 'high', 'medium', 'low'], c.tier), c.tenant
    """).to_arrow_table())
