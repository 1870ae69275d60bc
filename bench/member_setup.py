#!/usr/bin/env python3
"""Prints the access token of a new customer holding a member level (金卡 unless named), for
the member-price runs of bench/catalog.sh. Over GraphQL
only: the owner signs in, a customer registers, the owner gives them the level.

Usage: bench/member_setup.py http://host:port/graphql OWNER_PHONE OWNER_PASSWORD [LEVEL_NAME]"""
import sys

from gql import client, login, ok

url, phone, password = sys.argv[1:4]
level_name = sys.argv[4] if len(sys.argv) > 4 else "金卡"


gql = client(url)


owner = login(gql, phone, password)
member = ok(gql("mutation($i: RegisterInput!) { register(input: $i) { accessToken user { id } userErrors { code message } } }",
                {"i": {"phone": "13900000001", "password": "Bench1234"}})["register"])
level = next(l for l in gql("{ memberLevels { id name } }")["memberLevels"] if l["name"] == level_name)
ok(gql("mutation($i: SetMemberLevelInput!) { setMemberLevel(input: $i) { userErrors { code message } } }",
       {"i": {"userId": member["user"]["id"], "levelId": level["id"], "reason": "benchmark"}}, owner)["setMemberLevel"])
print(member["accessToken"])
