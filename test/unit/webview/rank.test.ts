import { strict as assert } from 'node:assert';
import { rankingToPairs } from '../../../src/core/data/preferences';
import { parseAlignOutbound, parseRankOutbound } from '../../../src/protocol/rank';
import { blindItems, tally } from '../../../webview/align/blind';
import { highlight } from '../../../webview/rank/highlight';
import { cardKey, initialBoard, RankBoard, restoreCards } from '../../../webview/rank/viewModel';

const board = (k = 4) => new RankBoard(initialBoard(Array.from({ length: k }, (_, i) => `c${i}`)));
const order = (b: RankBoard) => b.cards.map((c) => c.text);

/** Plays keys on the focused card as the board's keydown handler does. */
function play(b: RankBoard, focused: number, keys: Parameters<typeof cardKey>[0][]): number {
  for (const e of keys) {
    const k = cardKey(e);
    assert.ok(k, `key ${JSON.stringify(e)} means something`);
    if (k.kind === 'focus')
      focused = b.cards[Math.max(0, Math.min(b.cards.length - 1, b.indexOf(focused) + k.delta))].id;
    else if (k.kind === 'move') void (k.delta < 0 ? b.moveUp(focused) : b.moveDown(focused));
    else if (k.kind === 'place') b.moveTo(focused, k.to);
    else if (k.kind === 'tie') b.toggleTie(focused);
    else if (k.kind === 'undo') b.undo();
  }
  return focused;
}

describe('webview: ranking board view-model', () => {
  it('orders cards by keyboard alone: arrows move the focus, Alt+arrows the card, digits place it', () => {
    const b = board();
    // Focus c0, move it down twice with Alt+Down: c1 c2 c0 c3.
    let f = play(b, 0, [
      { key: 'ArrowDown', altKey: true },
      { key: 'ArrowDown', altKey: true },
    ]);
    assert.deepEqual(order(b), ['c1', 'c2', 'c0', 'c3']);
    assert.equal(f, 0, 'the focus stays on the moved card');
    // Focus moves to the last card (c3) with plain arrows; "1" puts it first.
    f = play(b, f, [{ key: 'ArrowDown' }, { key: '1' }]);
    assert.equal(f, 3);
    assert.deepEqual(order(b), ['c3', 'c1', 'c2', 'c0']);
    // Alt+Up at the top does nothing; Alt+Left is the same as Alt+Up.
    play(b, f, [{ key: 'ArrowUp', altKey: true }]);
    assert.deepEqual(order(b), ['c3', 'c1', 'c2', 'c0']);
    play(b, 0, [{ key: 'ArrowLeft', altKey: true }]);
    assert.deepEqual(order(b), ['c3', 'c1', 'c0', 'c2']);
    // A digit past the end puts it last.
    play(b, 3, [{ key: '9' }]);
    assert.deepEqual(order(b), ['c1', 'c0', 'c2', 'c3']);
  });

  it('gives ranks in the model’s order and all C(K,2) pairs when there are no ties', () => {
    for (let k = 2; k <= 9; k++) {
      const b = board(k);
      b.moveTo(k - 1, 0); // last written is best
      const r = b.ranking();
      assert.deepEqual(
        r.completions,
        Array.from({ length: k }, (_, i) => `c${i}`),
      );
      assert.equal(r.ranks[k - 1], 0);
      assert.deepEqual(
        [...r.ranks].sort((x, y) => x - y),
        Array.from({ length: k }, (_, i) => i),
      );
      assert.equal(b.pairCount(), (k * (k - 1)) / 2);
      assert.equal(rankingToPairs('p', r).length, (k * (k - 1)) / 2);
    }
  });

  it('ties a card with the one above (T): both share a place and give no pair between them', () => {
    const b = board();
    play(b, 2, [{ key: 't' }]); // c2 ties with c1
    assert.deepEqual(b.places(), [0, 1, 1, 2]);
    assert.deepEqual(b.ranking().ranks, [0, 1, 1, 2]);
    assert.equal(b.pairCount(), 5);
    const pairs = rankingToPairs('p', b.ranking());
    assert.equal(pairs.length, 5);
    assert.ok(!pairs.some((p) => [p.chosen, p.rejected].sort().join() === 'c1,c2'), 'no pair between tied cards');
    // "=" toggles it off again; the first card cannot tie.
    play(b, 2, [{ key: '=' }]);
    assert.deepEqual(b.places(), [0, 1, 2, 3]);
    assert.equal(b.toggleTie(0), false);
    // A moved card no longer ties.
    b.toggleTie(3);
    b.moveTo(3, 1);
    assert.deepEqual(b.places(), [0, 1, 2, 3]);
    // All tied: no pairs.
    const all = board(3);
    all.toggleTie(1);
    all.toggleTie(2);
    assert.equal(all.pairCount(), 0);
  });

  it('an edited completion takes its new text and ranks first; undo brings the old order back', () => {
    const b = board();
    b.moveTo(0, 3); // c1 c2 c3 c0
    assert.ok(b.edit(2, 'better answer'));
    assert.deepEqual(order(b), ['better answer', 'c1', 'c3', 'c0']);
    const r = b.ranking();
    assert.deepEqual(r.completions, ['c0', 'c1', 'better answer', 'c3']);
    assert.deepEqual(r.ranks, [3, 1, 0, 2]);
    assert.deepEqual(r.edited, [false, false, true, false]);
    const pairs = rankingToPairs('p', r);
    assert.equal(pairs.filter((p) => p.chosen === 'better answer').length, 3, 'the edit beats every other');
    assert.equal(b.edit(1, '   '), false, 'an empty edit is refused');
    b.undo();
    assert.deepEqual(order(b), ['c1', 'c2', 'c3', 'c0']);
    play(b, 0, [{ key: 'z', ctrlKey: true }]);
    assert.deepEqual(order(b), ['c0', 'c1', 'c2', 'c3']);
    assert.equal(b.canUndo, false);
    assert.equal(b.undo(), false);
  });

  it('says when two cards hold the same text after an edit', () => {
    const b = board(3);
    b.edit(2, 'c0');
    assert.ok(b.duplicates());
  });

  it('comes back after a window reload as it was left, and only for the same completions', () => {
    const b = board(3);
    b.moveTo(2, 0);
    b.toggleTie(1);
    b.edit(1, 'better');
    const saved = JSON.parse(JSON.stringify(b.state.cards));
    assert.deepEqual(restoreCards(saved, ['c0', 'c1', 'c2']), b.state.cards);
    assert.equal(restoreCards(saved, ['c0', 'cX', 'c2']), undefined, 'other completions: start afresh');
    assert.equal(restoreCards(saved.slice(1), ['c0', 'c1', 'c2']), undefined);
    assert.equal(restoreCards([saved[0], saved[0], saved[1]], ['c0', 'c1', 'c2']), undefined, 'a card twice');
    assert.equal(restoreCards('nonsense', ['c0', 'c1']), undefined);
  });

  it('maps keys: Ctrl+Enter submits, E/Enter/F2 edit, other keys mean nothing', () => {
    assert.deepEqual(cardKey({ key: 'Enter', ctrlKey: true }), { kind: 'submit' });
    assert.deepEqual(cardKey({ key: 'Enter' }), { kind: 'edit' });
    assert.deepEqual(cardKey({ key: 'e' }), { kind: 'edit' });
    assert.deepEqual(cardKey({ key: 'F2' }), { kind: 'edit' });
    assert.deepEqual(cardKey({ key: '0' }), undefined);
    assert.deepEqual(cardKey({ key: 'x' }), undefined);
    assert.deepEqual(cardKey({ key: '1', altKey: true }), undefined);
  });

  it('validates what the board sends: ranks in range, 2–9 completions, no empty text', () => {
    const ok = { type: 'submit', completions: ['a', 'b'], ranks: [1, 0], edited: [false, false] };
    assert.deepEqual(parseRankOutbound(ok), ok);
    assert.equal(parseRankOutbound({ ...ok, ranks: [1, 2] }), undefined);
    assert.equal(parseRankOutbound({ ...ok, ranks: [0.5, 0] }), undefined);
    assert.equal(parseRankOutbound({ ...ok, completions: ['a', ''] }), undefined);
    assert.equal(parseRankOutbound({ ...ok, completions: ['a'], ranks: [0], edited: [false] }), undefined);
    assert.equal(parseRankOutbound({ ...ok, edited: [0, 0] }), undefined);
    assert.equal(parseRankOutbound({ type: 'nope' }), undefined);
    assert.equal(parseRankOutbound(null), undefined);
    assert.deepEqual(parseRankOutbound({ type: 'skip', extra: 1 }), { type: 'skip' });
    assert.deepEqual(parseAlignOutbound({ type: 'compare', version: 'dpo-1' }), { type: 'compare', version: 'dpo-1' });
    assert.equal(parseAlignOutbound({ type: 'compare', version: '../x' }), undefined);
    assert.equal(parseAlignOutbound({ type: 'judged', version: 'dpo-1', after: -1, before: 0, ties: 0 }), undefined);
    assert.deepEqual(parseAlignOutbound({ type: 'resume', version: 'ppo-2', x: 1 }), {
      type: 'resume',
      version: 'ppo-2',
    });
    assert.equal(parseAlignOutbound({ type: 'resume', version: '../ppo-2' }), undefined);
    assert.equal(parseAlignOutbound({ type: 'resume' }), undefined);
  });
});

describe('webview: blind A/B judging', () => {
  const rows = [
    { prompt: 'p1', before: 'old1', after: 'new1' },
    { prompt: 'p2', before: 'same', after: 'same' },
    { prompt: 'p3', before: 'old3', after: 'new3' },
  ];

  it('hides the order, skips identical pairs, and counts the aligned version’s wins (ties half)', () => {
    let flip = 0;
    const items = blindItems(rows, 6, () => (flip++ % 2 ? 0.9 : 0.1));
    assert.equal(items.length, 2, 'the identical pair is skipped');
    assert.deepEqual(
      items.map((i) => [i.a, i.b]),
      [
        ['new1', 'old1'],
        ['old3', 'new3'],
      ],
    );
    assert.deepEqual(tally(items, ['a', 'b']), { after: 2, before: 0, ties: 0, winRate: 1 });
    assert.deepEqual(tally(items, ['b', 'tie']), { after: 0, before: 1, ties: 1, winRate: 0.25 });
  });
});

describe('webview: code colouring', () => {
  it('keeps the text and colours comments, strings, numbers and keywords', () => {
    const text = 'const x = "a b"; // note\nreturn 42;';
    const runs = highlight(text, 'typescript');
    assert.equal(runs.map((r) => r.text).join(''), text);
    const cls = (t: string) => runs.find((r) => r.text === t)?.cls;
    assert.equal(cls('const'), 'keyword');
    assert.equal(cls('"a b"'), 'string');
    assert.equal(cls('// note'), 'comment');
    assert.equal(cls('42'), 'number');
    assert.equal(highlight('# hi\nx = 1', 'python')[0].cls, 'comment');
  });
});
