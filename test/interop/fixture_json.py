"""What the fixture generators (make-*-fixtures.py) share: how a value is tagged in the JSON (`tag`,
big values written compactly as a `Gen`), and how the file is written (one entry per line, so diffs
stay readable and deep values do not blow up the indentation; ASCII only)."""
import json
import os


def write_fixture(path, doc):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w', encoding='ascii') as f:
        f.write('{\n')
        items = list(doc.items())
        for i, (key, value) in enumerate(items):
            comma = ',' if i < len(items) - 1 else ''
            if isinstance(value, list):
                f.write(f' {json.dumps(key)}: [\n')
                f.write(',\n'.join('  ' + json.dumps(x) for x in value))
                f.write(f'\n ]{comma}\n')
            else:
                f.write(f' {json.dumps(key)}: {json.dumps(value)}{comma}\n')
        f.write('}\n')


class Gen:
    """A big value written compactly in the fixture: see the docstring."""

    def __init__(self, kind, *args):
        self.kind = kind
        self.args = args

    def build(self):
        if self.kind == 'repeat':
            return self.args[0] * self.args[1]
        if self.kind == 'range':
            return list(range(self.args[0]))
        if self.kind == 'format':
            return [self.args[0] + str(i) for i in range(self.args[1])]
        if self.kind == 'keyed':
            return {self.args[0] + str(i): i for i in range(self.args[1])}
        if self.kind == 'rows':
            return [{'id': i, 'name': f'row {i}', 'tags': ['a', 'bc', f't{i}'], 'score': i + 0.5}
                    for i in range(self.args[0])]
        if self.kind == 'nest':
            v = []
            for _ in range(self.args[0] - 1):
                v = [v]
            return v
        raise ValueError(self.kind)

    def tag(self):
        return {self.kind: self.args[0] if len(self.args) == 1 else list(self.args)}



def tag(v):
    if isinstance(v, Gen):
        return v.tag()
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        return v if abs(v) < 2**53 else {'int': str(v)}
    if isinstance(v, float):
        return {'float': repr(v)}
    if isinstance(v, list):
        return {'list': [tag(x) for x in v]}
    if isinstance(v, tuple):
        return {'tuple': [tag(x) for x in v]}
    if isinstance(v, dict):
        return {'dict': [[k, tag(x)] for k, x in v.items()]}
    raise TypeError(type(v))


def build(spec, fresh=None):
    """The Python value of a spec (each Gen expanded). `fresh`, if given, makes each str (keys too)
    a new object of the same value: CPython pickles a str object met twice as a memo reference."""
    if isinstance(spec, Gen):
        return spec.build()
    if isinstance(spec, list):
        return [build(x, fresh) for x in spec]
    if isinstance(spec, dict):
        return {(fresh(k) if fresh else k): build(x, fresh) for k, x in spec.items()}
    if isinstance(spec, str) and fresh:
        return fresh(spec)
    return spec
