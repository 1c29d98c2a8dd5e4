import { strict as assert } from 'node:assert';
import {
  CompletionCache,
  extendsSelectedItem,
  trimCompletion,
  wantsMultiline,
  type CompletionContext,
} from '../../../src/core/complete';

function ctx(over: Partial<CompletionContext>): CompletionContext {
  return { linePrefix: '', lineSuffix: '', previousLines: [], nextLines: [], multiline: false, ...over };
}

/** A block after an opener: the cursor on an empty, indented line below it. */
const block = (opener: string, indent = '  ', over: Partial<CompletionContext> = {}): CompletionContext =>
  ctx({ linePrefix: indent, previousLines: [opener], multiline: true, ...over });

const TRIM_CASES: { name: string; raw: string; ctx: CompletionContext; want: string }[] = [
  {
    name: 'single line: cut at the first newline',
    raw: 'foo(a, b);\nbar();',
    ctx: ctx({ linePrefix: '  ' }),
    want: 'foo(a, b);',
  },
  { name: 'single line: trailing spaces go', raw: 'x = 1;   \nmore', ctx: ctx({}), want: 'x = 1;' },
  { name: 'single line: a leading newline leaves nothing', raw: '\nfoo();', ctx: ctx({ linePrefix: 'x;' }), want: '' },
  {
    name: 'JS { block ends at the dedented }',
    raw: 'const b = a + 1;\n  return b;\n}\n\nfunction g() {',
    ctx: block('function f(a) {'),
    want: 'const b = a + 1;\n  return b;',
  },
  {
    name: 'Python : block ends at the dedented def, blank lines inside kept, trailing ones dropped',
    raw: 'y = x * 2\n\n    return y\n\ndef g():\n    pass',
    ctx: block('def f(x):', '    '),
    want: 'y = x * 2\n\n    return y',
  },
  { name: 'arrow => block', raw: 'a + 1;\nconst g = 2;', ctx: block('const f = (a) =>'), want: 'a + 1;' },
  {
    name: 'nested blocks closing with the same text at different depths are kept',
    raw: 'if (a) {\n    if (b) {\n      c();\n    }\n  }\n}',
    ctx: block('function f() {'),
    want: 'if (a) {\n    if (b) {\n      c();\n    }\n  }',
  },
  {
    name: 'block of a cursor at column 0 takes the indentation of its first line',
    raw: '    foo();\n    bar();\n}',
    ctx: block('function f() {', ''),
    want: '    foo();\n    bar();',
  },
  {
    name: 'an unbalanced closing bracket ends the block without a dedent',
    raw: '1,\n2,\n]\ny = 3',
    ctx: block('x = [', ''),
    want: '1,\n2,',
  },
  {
    name: 'brackets inside string literals do not count',
    raw: "')',\n'(',\n]",
    ctx: block('x = [', ''),
    want: "')',\n'(',",
  },
  {
    name: 'the cursor line may close a bracket opened before the cursor',
    raw: 'a) {\n  b();\n}\nnext();',
    ctx: ctx({ linePrefix: 'foo(', multiline: true }),
    want: 'a) {\n  b();\n}\nnext();',
  },
  {
    name: 'stops at a line repeating the previous generated line',
    raw: 'a();\n  b();\n  b();\n  c();',
    ctx: block('function f() {'),
    want: 'a();\n  b();',
  },
  {
    name: 'a line repeating the line above the cursor is dropped',
    raw: 'foo();',
    ctx: ctx({ linePrefix: '  ', previousLines: ['  foo();'] }),
    want: '',
  },
  {
    name: 'suffix duplication: ) already after the cursor',
    raw: 'a, b)',
    ctx: ctx({ linePrefix: 'foo(', lineSuffix: ')' }),
    want: 'a, b',
  },
  {
    name: 'suffix duplication: the start of ); overlaps',
    raw: 'a, b)',
    ctx: ctx({ linePrefix: 'foo(', lineSuffix: ');' }),
    want: 'a, b',
  },
  {
    name: 'suffix duplication with a space',
    raw: 'a: 1 }',
    ctx: ctx({ linePrefix: 'x = { ', lineSuffix: ' }' }),
    want: 'a: 1',
  },
  {
    name: 'text before a line suffix keeps its trailing space',
    raw: 'a, ',
    ctx: ctx({ linePrefix: 'f(', lineSuffix: 'b)' }),
    want: 'a, ',
  },
  {
    name: 'next-line duplication: a block stops before the line already below',
    raw: 'const x = 1;\n  return x;\n}',
    ctx: block('function f() {', '  ', { nextLines: ['', '  return x;', '}'] }),
    want: 'const x = 1;',
  },
  {
    name: 'next-line duplication: a single line that is the next line',
    raw: ' = 1;',
    ctx: ctx({ linePrefix: '  const x', nextLines: ['  const x = 1;'] }),
    want: '',
  },
  { name: 'whitespace only → empty', raw: '   \n  \t', ctx: block('if (x) {'), want: '' },
  { name: 'CRLF becomes LF', raw: 'a();\r\n  b();\r\n}\r\n', ctx: block('if (x) {'), want: 'a();\n  b();' },
  { name: 'trailing blank lines dropped', raw: 'a();\n  b();\n\n   \n', ctx: block('if (x) {'), want: 'a();\n  b();' },
  { name: 'maxLines caps a block', raw: 'a();\n  b();\n  c();', ctx: block('if (x) {'), want: 'a();\n  b();' },
];

describe('completion trimming', () => {
  for (const c of TRIM_CASES) {
    it(c.name, () => {
      const opts = c.name.startsWith('maxLines') ? { maxLines: 2 } : undefined;
      assert.equal(trimCompletion(c.raw, c.ctx, opts), c.want);
    });
  }

  it('asks for several lines only on a blank line below a block opener', () => {
    const yes: [string, string[]][] = [
      ['  ', ['function f() {']],
      ['', ['def f(x):']],
      ['    ', ['foo(', '', '  ']],
      ['  ', ['const f = () =>']],
      ['  ', ['fn f() ->']],
      ['  ', ['items.each do']],
      ['  ', ['if x then']],
      ['', ['x = [   ']],
    ];
    const no: [string, string[]][] = [
      ['  x', ['function f() {']],
      ['  ', ['foo();']],
      ['  ', []],
      ['', ['undo']],
      ['', ['x = y']],
    ];
    for (const [p, prev] of yes) assert.equal(wantsMultiline(p, prev), true, JSON.stringify([p, prev]));
    for (const [p, prev] of no) assert.equal(wantsMultiline(p, prev), false, JSON.stringify([p, prev]));
  });
});

describe('inline completion with a selected suggestion', () => {
  const item = { text: 'getElement', replaceStartInLine: 7 };

  it('keeps a completion that extends the selected item', () => {
    assert.equal(extendsSelectedItem('Element(id)', item, '  this.get'), 'Element(id)');
    assert.equal(extendsSelectedItem('Element', item, '  this.get'), 'Element');
  });

  it('drops a completion that goes elsewhere', () => {
    assert.equal(extendsSelectedItem('Value()', item, '  this.get'), undefined);
    assert.equal(extendsSelectedItem('Elem', item, '  this.get'), undefined);
  });

  it('drops it when the typed text is a fuzzy or differently cased match', () => {
    assert.equal(extendsSelectedItem('ement()', item, '  this.gE'), undefined);
    assert.equal(extendsSelectedItem('lement()', item, '  this.gete'), undefined);
  });

  it('keeps any completion once the item is fully typed, and every one without a selection', () => {
    assert.equal(extendsSelectedItem('(x)', item, '  this.getElement'), '(x)');
    assert.equal(extendsSelectedItem('foo', undefined, 'x'), 'foo');
  });

  it('treats a replace start past the cursor as nothing typed', () => {
    assert.equal(
      extendsSelectedItem('getElement()', { text: 'getElement', replaceStartInLine: 99 }, 'x.'),
      'getElement()',
    );
  });
});

describe('completion cache', () => {
  it('gets what was set, and nothing else', () => {
    const c = new CompletionCache();
    c.set('const x = ', '\n', 'foo();');
    assert.equal(c.get('const x = ', '\n'), 'foo();');
    assert.equal(c.get('const x = ', ''), undefined);
    assert.equal(c.get('const y = ', '\n'), undefined);
  });

  it('evicts the least recently used entry', () => {
    const c = new CompletionCache(2);
    c.set('a', '', '1');
    c.set('b', '', '2');
    assert.equal(c.get('a', ''), '1'); // a is now the most recent
    c.set('c', '', '3');
    assert.equal(c.size, 2);
    assert.equal(c.get('b', ''), undefined);
    assert.equal(c.get('a', ''), '1');
    assert.equal(c.get('c', ''), '3');
    c.set('a', '', '1b'); // overwriting refreshes too
    c.set('d', '', '4');
    assert.equal(c.get('c', ''), undefined);
    assert.equal(c.get('a', ''), '1b');
  });

  it('keys on the prefix tail and suffix head only', () => {
    const c = new CompletionCache();
    const tail = 'x'.repeat(2000);
    c.set('A' + tail, 'S' + 'y'.repeat(500), 'done');
    assert.equal(c.get('B' + tail, 'S' + 'y'.repeat(500) + 'more'), 'done');
  });

  it('keeps up with typing through a completion', () => {
    const c = new CompletionCache();
    c.set('const x = ', '\n}', 'foo(bar);');
    assert.equal(c.reuse('const x = ', '\n}'), 'foo(bar);');
    assert.equal(c.reuse('const x = f', '\n}'), 'oo(bar);');
    assert.equal(c.reuse('const x = foo(', '\n}'), 'bar);');
    // Typed all of it: nothing left to show, so a new request is due.
    assert.equal(c.reuse('const x = foo(bar);', '\n}'), undefined);
  });

  it('does not reuse when the typing diverges, the suffix changed, or the text was deleted', () => {
    const c = new CompletionCache();
    c.set('const x = ', '\n}', 'foo(bar);');
    assert.equal(c.reuse('const x = g', '\n}'), undefined);
    assert.equal(c.reuse('const x = fo', '\n}\n'), undefined);
    assert.equal(c.reuse('const x =', '\n}'), undefined);
    assert.equal(c.reuse('let x = f', '\n}'), undefined);
  });

  it('does not reuse across a newline the completion does not have', () => {
    const c = new CompletionCache();
    c.set('x', '', 'abc');
    assert.equal(c.reuse('x\n', ''), undefined);
    assert.equal(c.reuse('xa\n', ''), undefined);
    c.set('y', '', 'a\n  b();');
    assert.equal(c.reuse('ya\n', ''), '  b();');
  });

  it('types through past the key window of a long prefix, preferring the newest entry', () => {
    const c = new CompletionCache();
    const prefix = 'z'.repeat(3000) + 'let ';
    c.set(prefix, '', 'value = 1;');
    assert.equal(c.reuse(prefix + 'val', ''), 'ue = 1;');
    c.set('q', '', 'value = 2;');
    c.set('qv', '', 'alue = 9;');
    assert.equal(c.reuse('qva', ''), 'lue = 9;');
  });
});
