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
import { replicasText } from '../../src/protocol/lossPanel';
import type { LossPanelInbound, MetricPoint, PanelStatus } from '../../src/protocol/lossPanel';
import { onThemeChange, themeColor, vscode } from '../shared/vscode';

Chart.register(LineController, LineElement, PointElement, LinearScale, CategoryScale, Legend, Tooltip);

type XY = { x: number; y: number };
const series = {
  loss: [] as XY[],
  valLoss: [] as XY[],
  lr: [] as XY[],
  tokensPerSec: [] as XY[],
  tokenAccuracy: [] as XY[],
};

function colors() {
  return {
    fg: themeColor('foreground', '#cccccc'),
    grid: themeColor('editorWidget-border', 'rgba(128,128,128,0.3)'),
    train: themeColor('charts-blue', '#3794ff'),
    val: themeColor('charts-orange', '#d18616'),
    lr: themeColor('charts-purple', '#b180d7'),
    speed: themeColor('charts-green', '#89d185'),
    accuracy: themeColor('charts-red', '#f14c4c'),
  };
}

function axis(title: string, color: string, grid: string, position: 'left' | 'right' = 'left') {
  return {
    type: 'linear' as const,
    position,
    title: { display: true, text: title, color },
    ticks: { color },
    grid: { color: grid },
  };
}

function makeCharts() {
  const c = colors();
  const common = {
    animation: false as const,
    responsive: true,
    maintainAspectRatio: false,
    parsing: false as const,
    normalized: true,
  };
  const loss = new Chart(document.querySelector<HTMLCanvasElement>('#loss-chart canvas')!, {
    type: 'line',
    data: {
      datasets: [
        {
          label: 'training loss',
          data: series.loss,
          borderColor: c.train,
          backgroundColor: c.train,
          pointRadius: 0,
          borderWidth: 1.5,
        },
        {
          label: 'validation loss',
          data: series.valLoss,
          borderColor: c.val,
          backgroundColor: c.val,
          pointRadius: 3,
          borderWidth: 2,
        },
      ],
    },
    options: {
      ...common,
      scales: { x: axis('step', c.fg, c.grid), y: axis('loss (nats per token)', c.fg, c.grid) },
      plugins: { legend: { labels: { color: c.fg } } },
    },
  });
  const rate = new Chart(document.querySelector<HTMLCanvasElement>('#rate-chart canvas')!, {
    type: 'line',
    data: {
      datasets: [
        {
          label: 'learning rate',
          data: series.lr,
          borderColor: c.lr,
          backgroundColor: c.lr,
          pointRadius: 0,
          borderWidth: 1.5,
          yAxisID: 'y',
        },
        {
          label: 'tokens/s',
          data: series.tokensPerSec,
          borderColor: c.speed,
          backgroundColor: c.speed,
          pointRadius: 0,
          borderWidth: 1,
          yAxisID: 'y1',
        },
      ],
    },
    options: {
      ...common,
      scales: {
        x: axis('step', c.fg, c.grid),
        y: axis('learning rate', c.fg, c.grid),
        y1: { ...axis('tokens/s', c.fg, c.grid, 'right'), grid: { display: false } },
      },
      plugins: { legend: { labels: { color: c.fg } } },
    },
  });
  const accuracy = new Chart(document.querySelector<HTMLCanvasElement>('#accuracy-chart canvas')!, {
    type: 'line',
    data: {
      datasets: [
        {
          label: 'held-out token accuracy',
          data: series.tokenAccuracy,
          borderColor: c.accuracy,
          backgroundColor: c.accuracy,
          pointRadius: 3,
          borderWidth: 2,
        },
      ],
    },
    options: {
      ...common,
      scales: {
        x: axis('step', c.fg, c.grid),
        y: { ...axis('token accuracy (%)', c.fg, c.grid), min: 0, max: 100 },
      },
      plugins: { legend: { labels: { color: c.fg } } },
    },
  });
  return [loss, rate, accuracy];
}

let charts = makeCharts();
onThemeChange(() => {
  charts.forEach((ch) => ch.destroy());
  charts = makeCharts();
});

function add(p: MetricPoint): void {
  const push = (s: XY[], y: number | undefined) => {
    if (y === undefined) return;
    // A resumed run may repeat steps after its checkpoint: keep the newest value per step.
    while (s.length && s[s.length - 1].x >= p.step) s.pop();
    s.push({ x: p.step, y });
  };
  push(series.loss, p.loss);
  push(series.valLoss, p.valLoss);
  push(series.lr, p.lr);
  push(series.tokensPerSec, p.tokensPerSec);
  push(series.tokenAccuracy, p.tokenAccuracy !== undefined ? p.tokenAccuracy * 100 : undefined);
}

let redrawQueued = false;
function redraw(): void {
  const el = document.getElementById('loss-chart')!;
  el.dataset.trainPoints = String(series.loss.length);
  el.dataset.valPoints = String(series.valLoss.length);
  // Fine-tuning reports token accuracy; pre-training does not, and its chart stays hidden.
  document.getElementById('accuracy')!.hidden = series.tokenAccuracy.length === 0;
  document.getElementById('accuracy-chart')!.dataset.points = String(series.tokenAccuracy.length);
  if (redrawQueued) return;
  redrawQueued = true;
  requestAnimationFrame(() => {
    redrawQueued = false;
    charts.forEach((ch) => ch.update('none'));
  });
}

function showStatus(s: PanelStatus): void {
  document.getElementById('status')!.textContent = s.text;
  // Data parallelism, visible: "2 replicas · all-reduce 3.1 ms/step" while a run trains on several.
  const replicas = document.getElementById('replicas')!;
  const text = s.replicas && replicasText({ replicas: s.replicas.count, allReduceMs: s.replicas.allReduceMs });
  replicas.textContent = text ?? '';
  replicas.hidden = !text;
  replicas.dataset.count = String(s.replicas?.count ?? 1);
  document.body.dataset.state = s.state;
  const actions = document.getElementById('actions')!;
  actions.replaceChildren();
  const button = (label: string, command: string, secondary = false) => {
    const b = document.createElement('vscode-button');
    b.textContent = label;
    if (secondary) b.setAttribute('secondary', '');
    b.addEventListener('click', () => vscode.postMessage({ type: 'command', command }));
    actions.append(b);
  };
  if (s.state === 'training') button('Stop', 'stop', true);
  else {
    button('Train on Workspace', 'train', s.state === 'ready');
    if (s.state === 'ready') button('Resume', 'resume');
  }
}

/** A problem with the saved history (damaged lines, unreadable file), said above the chart. */
function showNotice(text: string | undefined): void {
  const el = document.getElementById('notice')!;
  el.textContent = text ?? '';
  el.hidden = !text;
}

window.addEventListener('message', (e: MessageEvent<LossPanelInbound>) => {
  const m = e.data;
  switch (m.type) {
    case 'history':
      for (const s of Object.values(series)) s.length = 0;
      m.points.forEach(add);
      showNotice(m.notice);
      showStatus(m.status);
      redraw();
      break;
    case 'point':
      add(m.point);
      redraw();
      break;
    case 'status':
      showStatus(m.status);
      break;
  }
});

// Data for tests and for anyone curious: the points drawn, as numbers.
(window as unknown as { gptLabLoss: typeof series }).gptLabLoss = series;
vscode.postMessage({ type: 'ready' });
