#!/usr/bin/env python3
"""The #include graph of the C sources, and a check that it has no cycle.

usage: check.py [-q] [-I DIR]... DIR...

Reads the #include "..." lines of the .c and .h files in each DIR and
prints the graph between modules, one "from -> to" line per edge (-q: only
the cycles).  A module is x.c with its x.h, named by its path without the
extension (daemon/api).  A header with no .c of its own belongs to the .c
file of the same directory that defines the functions it declares (so
server.h belongs to whatever file implements it); one that declares no
function defined anywhere is a module of its own.  A quoted include is
looked up as the compiler does: beside the including file, then in each -I
directory.  Includes of files outside the DIRs are left out.

Exits 1, naming each cycle, if a module depends on itself through others;
2 on a usage error or an include that is nowhere to be found.
"""
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
# A function defined in the style of the tree: its name at the start of a
# line, after the line with its type.
DEFINED = re.compile(r'^([A-Za-z_]\w*)\(')
# A prototype: a name followed by "(" outside a function-pointer "(*".
DECLARED = re.compile(r'(?<![\w*(])([A-Za-z_]\w*)\s*\(')


def strip_comments(text):
    return re.sub(r'/\*.*?\*/', ' ', text, flags=re.S)


def declared_functions(text):
    """Names declared as functions in a header (prototypes, not macros)."""
    names = set()
    text = strip_comments(text)
    stmt = ''
    for line in text.splitlines():
        s = line.strip()
        if s.startswith('#') or not s:
            continue
        stmt += ' ' + s
        if s.endswith(';') or s.endswith('{') or s.endswith('}'):
            if not re.match(r'\s*(typedef|struct\s+\w+\s*\{|enum|union)', stmt):
                m = DECLARED.search(stmt)
                if m and m.group(1) not in ('sizeof', 'defined'):
                    names.add(m.group(1))
            stmt = ''
    return names


def defined_functions(text):
    return {m.group(1) for m in map(DEFINED.match, text.splitlines()) if m}


def read(path):
    with open(path, encoding='utf-8', errors='replace') as f:
        return f.read()


def build(dirs, incdirs):
    """Return (modules, edges, notes): edges maps a module to the set of
    modules it includes; notes says where a header was attributed."""
    files = []
    for d in dirs:
        for name in sorted(os.listdir(d)):
            if name.endswith(('.c', '.h')):
                files.append(os.path.normpath(os.path.join(d, name)))
    fileset = set(files)
    module_of = {}
    notes = []
    for f in files:
        module_of[f] = f[:-2]
    # Headers without a .c of their own: attributed to their implementation.
    for h in files:
        if not h.endswith('.h') or h[:-2] + '.c' in fileset:
            continue
        decl = declared_functions(read(h))
        best, best_n = None, 0
        for c in files:
            if not c.endswith('.c') or os.path.dirname(c) != os.path.dirname(h):
                continue
            n = len(decl & defined_functions(read(c)))
            if n > best_n:
                best, best_n = c, n
        if best is not None:
            module_of[h] = best[:-2]
            notes.append('%s is implemented by %s' % (h, best))
    edges = {m: set() for m in module_of.values()}
    missing = []
    for f in files:
        for lineno, line in enumerate(read(f).splitlines(), 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            target = None
            for d in [os.path.dirname(f)] + incdirs:
                cand = os.path.normpath(os.path.join(d, m.group(1)))
                if os.path.exists(cand):
                    target = cand
                    break
            if target is None:
                missing.append('%s:%d: "%s" not found' % (f, lineno, m.group(1)))
                continue
            if target not in module_of:
                continue
            a, b = module_of[f], module_of[target]
            if a != b:
                edges[a].add(b)
    return edges, notes, missing


def cycles(edges):
    """The strongly connected parts with more than one module, each as
    (members, one cycle through its first member)."""
    index, low, onstack, stack, parts = {}, {}, set(), [], []
    counter = [0]

    def visit(v):
        # Iterative Tarjan: no recursion limit on a long chain.
        work = [(v, iter(sorted(edges[v])))]
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        onstack.add(v)
        while work:
            node, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    onstack.add(w)
                    work.append((w, iter(sorted(edges[w]))))
                    advanced = True
                    break
                if w in onstack:
                    low[node] = min(low[node], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                part = []
                while True:
                    w = stack.pop()
                    onstack.discard(w)
                    part.append(w)
                    if w == node:
                        break
                if len(part) > 1:
                    parts.append(sorted(part))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    out = []
    for part in sorted(parts):
        members = set(part)
        start = part[0]
        # The shortest way back to start, inside the part.
        prev, queue, found = {start: None}, [start], None
        while queue and found is None:
            nxt = []
            for u in queue:
                for w in sorted(edges[u]):
                    if w == start:
                        found = u
                        break
                    if w in members and w not in prev:
                        prev[w] = u
                        nxt.append(w)
                if found is not None:
                    break
            queue = nxt
        path = [start]
        u = found
        while u is not None and u != start:
            path.insert(1, u)
            u = prev[u]
        path.append(start)
        out.append((part, path))
    return out


def main(argv):
    quiet = False
    incdirs, dirs = [], []
    args = list(argv)
    while args:
        a = args.pop(0)
        if a == '-q':
            quiet = True
        elif a == '-I' and args:
            incdirs.append(args.pop(0))
        elif a.startswith('-I') and len(a) > 2:
            incdirs.append(a[2:])
        elif a.startswith('-'):
            sys.stderr.write(__doc__.split('\n\n')[1] + '\n')
            return 2
        else:
            dirs.append(a)
    if not dirs:
        sys.stderr.write('usage: check.py [-q] [-I DIR]... DIR...\n')
        return 2
    for d in dirs + incdirs:
        if not os.path.isdir(d):
            sys.stderr.write('check.py: %s: not a directory\n' % d)
            return 2
    edges, notes, missing = build(dirs, incdirs)
    for m in missing:
        sys.stderr.write('check.py: %s\n' % m)
    if missing:
        return 2
    if not quiet:
        for n in notes:
            print('# ' + n)
        for a in sorted(edges):
            for b in sorted(edges[a]):
                print('%s -> %s' % (a, b))
    found = cycles(edges)
    for part, path in found:
        print('cycle: %s' % ' -> '.join(path))
        print('  (%d modules depend on each other: %s)'
              % (len(part), ' '.join(part)))
    if found:
        print('%d include cycle(s): take an #include away (pass a '
              'function pointer in, or move the shared part to a module '
              'of its own)' % len(found))
        return 1
    if not quiet:
        print('no include cycle among %d modules' % len(edges))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
