#!/usr/bin/env python3
"""Fails when the top-level modules of a crate's `src/` import each other in a cycle.

Usage: cycles.py SRC_DIR. A module is a file or folder at the top of `src/`; an edge is a
`crate::name` path outside comments and `#[cfg(test)] mod .. { .. }` blocks, a name re-exported by
`lib.rs` counting as the module it comes from. Prints each cycle and exits 1 if there is one.
"""
import os
import re
import sys

src = sys.argv[1]


def code_of(path):
    text = open(path, encoding="utf-8").read()
    text = re.sub(r"/\*.*?\*/", "", re.sub(r"//[^\n]*", "", text), flags=re.S)
    # Drop test modules, brace by brace.
    while (m := re.search(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{", text)):
        depth, i = 1, m.end()
        while depth and i < len(text):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        text = text[: m.start()] + text[i:]
    return text


def module(path):
    top = os.path.relpath(path, src).split(os.sep)[0]
    return top[:-3] if top.endswith(".rs") else top


files = [os.path.join(d, f) for d, _, fs in os.walk(src) for f in fs if f.endswith(".rs")]
modules = {module(f) for f in files} - {"lib"}
# `pub use module::{A, B}` in lib.rs: `crate::A` is `module`'s.
owner = {}
for m, names in re.findall(r"pub use (\w+)(?:::\w+)*::\{?([^;}]*)\}?;", code_of(os.path.join(src, "lib.rs"))):
    for name in re.findall(r"\w+", names):
        owner.setdefault(name, m)
edges = {m: set() for m in modules}
for f in files:
    m = module(f)
    if m == "lib":
        continue
    for name in re.findall(r"crate::(\w+)", code_of(f)):
        target = name if name in modules else owner.get(name)
        if target in modules and target != m:
            edges[m].add(target)

# Tarjan's strongly connected components.
index, low, stack, on_stack, cycles = {}, {}, [], set(), []


def visit(v):
    index[v] = low[v] = len(index)
    stack.append(v)
    on_stack.add(v)
    for w in sorted(edges[v]):
        if w not in index:
            visit(w)
            low[v] = min(low[v], low[w])
        elif w in on_stack:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        component = []
        while True:
            w = stack.pop()
            on_stack.discard(w)
            component.append(w)
            if w == v:
                break
        if len(component) > 1:
            cycles.append(sorted(component))


for v in sorted(modules):
    if v not in index:
        visit(v)
for c in cycles:
    print("import cycle: " + ", ".join(c))
print(f"{len(modules)} modules, {sum(map(len, edges.values()))} imports, {len(cycles)} cycles")
sys.exit(1 if cycles else 0)
