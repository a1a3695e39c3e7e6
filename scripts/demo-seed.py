#!/usr/bin/env python3
"""Fills a database with state that looks like production, written exactly as Meltano's
PostgreSQL state backend writes it: rows go through the reference model of the add-on
(scripts/reference/meltano_backend_ref.py: its SQL, Python's json.dumps).

  demo-seed.py --dsn DSN [--schema S] [--rows N] [--seed K]

Creates: dev/staging/prod x taps x loaders, partial states over completed ones,
`:suffix` IDs, non-ASCII stream names, 20-digit Stripe cursors, Postgres LSNs, a state
that is not valid JSON, a large state (a few MB), and a lock left two hours ago by a
crashed run. (The live lock of a running pipeline is `hold-lock`, started by scripts/demo.)
With --rows N it adds N more generated state IDs for scale demos.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference"))
import meltano_backend_ref as ref  # noqa: E402

ENVIRONMENTS = ["dev", "staging", "prod"]
LOADERS = ["target-postgres", "target-snowflake", "target-bigquery"]


def iso(t: dt.datetime) -> str:
    return t.replace(microsecond=0).isoformat()


def tap_postgres(rng, now):
    bookmarks = {}
    for table in ["public-orders", "public-customers", "public-line_items", "billing-invoices", "public-events"]:
        lsn = rng.randrange(10**9, 10**11)
        bookmarks[table] = {
            "last_replication_method": "LOG_BASED",
            "lsn": lsn,
            "version": 1700000000000 + rng.randrange(10**6),
            "xmin": None,
        }
    return {"singer_state": {"bookmarks": bookmarks, "currently_syncing": None}}


def tap_github(rng, now):
    bookmarks = {}
    for repo in ["meltano/meltano", "meltano/sdk", "acme/data-platform", "acme/dbt-models"]:
        bookmarks[repo] = {
            stream: {"since": iso(now - dt.timedelta(minutes=rng.randrange(5, 5000)))}
            for stream in ["issues", "pull_requests", "commits", "issue_comments"]
        }
    return {"singer_state": {"bookmarks": bookmarks}}


def tap_salesforce(rng, now):
    streams = ["Account", "Contact", "Opportunity", "Lead", "Case", "User"]
    return {"singer_state": {
        "bookmarks": {s: {"SystemModstamp": iso(now - dt.timedelta(hours=rng.randrange(1, 72))) + ".000000Z",
                          "version": rng.randrange(10**12, 10**13)} for s in streams},
        "current_stream": None,
    }}


def tap_stripe(rng, now):
    streams = ["charges", "customers", "invoices", "payment_intents", "subscriptions", "balance_transactions"]
    return {"singer_state": {"bookmarks": {
        s: {"created": rng.randrange(10**19, 10**20 - 1), "updated": iso(now)} for s in streams}}}


def tap_shopify_intl(rng, now):
    # Stream names in several scripts, as a Japanese/German/Russian storefront has them.
    streams = ["注文", "顧客", "Bestellungen", "Kunden_Änderungen", "заказы", "produits_été"]
    return {"singer_state": {"bookmarks": {
        s: {"updated_at": iso(now - dt.timedelta(minutes=rng.randrange(1, 900))), "ratio": rng.random()} for s in streams}}}


TAPS = {
    "tap-postgres": tap_postgres,
    "tap-github": tap_github,
    "tap-salesforce": tap_salesforce,
    "tap-stripe": tap_stripe,
    "tap-shopify": tap_shopify_intl,
}


def large_state(rng, now, megabytes: float):
    bookmarks = {}
    i = 0
    size = 0
    while size < megabytes * 1024 * 1024:
        key = f"tenant_{i:06d}-events"
        bookmarks[key] = {"replication_key": "updated_at",
                          "replication_key_value": iso(now - dt.timedelta(seconds=rng.randrange(10**6))),
                          "partitions": [{"id": j, "cursor": rng.randrange(10**15)} for j in range(3)]}
        size += 220
        i += 1
    return {"singer_state": {"bookmarks": bookmarks}}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dsn", required=True)
    p.add_argument("--schema", default="public")
    p.add_argument("--rows", type=int, default=0, help="extra generated state IDs")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--large-mb", type=float, default=3.0)
    args = p.parse_args()
    rng = random.Random(args.seed)
    now = dt.datetime.now(dt.timezone.utc)
    store = ref.Store(args.dsn, "two-tables", args.schema, "state", 1)
    count = 0
    try:
        for env in ENVIRONMENTS:
            for tap, make in TAPS.items():
                for loader in LOADERS[: 1 + rng.randrange(3)]:
                    state_id = f"{env}:{tap}-to-{loader}"
                    store.write(state_id, {}, make(rng, now))
                    count += 1
                    if rng.random() < 0.4:  # a run in flight left a partial state over it
                        partial = make(rng, now + dt.timedelta(minutes=7))
                        store.write(state_id, partial, {})
        # Suffixed IDs, as `meltano run --state-id-suffix` makes them.
        for suffix in ["backfill-2024", "hotfix"]:
            store.write(f"prod:tap-github-to-target-postgres:{suffix}", {}, tap_github(rng, now))
            count += 1
        # `meltano el` with no --state-id makes a throw-away timestamped ID.
        store.write(f"{now:%Y-%m-%dT%H%M%S}--tap-stripe--target-postgres", {}, tap_stripe(rng, now))
        # A big one: a multi-tenant tap with thousands of partitions.
        store.write("prod:tap-postgres-to-target-snowflake:tenants", {}, large_state(rng, now, args.large_mb))
        count += 2
        # A row someone "fixed" by hand in psql and truncated: not valid JSON.
        store.upsert("staging:tap-salesforce-to-target-bigquery:manual-fix", {}, {})
        store.run("UPDATE {t} SET completed_state = %s WHERE state_id = %s",
                  ('{"singer_state": {"bookmarks": {"Account": {"SystemModstamp": "2024-05-01T00:0',
                   "staging:tap-salesforce-to-target-bigquery:manual-fix"), t=store.table)
        count += 1
        # A lock left two hours ago by a run that was killed (OOM, a lost node).
        crashed = "prod:tap-stripe-to-target-postgres"
        lock_id = store.acquire(crashed)
        store.run("UPDATE {t} SET locked_at = LOCALTIMESTAMP - INTERVAL '2 hours' WHERE state_id = %s AND lock_id = %s",
                  (crashed, lock_id), t=store.locks)
        for i in range(args.rows):
            env = ENVIRONMENTS[i % 3]
            tap = list(TAPS)[i % len(TAPS)]
            store.upsert(f"{env}:{tap}-to-target-{i:07d}", {},
                         {"singer_state": {"bookmarks": {"stream": {"updated_at": iso(now), "id": i}}}})
            count += 1
    finally:
        store.close()
    print(f"seeded {count} state IDs and 1 stale lock ({crashed}, lock {lock_id})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
