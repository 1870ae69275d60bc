#!/usr/bin/env python3
"""Prints the access token of a new customer holding a member level (金卡 unless named), for
the member-price runs of bench/catalog.sh. Over GraphQL
only: the owner signs in, a customer registers, the owner gives them the level.

Usage: bench/member_setup.py http://host:port/graphql OWNER_PHONE OWNER_PASSWORD [LEVEL_NAME]"""
import json, sys, urllib.request

url, phone, password = sys.argv[1:4]
level_name = sys.argv[4] if len(sys.argv) > 4 else "金卡"


def gql(query, variables=None, token=None):
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = "Bearer " + token
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    resp = json.load(urllib.request.urlopen(urllib.request.Request(url, data=body, headers=headers)))
    if resp.get("errors"):
        sys.exit(f"GraphQL error: {resp['errors']}")
    return resp["data"]


def ok(payload):
    if payload["userErrors"]:
        sys.exit(f"refused: {payload['userErrors']}")
    return payload


owner = ok(gql("mutation($i: LoginInput!) { login(input: $i) { accessToken userErrors { code message } } }",
               {"i": {"phone": phone, "password": password}})["login"])["accessToken"]
member = ok(gql("mutation($i: RegisterInput!) { register(input: $i) { accessToken user { id } userErrors { code message } } }",
                {"i": {"phone": "13900000001", "password": "Bench1234"}})["register"])
level = next(l for l in gql("{ memberLevels { id name } }")["memberLevels"] if l["name"] == level_name)
ok(gql("mutation($i: SetMemberLevelInput!) { setMemberLevel(input: $i) { userErrors { code message } } }",
       {"i": {"userId": member["user"]["id"], "levelId": level["id"], "reason": "benchmark"}}, owner)["setMemberLevel"])
print(member["accessToken"])
