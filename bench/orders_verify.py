#!/usr/bin/env python3
"""After a placeOrder run: every unit that left stock belongs to exactly one order line, and
no stock is negative. Usage: bench/orders_verify.py URL DATA.json INITIAL_STOCK"""
import json, sys

from gql import client

url, path, initial = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = json.load(open(path))


gql = client(url, data["staff"])

stocks = []
for i in range(0, len(data["skus"]), 100):
    nodes = gql("query($ids: [ID!]!) { nodes(ids: $ids) { ... on Sku { stock } } }", {"ids": data["skus"][i:i + 100]})["nodes"]
    stocks += [n["stock"] for n in nodes]
orders = gql("{ orders { totalCount } }")["orders"]["totalCount"]
units_out = sum(initial - s for s in stocks)
print(f"orders={orders} units_out_of_stock={units_out} oversold={units_out - orders} negative_stock={sum(1 for s in stocks if s < 0)}")
