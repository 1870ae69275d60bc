#!/usr/bin/env python3
"""Starts two running promotion activities for the badge runs of bench/catalog.sh (BADGES=1):
满100减10 / 满200减30 over the whole shop and 每满50减5 over the first category, so every
product in the listings wears one or two labels. Over GraphQL only: the owner signs in and
creates them.

Usage: bench/badges_setup.py http://host:port/graphql OWNER_PHONE OWNER_PASSWORD"""
import base64, datetime, sys

from gql import client, login, ok

url, phone, password = sys.argv[1:4]


gql = client(url)


owner = login(gql, phone, password)
now = datetime.datetime.now(datetime.timezone.utc)
window = {"startsAt": (now - datetime.timedelta(hours=1)).isoformat(),
          "endsAt": (now + datetime.timedelta(days=1)).isoformat()}
first_category = base64.urlsafe_b64encode(b"Category:1").decode().rstrip("=")
CREATE = "mutation($i: PromotionActivityInput!) { createPromotionActivity(input: $i) { userErrors { code message } } }"
ok(gql(CREATE, {"i": {"name": "满减", "tiers": [{"threshold": "100.00", "off": "10.00"},
                                                {"threshold": "200.00", "off": "30.00"}], **window}},
       owner)["createPromotionActivity"])
ok(gql(CREATE, {"i": {"name": "每满减", "repeating": {"step": "50.00", "off": "5.00"},
                      "scope": "CATEGORIES", "scopeIds": [first_category], **window}},
       owner)["createPromotionActivity"])
