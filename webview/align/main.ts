/**
 * The alignment panel: a run's curves (reward, KL, accuracy, margin by step), the parent's and the aligned
 * version's completions of held-out prompts scored by a reward model with the win rate, and blind A/B judging.
 */
import {
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from 'chart.js';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import type { AlignInbound, AlignOutbound, AlignRun, Comparison } from '../../src/protocol/rank';
import { el } from '../shared/dom';
import { onThemeChange, themeColor, vscode } from '../shared/vscode';
import { blindItems, BlindItem, Pick, tally } from './blind';

Chart.register(LineController, LineElement, PointElement, LinearScale, CategoryScale, Legend, Tooltip);

const post = (m: AlignOutbound) => vscode.postMessage(m);
const BLIND_COUNT = 6;

const app = document.getElementById('app') ?? document.body.appendChild(el('main', { id: 'app' }));
const button = (id: string, label: string, secondary = false) =>
  el('vscode-button', secondary ? { id, secondary: '' } : { id }, label);
const $ = {
  run: el('select', { id: 'run', 'aria-label': 'Alignment run' }),
  reward: el('select', { id: 'reward', 'aria-label': 'Reward model that scores' }),
  compare: button('compare', 'Compare with parent'),
  blind: button('blind', 'Judge blind (A/B)', true),
  resume: button('resume', 'Resume', true),
  status: el('div', { id: 'status', class: 'status', role: 'status', 'aria-live': 'polite' }),
  error: el('div', { id: 'error', class: 'error', role: 'alert', hidden: '' }),
  empty: el(
    'p',
    { id: 'empty', class: 'explain' },
    'No alignment runs yet: rank some completions, then run "GPT Lab: Train Reward Model", "Align with DPO" or "Align with PPO".',
  ),
  curvesHead: el('h2', {}, 'Curves'),
  curvesExplain: el('p', { class: 'explain' }),
  chart: el('div', { class: 'chart small', id: 'curves' }, el('canvas')),
  figures: el('p', { id: 'figures', class: 'explain' }),
  comparison: el('section', { id: 'comparison' }),
  judge: el('section', { id: 'judge', hidden: '' }),
};
app.replaceChildren(
  el('header', {}, el('h1', {}, 'Alignment')),
  el(
    'p',
    { class: 'explain' },
    'Did alignment move the model toward what you preferred? The reward model scores both versions on prompts the run did not train on; judge a few blind yourself.',
  ),
  el(
    'div',
    { class: 'runs' },
    el('label', {}, 'Run ', $.run),
    el('label', {}, 'Scored by ', $.reward),
    $.compare,
    $.blind,
    $.resume,
  ),
  $.error,
  $.status,
  $.empty,
  $.curvesHead,
  $.curvesExplain,
  $.chart,
  $.figures,
  $.comparison,
  $.judge,
);

let runs: AlignRun[] = [];
let comparison: Comparison | undefined;
let chart: Chart<'line'> | undefined;

const SERIES: { key: keyof AlignRun['points'][number]; label: string; color: string; fallback: string }[] = [
  { key: 'reward', label: 'reward (higher is better)', color: 'charts-green', fallback: '#89d185' },
  { key: 'kl', label: 'KL to the parent', color: 'charts-orange', fallback: '#d18616' },
  { key: 'accuracy', label: 'accuracy (held out)', color: 'charts-blue', fallback: '#3794ff' },
  { key: 'margin', label: 'margin', color: 'charts-purple', fallback: '#b180d7' },
  { key: 'valLoss', label: 'held-out loss', color: 'charts-red', fallback: '#f14c4c' },
];

const EXPLAIN: Record<string, string> = {
  reward:
    'A reward model learns to score the completion you ranked higher above the other: accuracy is how often it agrees with you on held-out pairs.',
  dpo: 'DPO raises the chosen completions’ likelihood over the rejected ones, relative to the parent; accuracy is how often its implicit reward agrees with you.',
  ppo: 'PPO samples completions, the reward model scores them, and a KL penalty keeps the model near its parent: reward should rise while KL stays small.',
};

function selectedRun(): AlignRun | undefined {
  return runs.find((r) => r.version === $.run.value);
}

function drawCurves(): void {
  const run = selectedRun();
  const show = Boolean(run);
  // A reward model writes no completions of its own worth comparing: it is the judge.
  const judge = run?.stage === 'reward';
  $.compare.toggleAttribute('disabled', !run || judge);
  $.blind.toggleAttribute('disabled', !run || judge);
  $.compare.title = judge ? 'A reward model scores completions; compare a DPO or PPO version instead.' : '';
  // A stopped run can finish its budget from here.
  $.resume.hidden = !run?.stopped;
  $.resume.textContent = run?.stopped
    ? `Resume (stopped at step ${run.stopped.step}, ${Math.floor(run.stopped.fraction * 100)}%)`
    : 'Resume';
  for (const e of [$.curvesHead, $.curvesExplain, $.chart, $.figures]) e.hidden = !show;
  if (!run) return;
  $.curvesExplain.textContent = EXPLAIN[run.stage] ?? '';
  const fg = themeColor('foreground', '#cccccc');
  const grid = themeColor('editorWidget-border', 'rgba(128,128,128,0.3)');
  const datasets = SERIES.map((s) => ({
    label: s.label,
    data: run.points.filter((p) => p[s.key] !== undefined).map((p) => ({ x: p.step, y: p[s.key] as number })),
    borderColor: themeColor(s.color, s.fallback),
    backgroundColor: themeColor(s.color, s.fallback),
    pointRadius: 2,
    yAxisID: s.key === 'kl' || s.key === 'valLoss' ? 'y2' : 'y',
  })).filter((d) => d.data.length > 0);
  chart?.destroy();
  chart = new Chart($.chart.querySelector('canvas')!, {
    type: 'line',
    data: { datasets },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      parsing: false,
      scales: {
        x: {
          type: 'linear',
          title: { display: true, text: 'step', color: fg },
          ticks: { color: fg },
          grid: { color: grid },
        },
        y: { type: 'linear', position: 'left', ticks: { color: fg }, grid: { color: grid } },
        y2: { type: 'linear', position: 'right', ticks: { color: fg }, grid: { display: false } },
      },
      plugins: { legend: { labels: { color: fg } } },
    },
  });
  const m = run.metrics;
  const f = (x: number | undefined, d = 3) => (x === undefined ? '—' : x.toFixed(d));
  const pct = (x: number | undefined) => (x === undefined ? '—' : `${(x * 100).toFixed(0)}%`);
  $.figures.textContent =
    run.stage === 'ppo'
      ? `${run.version} (from ${run.parent ?? '?'}): held-out reward ${f(m.reward)}, KL ${f(m.kl)}`
      : run.stage === 'dpo'
        ? `${run.version} (from ${run.parent ?? '?'}): held-out accuracy ${pct(m.accuracy)}, margin ${f(m.margin)}, implicit rewards chosen ${f(m.rewardChosen)} / rejected ${f(m.rewardRejected)}`
        : `${run.version} (from ${run.parent ?? '?'}): held-out accuracy ${pct(m.accuracy)}, margin ${f(m.margin)}`;
}

function code(text: string): HTMLElement {
  return el('pre', { class: 'code' }, text === '' ? '(empty)' : text);
}

function drawComparison(): void {
  $.judge.hidden = true;
  $.comparison.hidden = false;
  const c = comparison;
  if (!c || c.version !== $.run.value) {
    $.comparison.replaceChildren();
    return;
  }
  const score = (x: number | undefined) => (x === undefined ? '' : x.toFixed(2));
  const head =
    c.winRate !== undefined
      ? el(
          'p',
          { id: 'win-rate' },
          el('span', { class: 'big' }, `Win rate ${(c.winRate * 100).toFixed(0)}%`),
          ` — ${c.version} beats ${c.parent} on ${(c.winRate * c.rows.length).toFixed(1).replace(/\.0$/, '')} of ${c.rows.length} prompts by ${c.reward}'s score (ties count half); mean score ${score(c.meanBefore)} → ${score(c.meanAfter)}.`,
        )
      : el(
          'p',
          { id: 'win-rate' },
          'No reward model scored these: train one ("GPT Lab: Train Reward Model"), or judge them blind.',
        );
  const table = el(
    'table',
    { class: 'compare', id: 'compare-table' },
    el(
      'thead',
      {},
      el(
        'tr',
        {},
        el('th', {}, 'Prompt (end)'),
        el('th', {}, `Before: ${c.parent}`),
        el('th', { class: 'score' }, 'score'),
        el('th', {}, `After: ${c.version}`),
        el('th', { class: 'score' }, 'score'),
      ),
    ),
    el(
      'tbody',
      {},
      ...c.rows.map((r) => {
        const after = r.afterScore !== undefined && r.beforeScore !== undefined && r.afterScore > r.beforeScore;
        const before = r.afterScore !== undefined && r.beforeScore !== undefined && r.afterScore < r.beforeScore;
        return el(
          'tr',
          {},
          el('td', {}, code(r.prompt.split('\n').slice(-3).join('\n'))),
          el('td', before ? { class: 'win' } : {}, code(r.before)),
          el('td', { class: 'score' }, score(r.beforeScore)),
          el('td', after ? { class: 'win' } : {}, code(r.after)),
          el('td', { class: 'score' }, score(r.afterScore)),
        );
      }),
    ),
  );
  $.comparison.replaceChildren(el('h2', {}, 'Before / after'), el('p', { class: 'explain' }, c.source), head, table);
}

// ---- blind A/B ------------------------------------------------------------------------------------------
let blind: { items: BlindItem[]; picks: Pick[]; version: string } | undefined;

function startBlind(): void {
  const c = comparison;
  if (!c || c.version !== $.run.value) {
    showError('Compare the run with its parent first: the blind judging uses the same completions.');
    return;
  }
  const items = blindItems(c.rows, BLIND_COUNT, Math.random);
  if (items.length === 0) {
    showError('Both versions wrote the same completions for every prompt: there is nothing to judge.');
    return;
  }
  blind = { items, picks: [], version: c.version };
  drawBlind();
}

function drawBlind(): void {
  const b = blind;
  if (!b) return;
  $.comparison.hidden = true;
  $.judge.hidden = false;
  const i = b.picks.length;
  if (i >= b.items.length) {
    const t = tally(b.items, b.picks);
    post({ type: 'judged', version: b.version, after: t.after, before: t.before, ties: t.ties });
    $.judge.replaceChildren(
      el('h2', {}, 'Your blind judgement'),
      el(
        'p',
        { id: 'human-win-rate' },
        el('span', { class: 'big' }, `Human win rate ${(t.winRate * 100).toFixed(0)}%`),
        ` — you preferred ${b.version} ${t.after} times, its parent ${t.before} times, ${t.ties} tie${t.ties === 1 ? '' : 's'}.`,
      ),
    );
    const back = button('back', 'Show the comparison', true);
    back.addEventListener('click', () => {
      blind = undefined;
      drawComparison();
    });
    $.judge.append(back);
    blind = undefined;
    return;
  }
  const it = b.items[i];
  const choice = (label: string, text: string, pick: Pick, key: string) => {
    const card = el('div', {
      class: 'card',
      tabindex: '0',
      role: 'button',
      'aria-label': `${label} is better (${key})`,
    });
    card.append(el('div', { class: 'card-head' }, el('span', { class: 'place' }, `${label} (${key})`)), code(text));
    card.onclick = () => choose(pick);
    return card;
  };
  const a = choice('A', it.a, 'a', '1');
  $.judge.replaceChildren(
    el('h2', {}, `Blind judging: ${i + 1} of ${b.items.length}`),
    el('p', { class: 'explain' }, 'Which continuation is better? The order is hidden. Keys: 1 = A, 2 = B, 0 = tie.'),
    code(it.prompt.split('\n').slice(-6).join('\n')),
    el('div', { class: 'ab' }, a, choice('B', it.b, 'b', '2')),
  );
  const tie = button('tie', 'Tie (0)', true);
  tie.addEventListener('click', () => choose('tie'));
  $.judge.append(el('div', { class: 'actions' }, tie));
  a.focus();
}

function choose(p: Pick): void {
  if (!blind) return;
  blind.picks.push(p);
  drawBlind();
}

document.addEventListener('keydown', (e) => {
  if (!blind || e.altKey || e.ctrlKey || e.metaKey) return;
  const p: Pick | undefined = e.key === '1' ? 'a' : e.key === '2' ? 'b' : e.key === '0' ? 'tie' : undefined;
  if (!p) return;
  e.preventDefault();
  choose(p);
});

// ---- wiring ---------------------------------------------------------------------------------------------
function showError(message: string | undefined): void {
  $.error.textContent = message ?? '';
  $.error.hidden = !message;
}

function fillSelect(s: HTMLSelectElement, options: { value: string; label: string }[], value?: string): void {
  s.replaceChildren(...options.map((o) => el('option', { value: o.value }, o.label)));
  if (value !== undefined && options.some((o) => o.value === value)) s.value = value;
}

$.run.addEventListener('change', () => {
  blind = undefined;
  drawCurves();
  drawComparison();
});
$.compare.addEventListener('click', () => {
  if (!$.run.value) return;
  showError(undefined);
  post({ type: 'compare', version: $.run.value, ...($.reward.value ? { reward: $.reward.value } : {}) });
});
$.resume.addEventListener('click', () => {
  if (!$.run.value) return;
  showError(undefined);
  post({ type: 'resume', version: $.run.value });
});
$.blind.addEventListener('click', () => {
  showError(undefined);
  startBlind();
});
onThemeChange(() => drawCurves());

window.addEventListener('message', (ev: MessageEvent<AlignInbound>) => {
  const m = ev.data;
  switch (m.type) {
    case 'runs': {
      runs = m.runs;
      $.empty.hidden = runs.length > 0;
      fillSelect(
        $.run,
        [...runs]
          .reverse()
          .map((r) => ({ value: r.version, label: `${r.version} (${r.stage} from ${r.parent ?? '?'})` })),
        m.selected,
      );
      const keep = $.reward.value;
      fillSelect(
        $.reward,
        [...m.rewards.map((r) => ({ value: r, label: r })), { value: '', label: 'none' }],
        keep || m.rewards[0],
      );
      drawCurves();
      drawComparison();
      break;
    }
    case 'busy':
      showError(undefined);
      $.status.textContent = m.message;
      break;
    case 'comparison':
      showError(undefined);
      comparison = m.comparison;
      $.status.textContent = '';
      if (m.comparison.version !== $.run.value) $.run.value = m.comparison.version;
      if (m.comparison.reward) $.reward.value = m.comparison.reward;
      drawCurves();
      drawComparison();
      break;
    case 'error':
      $.status.textContent = '';
      showError(m.message);
      break;
  }
});

post({ type: 'ready' });
