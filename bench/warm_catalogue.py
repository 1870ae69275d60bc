#!/usr/bin/env python3
"""Reads every product on sale once, page by page, so the catalogue cache is warm (as in a
shop that has been open a while). Usage: bench/warm_catalogue.py http://host:port/graphql"""
import json, urllib.request, sys
url = sys.argv[1]
after = None
n = 0
while True:
    q = {"query": "query($after: String) { products(first: 100, after: $after, filter: { includeUnpublished: false }) { pageInfo { hasNextPage endCursor } edges { node { id skus { id } } } } }", "variables": {"after": after}}
    req = urllib.request.Request(url, data=json.dumps(q).encode(), headers={"content-type": "application/json"})
    d = json.load(urllib.request.urlopen(req))["data"]["products"]
    n += len(d["edges"])
    if not d["pageInfo"]["hasNextPage"]:
        break
    after = d["pageInfo"]["endCursor"]
print("warmed", n)
