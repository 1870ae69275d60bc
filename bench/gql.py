"""The small GraphQL client the bench set-up scripts share (they import it from beside them)."""
import json
import sys
import urllib.request


def client(url, default_token=None):
    """A function that POSTs one operation to `url` (as the `token` it is given, else as
    `default_token`) and returns its `data`; any GraphQL error ends the script."""

    def gql(query, variables=None, token=None):
        headers = {"content-type": "application/json"}
        bearer = token or default_token
        if bearer:
            headers["authorization"] = "Bearer " + bearer
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        resp = json.load(urllib.request.urlopen(urllib.request.Request(url, data=body, headers=headers)))
        if resp.get("errors"):
            sys.exit(f"GraphQL error: {resp['errors']}")
        return resp["data"]

    return gql


def ok(payload):
    """The payload, or the end of the script if it was refused."""
    if payload["userErrors"]:
        sys.exit(f"refused: {payload['userErrors']}")
    return payload


def login(gql, phone, password):
    """An access token for `phone`."""
    return ok(gql("mutation($i: LoginInput!) { login(input: $i) { accessToken userErrors { code message } } }",
                  {"i": {"phone": phone, "password": password}})["login"])["accessToken"]
