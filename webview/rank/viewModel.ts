/**
 * The ranking board's state, without the DOM (unit tests drive it as the keyboard does): the completions in
 * the user's order (best first), ties with the card above, edits, and undo.
 */

export interface Card {
  /** The completion's index in the order the model wrote them (stable across moves). */
  id: number;
  text: string;
  /** The text the model wrote (differs from `text` once edited). */
  original: string;
  edited: boolean;
  /** Same rank as the card directly above (meaningless for the first card). */
  tied: boolean;
}

export interface BoardState {
  cards: Card[];
}

export function initialBoard(completions: string[]): BoardState {
  return { cards: completions.map((text, id) => ({ id, text, original: text, edited: false, tied: false })) };
}

/** The board with undo: every change pushes the previous state. */
export class RankBoard {
  private history: BoardState[] = [];

  constructor(public state: BoardState) {}

  get cards(): readonly Card[] {
    return this.state.cards;
  }

  get canUndo(): boolean {
    return this.history.length > 0;
  }

  /** Position (0 = best) of the card with this id. */
  indexOf(id: number): number {
    return this.state.cards.findIndex((c) => c.id === id);
  }

  private change(f: (cards: Card[]) => Card[] | undefined): boolean {
    const cards = f(this.state.cards.map((c) => ({ ...c })));
    if (!cards) return false;
    this.history.push(this.state);
    this.state = { cards };
    return true;
  }

  /** Moves a card to position `to` (clamped); a moved card no longer ties with its new neighbour. */
  moveTo(id: number, to: number): boolean {
    const from = this.indexOf(id);
    const n = this.state.cards.length;
    const target = Math.max(0, Math.min(n - 1, to));
    if (from < 0 || target === from) return false;
    return this.change((cards) => {
      const [card] = cards.splice(from, 1);
      card.tied = false;
      cards.splice(target, 0, card);
      cards[0].tied = false;
      return cards;
    });
  }

  /** One place better (up / left). */
  moveUp(id: number): boolean {
    return this.moveTo(id, this.indexOf(id) - 1);
  }

  /** One place worse (down / right). */
  moveDown(id: number): boolean {
    return this.moveTo(id, this.indexOf(id) + 1);
  }

  /** Ties a card with the one above it, or unties it. The first card cannot tie. */
  toggleTie(id: number): boolean {
    const at = this.indexOf(id);
    if (at <= 0) return false;
    return this.change((cards) => {
      cards[at].tied = !cards[at].tied;
      return cards;
    });
  }

  /** The user rewrote a completion into a better answer: it takes the text and goes first (untied). */
  edit(id: number, text: string): boolean {
    const at = this.indexOf(id);
    if (at < 0 || text.trim() === '') return false;
    const card = this.state.cards[at];
    if (text === card.text && at === 0) return false;
    return this.change((cards) => {
      const [c] = cards.splice(at, 1);
      c.text = text;
      c.edited = text !== c.original;
      c.tied = false;
      cards.unshift(c);
      if (cards[1]) cards[1].tied = false;
      return cards;
    });
  }

  undo(): boolean {
    const prev = this.history.pop();
    if (!prev) return false;
    this.state = prev;
    return true;
  }

  /** Places (0 = best) by position: a tied card shares the place of the card above. */
  places(): number[] {
    const out: number[] = [];
    let place = 0;
    this.state.cards.forEach((c, i) => {
      if (i > 0 && !c.tied) place++;
      out.push(place);
    });
    return out;
  }

  /** What Submit sends: completions in the model's order, ranks[i] = completion i's place (ties equal). */
  ranking(): { completions: string[]; ranks: number[]; edited: boolean[] } {
    const places = this.places();
    const byId = [...this.state.cards].map((c, i) => ({ c, place: places[i] })).sort((a, b) => a.c.id - b.c.id);
    return {
      completions: byId.map((x) => x.c.text),
      ranks: byId.map((x) => x.place),
      edited: byId.map((x) => x.c.edited),
    };
  }

  /** Chosen/rejected pairs the ranking gives: every two cards on different places. */
  pairCount(): number {
    const places = this.places();
    let n = 0;
    for (let i = 0; i < places.length; i++)
      for (let j = i + 1; j < places.length; j++) if (places[i] !== places[j]) n++;
    return n;
  }

  /** Two completions with the same text cannot be chosen over each other. */
  duplicates(): boolean {
    const texts = this.state.cards.map((c) => c.text);
    return new Set(texts).size !== texts.length;
  }
}

/** The key a focused card understands, or undefined. */
export type CardKey =
  | { kind: 'focus'; delta: number }
  | { kind: 'move'; delta: number }
  | { kind: 'place'; to: number }
  | { kind: 'tie' }
  | { kind: 'edit' }
  | { kind: 'undo' }
  | { kind: 'submit' };

/**
 * Keyboard alone: arrows move the focus; Alt+arrows move the card; 1–9 put it in that place; T (or =) ties it
 * with the card above; E or Enter edits it; Ctrl+Z undoes; Ctrl+Enter submits.
 */
export function cardKey(e: {
  key: string;
  altKey?: boolean;
  ctrlKey?: boolean;
  metaKey?: boolean;
  shiftKey?: boolean;
}): CardKey | undefined {
  const mod = e.ctrlKey || e.metaKey;
  if (mod && e.key === 'Enter') return { kind: 'submit' };
  if (mod && (e.key === 'z' || e.key === 'Z')) return { kind: 'undo' };
  if (mod) return undefined;
  const back = e.key === 'ArrowUp' || e.key === 'ArrowLeft';
  const fwd = e.key === 'ArrowDown' || e.key === 'ArrowRight';
  if (back || fwd) return { kind: e.altKey ? 'move' : 'focus', delta: back ? -1 : 1 };
  if (e.altKey) return undefined;
  if (/^[1-9]$/.test(e.key)) return { kind: 'place', to: Number(e.key) - 1 };
  if (e.key === 't' || e.key === 'T' || e.key === '=') return { kind: 'tie' };
  if (e.key === 'e' || e.key === 'E' || e.key === 'Enter' || e.key === 'F2') return { kind: 'edit' };
  return undefined;
}

/**
 * Cards saved in the webview's state (a window reload) back, if they are the board of these completions: every
 * completion once, its original text unchanged. Anything else gives undefined (start afresh).
 */
export function restoreCards(saved: unknown, completions: string[]): Card[] | undefined {
  if (!Array.isArray(saved) || saved.length !== completions.length) return undefined;
  const seen = new Set<number>();
  const cards: Card[] = [];
  for (const c of saved as Partial<Card>[]) {
    if (typeof c !== 'object' || c === null) return undefined;
    const { id, text, original, edited, tied } = c;
    if (!Number.isInteger(id) || id! < 0 || id! >= completions.length || seen.has(id!)) return undefined;
    if (typeof text !== 'string' || text.trim() === '' || original !== completions[id!]) return undefined;
    if (typeof edited !== 'boolean' || typeof tied !== 'boolean') return undefined;
    seen.add(id!);
    cards.push({ id: id!, text, original, edited, tied: cards.length > 0 && tied });
  }
  return cards;
}
