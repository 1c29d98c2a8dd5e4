/**
 * Generation stepper panel. The host sends {type:'step'} with the prompt's tokens and every next-token logit;
 * the bars are computed here from the logits with the current temperature, top-k and top-p, so the controls
 * reshape them live. Choosing a token asks the host for the next step.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import type { StepData, StepperInbound, StepperOutbound } from '../../src/protocol/inspect';
import { el, tokenStrip } from '../shared/dom';
import { pct } from '../shared/format';
import { vscode } from '../shared/vscode';
import { type Bar, bars, drawToken, shapedDistribution, type TokenProb } from './distribution';

const EXPLAIN =
  'The model gives every token a score; softmax turns scores into probabilities; temperature flattens or sharpens them.';

// ---- DOM -------------------------------------------------------------------------------------------------
const app = document.getElementById('app') ?? document.body.appendChild(el('main', { id: 'app' }));
app.classList.add('stepper');
const range = (id: string, min: number, max: number, step: number) =>
  el('input', { id, type: 'range', min: String(min), max: String(max), step: String(step) });
const button = (id: string, label: string, secondary = false) =>
  el('vscode-button', secondary ? { id, secondary: '' } : { id }, label);
const $ = {
  context: el('span', { id: 'context', class: 'source' }),
  error: el('div', { id: 'error', class: 'error', role: 'alert', hidden: '' }),
  empty: el('p', { id: 'empty', class: 'empty' }, 'Waiting for a prompt…'),
  content: el('section', { id: 'content', hidden: '' }),
  prompt: el('div', { id: 'prompt', class: 'strip', 'aria-label': 'Prompt tokens' }),
  temperature: range('temperature', 0, 2, 0.05),
  temperatureValue: el('output', { id: 'temperature-value', for: 'temperature' }),
  topK: el('input', { id: 'top-k', type: 'number', min: '0', step: '1' }),
  topP: range('top-p', 0.05, 1, 0.05),
  topPValue: el('output', { id: 'top-p-value', for: 'top-p' }),
  take: button('take', 'Take top token'),
  sample: button('sample', 'Sample'),
  undo: button('undo', 'Undo', true),
  reset: button('reset', 'Reset', true),
  bars: el('div', { id: 'bars', role: 'listbox', 'aria-label': 'Next-token probabilities' }),
  rest: el('p', { id: 'rest', class: 'explain' }),
  lens: el('div', { id: 'lens' }),
};
$.content.append(
  el('h2', {}, 'Prompt'),
  $.prompt,
  el(
    'div',
    { class: 'controls' },
    el('label', {}, 'Temperature ', $.temperature, $.temperatureValue),
    el('label', { title: 'Keep only the k most likely tokens (0 = off)' }, 'Top-k ', $.topK),
    el('label', { title: 'Keep the fewest tokens whose probabilities add up to p' }, 'Top-p ', $.topP, $.topPValue),
  ),
  el('div', { class: 'actions' }, $.take, $.sample, $.undo, $.reset),
  el('h2', {}, 'Next token'),
  el('p', { class: 'explain' }, 'Click a bar to append that token.'),
  el(
    'div',
    { class: 'bar-head', 'aria-hidden': 'true' },
    el('span', {}, 'token'),
    el('span', {}, 'probability'),
    el('span'),
    el('span', {}, 'score'),
  ),
  $.bars,
  $.rest,
  el('h2', {}, 'Logit lens'),
  el('p', { class: 'explain' }, 'What each layer would predict if the model stopped after it.'),
  $.lens,
);
app.replaceChildren(
  el('header', {}, el('h1', {}, 'Generation stepper'), $.context),
  el('p', { id: 'explain', class: 'explain' }, EXPLAIN),
  $.error,
  $.empty,
  $.content,
);

// ---- state -----------------------------------------------------------------------------------------------
interface Saved {
  temperature: number;
  topK: number;
  topP: number;
  /** The host restores the prompt from these after a window reload. */
  ids?: number[];
  promptLength?: number;
}
const saved: Saved = { temperature: 1, topK: 0, topP: 1, ...(vscode.getState() as Saved | undefined) };
let { temperature, topK, topP } = saved;
/** How many tokens at the end of the prompt were chosen in this panel. */
let appended = 0;
let data: StepData | undefined;
let busy = false;
let dist: TokenProb[] = [];
let shown: Bar[] = [];
let names = new Map<number, string>();

const exposed = {
  prompt: [] as string[],
  bars: [] as { display: string; prob: number }[],
  temperature,
  topK,
  topP,
  busy,
  appended,
};
(window as unknown as { gptLabStepper: typeof exposed }).gptLabStepper = exposed;

const post = (m: StepperOutbound) => vscode.postMessage(m);

function save(): void {
  const ids = data?.tokens.ids;
  vscode.setState({
    temperature,
    topK,
    topP,
    ids,
    promptLength: ids ? ids.length - appended : undefined,
  } satisfies Saved);
  Object.assign(exposed, {
    prompt: data?.tokens.display ?? [],
    bars: shown.map((b) => ({ display: b.display, prob: b.prob })),
    temperature,
    topK,
    topP,
    busy,
    appended,
  });
  app.dataset.busy = String(busy);
}

// ---- rendering -------------------------------------------------------------------------------------------
function setBusy(b: boolean): void {
  busy = b;
  for (const x of [$.take, $.sample, $.reset]) x.disabled = b || !data;
  $.undo.disabled = b || appended === 0;
  $.bars.classList.toggle('busy', b);
  $.bars.setAttribute('aria-busy', String(b));
  save();
}

function renderControls(): void {
  $.temperature.value = String(temperature);
  $.temperatureValue.textContent = temperature > 0 ? temperature.toFixed(2) : '0 (greedy)';
  $.topK.value = String(topK);
  $.topP.value = String(topP);
  $.topPValue.textContent = topP.toFixed(2);
}

function renderBars(): void {
  if (!data) return;
  dist = shapedDistribution(data.logits, { temperature, topK, topP });
  const r = bars(dist, data.logits, (t) => names.get(t) ?? `#${t}`);
  shown = r.bars;
  const rows = shown.map((b, i) => {
    const fill = el('span', { class: 'fill' });
    fill.style.width = `${(b.prob * 100).toFixed(2)}%`;
    const row = el(
      'div',
      {
        class: 'bar-row',
        role: 'option',
        tabindex: i === 0 ? '0' : '-1',
        'data-index': String(i),
        'data-token': String(b.token),
        'data-prob': b.prob.toFixed(6),
        title: `token ${b.token} · score (logit) ${b.logit.toFixed(2)} · ${pct(b.prob)}`,
      },
      el('span', { class: 'tok' }, b.display),
      el('span', { class: 'track' }, fill),
      el('span', { class: 'pct' }, pct(b.prob)),
      el('span', { class: 'logit' }, b.logit.toFixed(2)),
    );
    row.addEventListener('click', () => choose(b.token));
    return row;
  });
  $.bars.replaceChildren(...rows);
  $.rest.textContent = r.restCount > 0 ? `… and ${r.restCount} more tokens sharing ${pct(r.restProb)}` : '';
  save();
}

function renderLens(d: StepData): void {
  const last = d.lens.length - 1;
  $.lens.replaceChildren(
    ...d.lens.map((l, i) =>
      el(
        'div',
        { class: i === last ? 'lens-layer output' : 'lens-layer', 'data-layer': String(l.layer) },
        el('span', { class: 'name' }, i === last ? `layer ${l.layer} = output` : `layer ${l.layer}`),
        ...l.top
          .slice(0, 3)
          .map((t, j) =>
            el(
              'span',
              { class: j === 0 ? 'guess first' : 'guess' },
              el('span', { class: 'tok' }, t.display),
              ` ${pct(t.prob)}`,
            ),
          ),
      ),
    ),
  );
}

function show(d: StepData, promptLength: number): void {
  data = d;
  const T = d.tokens.display.length;
  appended = Math.max(0, Math.min(T, T - promptLength));
  names = new Map(d.candidates.map((c) => [c.token, c.display]));
  const chips = tokenStrip($.prompt, d.tokens.display);
  const cut = Math.max(0, T - d.contextLength);
  chips.forEach((c, i) => {
    c.classList.toggle('appended', i >= T - appended);
    c.classList.toggle('outside', i < cut);
  });
  $.context.textContent =
    cut > 0
      ? `The model sees only the last ${d.contextLength} tokens.`
      : `${T} of ${d.contextLength} context positions`;
  $.error.hidden = true;
  $.empty.hidden = true;
  $.content.hidden = false;
  app.dataset.state = 'ready';
  renderBars();
  renderLens(d);
  setBusy(false);
}

function choose(token: number): void {
  if (busy || !data) return;
  post({ type: 'choose', token });
  setBusy(true);
}

// ---- events ----------------------------------------------------------------------------------------------
$.temperature.addEventListener('input', () => {
  temperature = Number($.temperature.value);
  renderControls();
  renderBars();
});
$.topK.addEventListener('input', () => {
  const v = Math.floor(Number($.topK.value));
  topK = Number.isFinite(v) && v > 0 ? v : 0;
  renderBars();
});
$.topK.addEventListener('change', renderControls);
$.topP.addEventListener('input', () => {
  topP = Number($.topP.value);
  renderControls();
  renderBars();
});
$.take.addEventListener('click', () => dist.length && choose(dist[0].token));
$.sample.addEventListener('click', () => dist.length && choose(drawToken(dist, Math.random())));
$.undo.addEventListener('click', () => {
  if (busy || appended === 0) return;
  post({ type: 'undo' });
  setBusy(true);
});
$.reset.addEventListener('click', () => {
  if (busy) return;
  post({ type: 'reset' });
  setBusy(true);
});
$.bars.addEventListener('keydown', (e) => {
  const rows = [...$.bars.querySelectorAll<HTMLElement>('.bar-row')];
  const at = rows.indexOf(document.activeElement as HTMLElement);
  if (at < 0) return;
  if (e.key === 'Enter' || e.key === ' ') {
    e.preventDefault();
    choose(shown[at].token);
    return;
  }
  const to =
    e.key === 'ArrowDown'
      ? at + 1
      : e.key === 'ArrowUp'
        ? at - 1
        : e.key === 'Home'
          ? 0
          : e.key === 'End'
            ? rows.length - 1
            : -1;
  if (to < 0 || to >= rows.length) return;
  e.preventDefault();
  rows.forEach((r, i) => r.setAttribute('tabindex', i === to ? '0' : '-1'));
  rows[to].focus();
});

window.addEventListener('message', (e: MessageEvent<StepperInbound>) => {
  const m = e.data;
  switch (m.type) {
    case 'step':
      show(m.data, m.promptLength);
      break;
    case 'busy':
      setBusy(true);
      break;
    case 'error':
      $.error.textContent = m.message;
      $.error.hidden = false;
      if (!data) {
        $.empty.hidden = true;
        app.dataset.state = 'error';
      }
      setBusy(false);
      break;
  }
});

renderControls();
setBusy(false);
app.dataset.state = 'empty';
post({ type: 'ready' });
