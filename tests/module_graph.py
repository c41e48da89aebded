"""The module graph of a crate, read from its source: which module refers to which.

A module is a file (`lib.rs`, `a.rs`, `a/mod.rs`, `a/b.rs`); it refers to another when its code
(comments and `#[cfg(test)]` parts left out) names a path through `crate::`, `super::` or
`self::`. A path resolves to the deepest module it names, through `pub use` aliases (`pub use
metrics::classification as evaluate` makes `crate::evaluate` the classification module). A
parent's `mod x;` and `pub use x::...` lines are its public face, not a dependency, so they are
not edges.
"""
import pathlib
import re

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def module_path(src: pathlib.Path, file: pathlib.Path):
    parts = list(file.relative_to(src).with_suffix("").parts)
    if parts[-1] in ("lib", "main", "mod"):
        parts = parts[:-1]
    return tuple(parts)


def code_of(text: str) -> str:
    """The code a module compiles outside tests: no comments, no `#[cfg(test)]` tail."""
    text = text.split("#[cfg(test)]")[0]
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    lines = []
    for line in text.splitlines():
        # Drop a line comment (not inside a string: good enough for this code base, whose
        # strings hold no `//` followed by a path).
        i = line.find("//")
        if i >= 0 and line.count('"', 0, i) % 2 == 0:
            line = line[:i]
        lines.append(line)
    return "\n".join(lines)


def _parse_tree(s, i):
    """Parse a use-tree starting at s[i]; return ([(path, alias)], next index)."""
    items = []
    path = []
    while True:
        m = re.compile(r"\s*(" + IDENT + r"|\*|\{)").match(s, i)
        if not m:
            return items, i
        tok = m.group(1)
        i = m.end()
        if tok == "{":
            depth_items = []
            while True:
                sub, i = _parse_tree(s, i)
                depth_items += sub
                m2 = re.compile(r"\s*([,}])").match(s, i)
                if not m2:
                    return items, i
                i = m2.end()
                if m2.group(1) == "}":
                    break
            items += [(path + p, a) for p, a in depth_items]
            return items, i
        path = path + [tok]
        m3 = re.compile(r"\s*::").match(s, i)
        if m3:
            i = m3.end()
            continue
        m4 = re.compile(r"\s+as\s+(" + IDENT + r")").match(s, i)
        if m4:
            items.append((path, m4.group(1)))
            return items, m4.end()
        items.append((path, path[-1]))
        return items, i


def use_items(code):
    """Every `use` statement: (is_pub, [(path, alias)])."""
    out = []
    for m in re.finditer(r"(^|\n)\s*(pub(\([^)]*\))?\s+)?use\s+", code):
        items, _ = _parse_tree(code, m.end())
        out.append((m.group(2) is not None, items))
    return out


def path_refs(code):
    """Every `crate::`/`super::`/`self::` path in code, braces expanded, as ident lists."""
    refs = []
    for m in re.finditer(r"\b(crate|super|self)\s*::", code):
        items, _ = _parse_tree(code, m.start())
        refs += [p for p, _ in items]
    return refs


def graph(src: pathlib.Path):
    """{module: set(modules it refers to)} for the crate whose source root is `src`."""
    files = {module_path(src, f): f for f in src.rglob("*.rs") if f.name != "tests.rs"}
    modules = set(files)
    codes = {m: code_of(f.read_text()) for m, f in files.items()}
    aliases = {}

    def base(mod, path):
        """Absolute ident list for `path` written in module `mod`, or None if external."""
        head = path[0]
        if head == "crate":
            return list(path[1:])
        if head in ("super", "self"):
            cur = list(mod)
            rest = list(path)
            while rest and rest[0] in ("super", "self"):
                if rest[0] == "super":
                    cur = cur[:-1]
                rest = rest[1:]
            return cur + rest
        if tuple(mod) + (head,) in modules:  # a child module named without `self::`
            return list(mod) + list(path)
        return None

    def resolve(parts):
        parts = list(parts)
        best = ()
        for k in range(1, len(parts) + 1):
            p = tuple(parts[:k])
            if p in aliases:
                return resolve(list(aliases[p]) + parts[k:])
            if p in modules:
                best = p
            else:
                break
        return best

    for _ in range(3):  # aliases of aliases
        for mod, code in codes.items():
            for is_pub, items in use_items(code):
                if not is_pub:
                    continue
                for path, alias in items:
                    b = base(mod, path)
                    if b is None or path[-1] == "*":
                        continue
                    target = resolve(b)
                    if target and target == tuple(b) and target != tuple(mod) + (alias,):
                        aliases[tuple(mod) + (alias,)] = target

    edges = {m: set() for m in modules}
    for mod, code in codes.items():
        face = set()
        for is_pub, items in use_items(code):
            if is_pub:
                for path, _ in items:
                    b = base(mod, path)
                    if b is not None:
                        face.add(tuple(b))
        for path in path_refs(code):
            b = base(mod, path)
            if b is None:
                continue
            target = resolve(b)
            # A parent re-exporting its children's items is its public face.
            if target[: len(mod)] == tuple(mod) and len(target) > len(mod) and tuple(b) in face:
                continue
            if target != tuple(mod):
                edges[mod].add(target)
    return edges


def collapse(edges, depth):
    """The graph of modules cut to their first `depth` path parts (folders as parts)."""
    out = {}
    for a, bs in edges.items():
        ka = a[:depth]
        out.setdefault(ka, set())
        for b in bs:
            kb = b[:depth]
            # The root (lib.rs) is every module's ancestor: naming `crate::Error` is no cycle.
            if kb != ka and kb != ():
                out[ka].add(kb)
    return out


def cycles(edges):
    """Each strongly connected component with more than one module (Tarjan)."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted("::".join(c) or "(root)" for c in comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out
