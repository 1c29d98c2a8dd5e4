/**
 * Attention inspector panel. The host sends {type:'attention'} with the tokens and every head's weights;
 * hovering or focusing a token tints what it attends to (chips, heatmap, ranked list) and tells the host,
 * which tints the editor the same way.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import type { AttentionData, InspectorInbound, InspectorOutbound } from '../../src/protocol/inspect';
import { el, focusChip, tokenStrip } from '../shared/dom';
import { pct } from '../shared/format';
import { onThemeChange, vscode } from '../shared/vscode';
import { type Colors, drawHeatmap, drawThumb, matrixImage, themeColors } from './draw';
import {
  attentionMatrix,
  attentionRow,
  type Dims,
  type HeadChoice,
  heatmapLayout,
  highlightedKeys,
  sourceHeading,
  svgExport,
  topAttended,
  weightToAlpha,
} from './viewModel';

const EXPLAIN = 'Each row is a token; its colour shows how much it attends to each earlier token.';
const THUMB = 84;

// ---- DOM -------------------------------------------------------------------------------------------------
const app = document.getElementById('app') ?? document.body.appendChild(el('main', { id: 'app' }));
app.classList.add('inspector');
const $ = {
  source: el('span', { id: 'source', class: 'source' }),
  context: el('p', { id: 'context', class: 'source', hidden: '' }),
  error: el('div', { id: 'error', class: 'error', role: 'alert', hidden: '' }),
  empty: el('p', { id: 'empty', class: 'empty' }, 'Waiting for text to inspect…'),
  content: el('section', { id: 'content', hidden: '' }),
  tokens: el('div', { id: 'tokens', class: 'strip', 'aria-label': 'Tokens' }),
  layer: el('select', { id: 'layer', 'aria-label': 'Layer' }),
  head: el('select', { id: 'head', 'aria-label': 'Head' }),
  exportSvg: el('vscode-button', { id: 'export-svg', secondary: '' }, 'Export SVG'),
  exportPng: el('vscode-button', { id: 'export-png', secondary: '' }, 'Export PNG'),
  headTitle: el('h2', { id: 'head-title' }),
  heatmap: el('canvas', { id: 'heatmap', 'aria-label': 'Attention heatmap: query rows, key columns' }),
  topTitle: el('h2', { id: 'top-title' }),
  topList: el('ol', { id: 'top-list' }),
  model: el('div', { id: 'model-view' }),
};
const headView = el('div', { class: 'head-view' }, $.headTitle, $.heatmap);
$.content.append(
  $.tokens,
  el(
    'div',
    { class: 'toolbar' },
    el('label', {}, 'Layer ', $.layer),
    el('label', {}, 'Head ', $.head),
    el('span', { class: 'spacer' }),
    $.exportSvg,
    $.exportPng,
  ),
  el('div', { class: 'views' }, headView, el('div', { class: 'ranked' }, $.topTitle, $.topList)),
  el('h2', {}, 'All layers and heads'),
  el(
    'p',
    { class: 'explain' },
    'Each small map is one head (the last column: the mean of the layer). Click one to look closer.',
  ),
  $.model,
);
app.replaceChildren(
  el('header', {}, el('h1', {}, 'Attention'), $.source),
  $.context,
  el('p', { id: 'explain', class: 'explain' }, EXPLAIN),
  $.error,
  $.empty,
  $.content,
);

// ---- state -----------------------------------------------------------------------------------------------
interface Saved {
  layer: number;
  head: HeadChoice;
  hovered: number;
  /** The host's description of the inspected text (parsed from the message's `source`): it revives from it. */
  source?: unknown;
}
const saved = (vscode.getState() as Saved | undefined) ?? { layer: 0, head: 0, hovered: -1 };
let data: AttentionData | undefined;
let dims: Dims = { layers: 0, heads: 0, T: 0 };
let layer = saved.layer;
let head: HeadChoice = saved.head;
/** The token whose attention is shown (-1: none), and the one clicked, focused or sent by the editor. */
let hovered = -1;
let pinned = saved.hovered;
let source: unknown = saved.source;
let chips: HTMLElement[] = [];
let colors: Colors = themeColors();
/** One-pixel-per-cell images: [layer][head], the last head being the mean. */
let images: HTMLCanvasElement[][] = [];
let thumbs: HTMLCanvasElement[][] = [];
let matrix: Float32Array = new Float32Array(0);

const exposed = { tokens: [] as string[], layer, head, hovered, highlighted: [] as number[] };
(window as unknown as { gptLabInspector: typeof exposed }).gptLabInspector = exposed;

const post = (m: InspectorOutbound) => vscode.postMessage(m);
let hoverTimer: ReturnType<typeof setTimeout> | undefined;
function announce(): void {
  vscode.setState({ layer, head, hovered: pinned >= 0 ? pinned : hovered, source } satisfies Saved);
  clearTimeout(hoverTimer);
  hoverTimer = setTimeout(() => post({ type: 'hover', token: hovered, layer, head }), 30);
}

function expose(highlighted: number[]): void {
  Object.assign(exposed, { tokens: data?.tokens.display ?? [], layer, head, hovered, highlighted });
  app.dataset.layer = String(layer);
  app.dataset.head = String(head);
  app.dataset.hovered = String(hovered);
}

// ---- rendering -------------------------------------------------------------------------------------------
const headIndex = (h: HeadChoice) => (h === 'mean' ? dims.heads : h);
const headName = (h: HeadChoice) => (h === 'mean' ? 'mean of heads' : `head ${h}`);

function buildImages(): void {
  if (!data) return;
  images = [];
  for (let l = 0; l < dims.layers; l++) {
    images.push(
      [...Array.from({ length: dims.heads }, (_, h) => h), 'mean' as const].map((h) =>
        matrixImage(attentionMatrix(data!.weights, dims, l, h), dims.T, colors.accentRgb),
      ),
    );
  }
}

function buildModelView(): void {
  $.model.replaceChildren();
  $.model.style.gridTemplateColumns = `auto repeat(${dims.heads + 1}, ${THUMB}px)`;
  $.model.append(el('span'));
  for (let h = 0; h <= dims.heads; h++)
    $.model.append(el('span', { class: 'col-head' }, h < dims.heads ? `head ${h}` : 'mean'));
  thumbs = [];
  for (let l = 0; l < dims.layers; l++) {
    $.model.append(el('span', { class: 'row-head' }, `layer ${l}`));
    const row: HTMLCanvasElement[] = [];
    for (let h = 0; h <= dims.heads; h++) {
      const hv: HeadChoice = h < dims.heads ? h : 'mean';
      const canvas = el('canvas', {
        class: 'thumb',
        tabindex: '0',
        role: 'button',
        'data-layer': String(l),
        'data-head': String(hv),
        'aria-label': `Layer ${l}, ${headName(hv)}`,
      });
      canvas.title = `Layer ${l}, ${headName(hv)}`;
      const pick = () => select(l, hv);
      canvas.addEventListener('click', pick);
      canvas.addEventListener('keydown', (e) => {
        if (e.key === 'Enter' || e.key === ' ') {
          e.preventDefault();
          pick();
        }
      });
      row.push(canvas);
      $.model.append(canvas);
    }
    thumbs.push(row);
  }
}

function drawModelView(): void {
  thumbs.forEach((row, l) =>
    row.forEach((c, h) => {
      drawThumb(c, images[l][h], dims.T, THUMB, colors, hovered);
      c.classList.toggle('selected', l === layer && h === headIndex(head));
    }),
  );
}

function drawHeadView(): void {
  if (!data) return;
  const maxSide = Math.max(200, Math.min(720, headView.clientWidth || 480));
  const L = heatmapLayout(dims.T, maxSide);
  drawHeatmap($.heatmap, images[layer][headIndex(head)], data.tokens.display, L, colors, hovered);
  $.heatmap.dataset.cell = String(L.cell);
  $.heatmap.dataset.margin = String(L.margin);
}

function tint(): number[] {
  if (!data) return [];
  const d = data.tokens.display;
  const row =
    hovered >= 0 ? attentionRow(data.weights, dims.layers, dims.heads, dims.T, layer, head, hovered) : undefined;
  chips.forEach((c, i) => {
    const w = row ? row[i] : 0;
    const a = weightToAlpha(w);
    c.style.background =
      a > 0 ? `color-mix(in srgb, var(--vscode-charts-blue, #3794ff) ${(a * 100).toFixed(1)}%, transparent)` : '';
    c.classList.toggle('query', i === hovered);
    c.classList.toggle('future', hovered >= 0 && i > hovered);
    c.setAttribute('aria-selected', String(i === hovered));
    if (row) c.dataset.weight = w.toFixed(4);
    else delete c.dataset.weight;
  });
  $.topList.replaceChildren();
  if (!row) {
    $.topTitle.textContent = 'Hover or focus a token to see what it attends to';
    return [];
  }
  $.topTitle.replaceChildren(el('span', { class: 'tok' }, d[hovered]), ' attends most to …');
  for (const a of topAttended(row, 5)) {
    const bar = el('span', { class: 'bar' });
    bar.style.width = `${(a.weight * 100).toFixed(1)}%`;
    const li = el(
      'li',
      { 'data-index': String(a.index) },
      el('span', { class: 'tok' }, d[a.index]),
      el('span', { class: 'pos' }, `#${a.index}`),
      el('span', { class: 'track' }, bar),
      el('span', { class: 'pct' }, pct(a.weight)),
    );
    li.addEventListener('mouseenter', () => chips[a.index]?.classList.add('peek'));
    li.addEventListener('mouseleave', () => chips[a.index]?.classList.remove('peek'));
    $.topList.append(li);
  }
  return highlightedKeys(row);
}

/** Redraws what depends on the hovered token, layer and head. */
function refresh(): void {
  if (!data) return;
  matrix = attentionMatrix(data.weights, dims, layer, head);
  $.layer.value = String(layer);
  $.head.value = String(head);
  $.headTitle.textContent = `Layer ${layer} · ${headName(head)}`;
  drawHeadView();
  drawModelView();
  expose(tint());
}

function setHover(i: number): void {
  if (i === hovered) return;
  hovered = i;
  refresh();
  announce();
}

function select(l: number, h: HeadChoice): void {
  layer = l;
  head = h;
  refresh();
  announce();
}

/** The source's labels when the host sends JSON like {"label": "a.ts:3–9", "shown": "a.ts:7–9", …}; else the text. */
function sourceLabel(s: string): { label: string; shown?: string; parsed: unknown } {
  try {
    const parsed: unknown = JSON.parse(s);
    const { label, shown } = (parsed ?? {}) as { label?: unknown; shown?: unknown };
    if (typeof label === 'string') return { label, shown: typeof shown === 'string' ? shown : undefined, parsed };
  } catch {
    // plain text
  }
  return { label: s, parsed: s };
}

function show(d: AttentionData, src: string): void {
  data = d;
  dims = { layers: d.layers, heads: d.heads, T: d.tokens.display.length };
  if (!(layer >= 0 && layer < dims.layers)) layer = 0;
  if (head !== 'mean' && !(head >= 0 && head < dims.heads)) head = 0;
  if (pinned >= dims.T) pinned = -1;
  hovered = pinned;
  const { label, shown, parsed } = sourceLabel(src);
  const heading = sourceHeading(
    { label, shown },
    { shown: dims.T, total: d.totalTokens, contextLength: d.contextLength },
  );
  $.source.textContent = heading.label;
  $.context.textContent = heading.note ?? '';
  $.context.hidden = !heading.note;
  source = parsed;
  $.error.hidden = true;
  $.empty.hidden = true;
  $.content.hidden = false;
  app.dataset.state = 'ready';
  $.layer.replaceChildren(...Array.from({ length: dims.layers }, (_, l) => el('option', { value: String(l) }, `${l}`)));
  $.head.replaceChildren(
    ...Array.from({ length: dims.heads }, (_, h) => el('option', { value: String(h) }, `${h}`)),
    el('option', { value: 'mean' }, 'mean of heads'),
  );
  chips = tokenStrip($.tokens, d.tokens.display);
  chips.forEach((c, i) => {
    c.addEventListener('mouseenter', () => setHover(i));
    c.addEventListener('focus', () => {
      pinned = i;
      focusChip(chips, i, false);
      setHover(i);
    });
  });
  if (pinned >= 0) focusChip(chips, pinned, false);
  buildImages();
  buildModelView();
  refresh();
  announce();
  requestAnimationFrame(() => post({ type: 'drawn' }));
}

// ---- events ----------------------------------------------------------------------------------------------
$.tokens.addEventListener('mouseleave', () => setHover(pinned));
$.tokens.addEventListener('keydown', (e) => {
  if (e.key !== 'Escape') return;
  pinned = -1;
  (document.activeElement as HTMLElement | null)?.blur();
  setHover(-1);
});
$.layer.addEventListener('change', () => select(Number($.layer.value), head));
$.head.addEventListener('change', () => select(layer, $.head.value === 'mean' ? 'mean' : Number($.head.value)));

function rowAt(e: MouseEvent): number {
  const r = $.heatmap.getBoundingClientRect();
  const cell = Number($.heatmap.dataset.cell);
  const m = Number($.heatmap.dataset.margin);
  const q = Math.floor((e.clientY - r.top - m) / cell);
  return e.clientX - r.left >= m && q >= 0 && q < dims.T ? q : -1;
}
$.heatmap.addEventListener('mousemove', (e) => {
  const q = rowAt(e);
  setHover(q >= 0 ? q : pinned);
});
$.heatmap.addEventListener('mouseleave', () => setHover(pinned));
$.heatmap.addEventListener('click', (e) => {
  const q = rowAt(e);
  if (q >= 0) chips[q]?.focus();
});

function exportView(format: 'svg' | 'png'): void {
  if (!data) return;
  const title = `Layer ${layer} · ${headName(head)}${$.source.textContent ? ` — ${$.source.textContent}` : ''}`;
  const svg = () =>
    svgExport({
      tokens: data!.tokens.display,
      matrix,
      title,
      color: colors.accent,
      background: colors.background,
      foreground: colors.foreground,
      hovered,
    });
  post({ type: 'export', format, data: format === 'svg' ? svg() : $.heatmap.toDataURL('image/png') });
}
$.exportSvg.addEventListener('click', () => exportView('svg'));
$.exportPng.addEventListener('click', () => exportView('png'));

onThemeChange(() => {
  colors = themeColors();
  buildImages();
  refresh();
});
new ResizeObserver(() => drawHeadView()).observe(headView);

window.addEventListener('message', (e: MessageEvent<InspectorInbound>) => {
  const m = e.data;
  switch (m.type) {
    case 'attention':
      show(m.data, m.source);
      break;
    case 'focus':
      if (!data || m.token < 0 || m.token >= dims.T) break;
      pinned = m.token;
      focusChip(chips, m.token, false);
      setHover(m.token);
      break;
    case 'error':
      $.error.textContent = m.message;
      $.error.hidden = false;
      if (!data) {
        $.empty.hidden = true;
        app.dataset.state = 'error';
      }
      break;
  }
});

expose([]);
app.dataset.state = 'empty';
post({ type: 'ready' });
