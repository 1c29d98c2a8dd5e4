/**
 * The ranking board: the model's completions of one prompt side by side, best first. Order them by dragging,
 * or by keyboard alone (see cardKey); tie, edit, undo; Submit sends the ranking to the host, which writes its
 * chosen/rejected pairs. State lives in viewModel.ts.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import type { RankInbound, RankOutbound } from '../../src/protocol/rank';
import { el } from '../shared/dom';
import { vscode } from '../shared/vscode';
import { highlight } from './highlight';
import { Card, cardKey, initialBoard, RankBoard, restoreCards } from './viewModel';

const post = (m: RankOutbound) => vscode.postMessage(m);
const ORDINAL = ['1st', '2nd', '3rd', '4th', '5th', '6th', '7th', '8th', '9th'];

const app = document.getElementById('app') ?? document.body.appendChild(el('main', { id: 'app' }));
app.classList.add('rank');
const button = (id: string, label: string, secondary = false) =>
  el('vscode-button', secondary ? { id, secondary: '' } : { id }, label);
const $ = {
  source: el('span', { id: 'source', class: 'source' }),
  status: el('div', { id: 'status', class: 'status', role: 'status', 'aria-live': 'polite' }),
  error: el('div', { id: 'error', class: 'error', role: 'alert', hidden: '' }),
  content: el('section', { id: 'content', hidden: '' }),
  prompt: el('pre', { id: 'prompt', class: 'code prompt', tabindex: '0', 'aria-label': 'Prompt' }),
  board: el('ol', { id: 'board', class: 'board', 'aria-label': 'Completions, best first' }),
  summary: el('p', { id: 'summary', class: 'explain' }),
  submit: button('submit', 'Submit ranking'),
  undo: button('undo', 'Undo', true),
  skip: button('skip', 'Skip', true),
  again: button('again', 'Sample again', true),
};
$.content.append(
  el('h2', {}, 'Prompt'),
  $.prompt,
  el('h2', {}, 'Completions, best first'),
  el(
    'p',
    { class: 'explain', id: 'keys' },
    'Drag the cards into order, or focus one and press Alt+↑/↓ to move it, 1–9 to put it in that place, T to tie it with the card above, E to edit it into a better answer (it then ranks first). Ctrl+Enter submits, Ctrl+Z undoes.',
  ),
  $.board,
  $.summary,
  el('div', { class: 'actions' }, $.submit, $.undo, $.skip, $.again),
);
app.replaceChildren(
  el('header', {}, el('h1', {}, 'Rank completions'), $.source),
  el(
    'p',
    { class: 'explain' },
    'Which answer is better? Each ranking becomes chosen/rejected pairs (human preferences) that a reward model or DPO learns from.',
  ),
  $.error,
  $.status,
  $.content,
);

type RankMessage = Extract<RankInbound, { type: 'rank' }>;
/** What a window reload keeps: the completions and the board as the user left it. */
interface Saved {
  rank?: RankMessage;
  cards?: Card[];
}
let saved: Saved = (vscode.getState() as Saved | undefined) ?? {};
let current: RankMessage | undefined;
let board: RankBoard | undefined;
let languageId = 'plaintext';
let focusedId: number | undefined;
let editingId: number | undefined;
let dragId: number | undefined;

function codeBlock(text: string, cls = 'code'): HTMLElement {
  const pre = el('pre', { class: cls });
  for (const run of highlight(text, languageId))
    pre.append(run.cls === 'plain' ? run.text : el('span', { class: `tk-${run.cls}` }, run.text));
  return pre;
}

function save(): void {
  vscode.setState(board && current ? { rank: current, cards: board.state.cards } : {});
}

function render(): void {
  save();
  if (!board) return;
  const b = board;
  const places = b.places();
  $.board.replaceChildren(
    ...b.cards.map((c, i) => {
      const label = c.tied && i > 0 ? `= ${ORDINAL[places[i]]} (tie)` : ORDINAL[places[i]];
      const card = el('li', {
        class: `card${c.tied && i > 0 ? ' tied' : ''}${c.edited ? ' edited' : ''}`,
        tabindex: '-1',
        draggable: 'true',
        'data-id': String(c.id),
        'aria-label': `${label} place: completion ${c.id + 1}${c.edited ? ', edited' : ''}`,
      });
      const head = el(
        'div',
        { class: 'card-head' },
        el('span', { class: 'place' }, label),
        el('span', { class: 'which' }, `#${c.id + 1}${c.edited ? ' · edited' : ''}`),
      );
      const tools = el('span', { class: 'tools' });
      const tool = (text: string, title: string, f: () => void) => {
        const t = el('button', { class: 'tool', title, tabindex: '-1', type: 'button' }, text);
        t.onclick = (e) => {
          e.stopPropagation();
          f();
        };
        tools.append(t);
      };
      tool('↑', 'Better (Alt+↑)', () => act(() => b.moveUp(c.id), c.id));
      tool('↓', 'Worse (Alt+↓)', () => act(() => b.moveDown(c.id), c.id));
      if (i > 0) tool('=', 'Tie with the card above (T)', () => act(() => b.toggleTie(c.id), c.id));
      tool('✎', 'Edit into a better answer (E)', () => startEdit(c.id));
      head.append(tools);
      card.append(head);
      if (editingId === c.id) card.append(editor(c.id, c.text));
      else card.append(codeBlock(c.text));
      card.onfocus = () => (focusedId = c.id);
      card.onclick = () => card.focus();
      card.ondragstart = (e) => {
        dragId = c.id;
        e.dataTransfer?.setData('text/plain', String(c.id));
        card.classList.add('dragging');
      };
      card.ondragend = () => card.classList.remove('dragging');
      card.ondragover = (e) => {
        e.preventDefault();
        card.classList.add('drop');
      };
      card.ondragleave = () => card.classList.remove('drop');
      card.ondrop = (e) => {
        e.preventDefault();
        const id = dragId ?? Number(e.dataTransfer?.getData('text/plain'));
        dragId = undefined;
        if (Number.isInteger(id)) act(() => b.moveTo(id, b.indexOf(c.id)), id);
      };
      return card;
    }),
  );
  const pairs = b.pairCount();
  $.summary.textContent = b.duplicates()
    ? 'Two cards hold the same text: edit one so they differ.'
    : `Submitting saves ${pairs} pair${pairs === 1 ? '' : 's'} (chosen over rejected; ties give none).`;
  $.undo.toggleAttribute('disabled', !b.canUndo);
  $.submit.toggleAttribute('disabled', pairs === 0 || b.duplicates());
  // Roving focus: the focused card (else the first) is the board's one tab stop.
  const stop = focusedId !== undefined && b.indexOf(focusedId) >= 0 ? focusedId : b.cards[0]?.id;
  const stopEl = $.board.querySelector<HTMLElement>(`[data-id="${stop}"]`);
  stopEl?.setAttribute('tabindex', '0');
}

function focusCard(id: number | undefined): void {
  if (id === undefined) return;
  focusedId = id;
  $.board.querySelectorAll('.card').forEach((c) => c.setAttribute('tabindex', '-1'));
  const c = $.board.querySelector<HTMLElement>(`[data-id="${id}"]`);
  c?.setAttribute('tabindex', '0');
  c?.focus();
  c?.scrollIntoView({ block: 'nearest', inline: 'nearest' });
}

/** Applies a change and keeps the focus on the card it concerns. */
function act(f: () => boolean, keepFocus: number | undefined): void {
  if (!f()) return;
  render();
  focusCard(keepFocus);
}

function editor(id: number, text: string): HTMLElement {
  const area = el('textarea', { class: 'code edit', 'aria-label': 'Edit the completion', spellcheck: 'false' });
  area.value = text;
  area.rows = Math.min(20, Math.max(3, text.split('\n').length + 1));
  const save = () => {
    editingId = undefined;
    board?.edit(id, area.value);
    render();
    focusCard(id);
  };
  area.onkeydown = (e) => {
    e.stopPropagation();
    if (e.key === 'Escape') {
      e.preventDefault();
      editingId = undefined;
      render();
      focusCard(id);
    } else if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      save();
    }
  };
  const ok = el('vscode-button', {}, 'Save edit (Ctrl+Enter)');
  ok.addEventListener('click', save);
  const cancel = el('vscode-button', { secondary: '' }, 'Cancel (Esc)');
  cancel.addEventListener('click', () => {
    editingId = undefined;
    render();
    focusCard(id);
  });
  setTimeout(() => area.focus(), 0);
  return el('div', { class: 'editing' }, area, el('div', { class: 'actions' }, ok, cancel));
}

function startEdit(id: number): void {
  editingId = id;
  render();
}

function submit(): void {
  if (!board || board.pairCount() === 0 || board.duplicates()) return;
  post({ type: 'submit', ...board.ranking() });
  showStatus('Saving…');
}

$.board.addEventListener('keydown', (e) => {
  if (!board || editingId !== undefined) return;
  const target = (e.target as HTMLElement).closest<HTMLElement>('.card');
  if (!target) return;
  const id = Number(target.dataset.id);
  const k = cardKey(e);
  if (!k) return;
  e.preventDefault();
  const b = board;
  switch (k.kind) {
    case 'focus': {
      const at = Math.max(0, Math.min(b.cards.length - 1, b.indexOf(id) + k.delta));
      focusCard(b.cards[at].id);
      break;
    }
    case 'move':
      act(() => (k.delta < 0 ? b.moveUp(id) : b.moveDown(id)), id);
      break;
    case 'place':
      act(() => b.moveTo(id, k.to), id);
      break;
    case 'tie':
      act(() => b.toggleTie(id), id);
      break;
    case 'edit':
      startEdit(id);
      break;
    case 'undo':
      act(() => b.undo(), id);
      break;
    case 'submit':
      submit();
      break;
  }
});
// Ctrl+Z and Ctrl+Enter anywhere but in the editor box.
document.addEventListener('keydown', (e) => {
  if (!board || editingId !== undefined || (e.target as HTMLElement).closest?.('.card')) return;
  const k = cardKey(e);
  if (k?.kind === 'undo') act(() => board!.undo(), focusedId);
  if (k?.kind === 'submit') submit();
});
$.submit.addEventListener('click', submit);
$.undo.addEventListener('click', () => act(() => board?.undo() ?? false, focusedId));
$.skip.addEventListener('click', () => post({ type: 'skip' }));
$.again.addEventListener('click', () => post({ type: 'again' }));

function showStatus(text: string): void {
  $.status.textContent = text;
}

function showError(message: string | undefined): void {
  $.error.textContent = message ?? '';
  $.error.hidden = !message;
}

window.addEventListener('message', (ev: MessageEvent<RankInbound>) => {
  const m = ev.data;
  switch (m.type) {
    case 'rank':
      showError(undefined);
      languageId = m.languageId;
      {
        // After a reload the host sends the same completions again: the board comes back as it was left.
        const same =
          saved.rank?.prompt === m.prompt &&
          Array.isArray(saved.rank.completions) &&
          saved.rank.completions.join('\0') === m.completions.join('\0');
        const cards = same ? restoreCards(saved.cards, m.completions) : undefined;
        board = new RankBoard(cards ? { cards } : initialBoard(m.completions));
        saved = {};
        current = m;
      }
      focusedId = undefined;
      editingId = undefined;
      $.source.textContent = `${m.version} · ${m.languageId}`;
      $.prompt.replaceChildren(...codeBlock(m.prompt.split('\n').slice(-20).join('\n'), 'code').childNodes);
      $.content.hidden = false;
      showStatus(
        `${m.completions.length} distinct completions${m.completions.length < m.asked ? ` (of ${m.asked} asked: the model kept repeating itself)` : ''} · ${m.total} pairs saved so far.`,
      );
      render();
      focusCard(board.cards[0]?.id);
      break;
    case 'busy':
      showError(undefined);
      showStatus(m.message);
      break;
    case 'error':
      showError(m.message);
      showStatus('');
      break;
    case 'submitted':
      board = undefined;
      current = undefined;
      save();
      $.content.hidden = true;
      showStatus(
        `Saved ${m.pairs} pair${m.pairs === 1 ? '' : 's'} · ${m.total} in preferences.jsonl. Run "GPT Lab: Rank Completions" again at another place, or train a reward model or DPO.`,
      );
      break;
    case 'skipped':
      board = undefined;
      current = undefined;
      save();
      $.content.hidden = true;
      showStatus('Skipped: nothing saved for this prompt.');
      break;
  }
});

post({ type: 'ready' });
